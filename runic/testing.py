"""pytest fixtures for testing your own runic workflows: ``runic_actor_system`` and ``runic_runner``.

Enable the plugin with ``pytest -p runic.testing`` or ``pytest_plugins = ["runic.testing"]`` in
a ``conftest.py``; an installed runic also registers it with pytest (entry point ``pytest11``),
so the fixtures are usually available without either.

**Why a fresh actor system per test.** A Runner's processes (store, runner, worker hosts) are
forked, through thespian's admin, from the process that *started the actor system* — once,
when the system starts. Whatever that process held at that moment (module attributes,
``monkeypatch``-ed functions, environment variables) is what every worker host sees, for the
life of the system. The process-wide :func:`runic.actors.default_system` starts on first use,
so with it every later test would see the first test's patches. These fixtures give each test
its own system, **started only when the test first needs one** (the first
``Runner.start_link``, ``default_system()`` or use of the fixture) — after the test body has set
its environment and patches — and shut down after the test, checking by pid that none of its
processes is left (leftovers are killed and fail the test).

* ``runic_actor_system`` — a :class:`LazyActorSystem`. While the test runs it is also what
  :func:`runic.actors.default_system` returns, so code that starts Runners or supervisors
  without ``system=`` uses it. ``runic_actor_system.handle`` is the
  :class:`~runic.actors.ActorSystemHandle` (starting it if needed); other attributes are the
  handle's (``.admin_port``, ``.pids()``...).
* ``runic_runner`` — a :class:`LazyRunner`: a :class:`~runic.runner.Runner` named ``"test"``
  on a fresh ``MnesiaStore`` in the test's ``tmp_path`` (``<tmp_path>/runic-data``) with one
  worker host, started on first use (``runic_runner.start_workflow(...)``) on the test's actor
  system, shut down after the test. Options are ``Runner.start_link`` keyword arguments, from
  ``@pytest.mark.runic_runner(**options)`` on the test, else from a ``runic_runner_options``
  fixture you override (return a dict); ``store_opts`` are merged into the default ones.

The fixtures run on the test's main thread; the actor system's processes and their relay
thread (logs and output of the worker hosts, re-emitted in the test process, so ``caplog`` and
``capsys`` see them) are described in ``docs/supervision.md``.
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import pytest

if TYPE_CHECKING:  # imported lazily: loading the plugin must stay cheap for every pytest run
    from .actors import ActorSystemHandle
    from .runner import Runner

__all__ = ["LazyActorSystem", "LazyRunner", "LEFTOVER_GRACE_SECONDS", "DEFAULT_RUNNER_OPTIONS",
           "shutdown_and_check"]

LEFTOVER_GRACE_SECONDS = 3.0
DEFAULT_RUNNER_OPTIONS: dict[str, Any] = {"name": "test", "pool_size": 1, "timeout": 60.0}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "runic_runner(**options): Runner.start_link keyword arguments for the runic_runner "
        "fixture (store_opts are merged into the default ones)",
    )


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    setattr(item, f"_runic_rep_{report.when}", report)


class LazyActorSystem:
    """The test's actor system, started the first time something needs it."""

    def __init__(self) -> None:
        self._handle: ActorSystemHandle | None = None

    @property
    def started(self) -> bool:
        """Whether the system has been started (by the test, or by code it ran)."""
        from .actors import system as _system

        current = _system._default
        return self._handle is not None or (current is not None and current is not self._previous)

    _previous: Any = None

    @property
    def handle(self) -> "ActorSystemHandle":
        """The :class:`~runic.actors.ActorSystemHandle`, started now if it was not yet."""
        from .actors import default_system

        self._handle = default_system()
        return self._handle

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.handle, name)

    def __repr__(self) -> str:
        return f"<LazyActorSystem {'started' if self.started else 'not started'}>"


class LazyRunner:
    """A Runner on a fresh store, started on first attribute access (see the module docs)."""

    def __init__(self, options: dict[str, Any], data_dir: Path, system: LazyActorSystem) -> None:
        self._options = options
        self._data_dir = data_dir
        self._system = system
        self._runner: Runner | None = None

    @property
    def started(self) -> bool:
        return self._runner is not None

    @property
    def runner(self) -> "Runner":
        """The :class:`~runic.runner.Runner`, started now if it was not yet."""
        if self._runner is None:
            from .runner import Runner
            from .store import MnesiaStore

            opts = dict(self._options)
            store_opts = {"dir": str(self._data_dir)}
            store_opts.update(opts.pop("store_opts", None) or {})
            opts.setdefault("store", MnesiaStore)
            opts.setdefault("system", self._system.handle)
            self._runner = Runner.start_link(store_opts=store_opts, **opts)
        return self._runner

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.runner, name)

    def __enter__(self) -> "Runner":
        return self.runner

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            runner.shutdown()

    def __repr__(self) -> str:
        return f"<LazyRunner {self._options.get('name')!r} {'started' if self.started else 'not started'}>"


@pytest.fixture
def runic_actor_system(request: pytest.FixtureRequest) -> Iterator[LazyActorSystem]:
    """A fresh actor system for this test, started on first use; no process of it may outlive it."""
    from .actors import system as _system

    lazy = LazyActorSystem()
    previous = _system.set_default_system(None)  # the test's first default_system() starts one
    lazy._previous = previous
    try:
        yield lazy
    finally:
        current = _system.set_default_system(previous)
        handle = current if current is not None and current is not previous else lazy._handle
        if handle is not None and not handle.closed:
            _print_logs_if_failed(request, handle)
            shutdown_and_check(handle)


def shutdown_and_check(handle: "ActorSystemHandle") -> None:
    """Shut ``handle``'s system down; fail the test if any of its processes outlived that.

    Survivors (killed by the shutdown, or still alive :data:`LEFTOVER_GRACE_SECONDS` after it)
    are killed by pid and named in the failure.
    """
    from .actors import procs

    killed = handle.shutdown()
    left = procs.wait_gone(handle.pids(), LEFTOVER_GRACE_SECONDS)
    if left:
        procs.kill_pids(left, signal.SIGKILL)
    if killed or left:
        pytest.fail(
            f"processes of the test's actor system (port {handle.admin_port}) outlived "
            f"its shutdown and were killed by pid: {sorted(set(killed) | set(left))}",
            pytrace=False,
        )


@pytest.fixture
def runic_runner_options() -> dict[str, Any]:
    """Override in your conftest or module to change the ``runic_runner`` options (a dict)."""
    return {}


@pytest.fixture
def runic_runner(
    runic_actor_system: LazyActorSystem,
    runic_runner_options: dict[str, Any],
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> Iterator[LazyRunner]:
    """A Runner on a fresh MnesiaStore in ``tmp_path``, started on first use, stopped after the test."""
    options = dict(DEFAULT_RUNNER_OPTIONS)
    options.update(runic_runner_options or {})
    marker = request.node.get_closest_marker("runic_runner")
    if marker is not None:
        if marker.args:
            raise pytest.UsageError("@pytest.mark.runic_runner takes keyword arguments only")
        options.update(marker.kwargs)
    lazy = LazyRunner(options, tmp_path / "runic-data", runic_actor_system)
    try:
        yield lazy
    finally:
        lazy.close()


def _print_logs_if_failed(request: pytest.FixtureRequest, handle: "ActorSystemHandle") -> None:
    rep = getattr(request.node, "_runic_rep_call", None)
    if rep is not None and getattr(rep, "failed", False):
        text = handle.log_text()
        if text:
            print(f"\n=== actor system log (port {handle.admin_port}) ===\n{text}")
