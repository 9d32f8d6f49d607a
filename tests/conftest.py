"""Shared fixtures. ``actor_system``: one real ``multiprocTCPBase`` actor system per test.

The fixture starts a new system (loopback, its own admin port and scratch directory) for the
test, shuts it down afterwards and then checks, by pid, that no process of that system is
left (every process of a system shares the admin's session id, orphans included). Leftovers
are killed by pid and fail the test. When a test fails, the system's log files are printed.
"""

from __future__ import annotations

import os
import signal

import pytest

from runic.actors import ActorSystemHandle, procs, set_default_system, start_system

LEFTOVER_GRACE_SECONDS = 3.0


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture
def actor_system(request: pytest.FixtureRequest) -> ActorSystemHandle:
    """A fresh actor system for this test; fails the test if any of its processes outlive it.

    While the test runs it is also :func:`runic.actors.default_system`.
    """
    handle = start_system()
    previous = set_default_system(handle)  # code that starts trees without system= uses it too
    try:
        yield handle
    finally:
        set_default_system(previous)
        rep = getattr(request.node, "rep_call", None)
        if rep is not None and rep.failed:
            text = handle.log_text()
            if text:
                print(f"\n=== actor system log (port {handle.admin_port}) ===\n{text}")
        killed = handle.shutdown()
        left = procs.wait_gone(handle.pids(), LEFTOVER_GRACE_SECONDS)
        if left:
            procs.kill_pids(left, signal.SIGKILL)
        if killed or left:
            pytest.fail(
                f"processes of the test's actor system (session {handle.session}) outlived its "
                f"shutdown and were killed by pid: {sorted(set(killed) | set(left))}",
                pytrace=False,
            )


@pytest.fixture
def kill_on_exit():
    """Collects pids a test started outside any actor system; kills survivors at teardown."""
    pids: list[int] = []
    yield pids
    procs.kill_pids([p for p in pids if p != os.getpid()], signal.SIGKILL)
