"""Polling helpers for the supervisor tests (deadlines, never fixed sleeps in assertions)."""

from __future__ import annotations

import time
from typing import Any, Callable

from runic.actors import procs
from runic.supervisor import ChildInfo, Supervisor

from .actors import Ping, Pong

DEADLINE = 15.0


def wait_until(pred: Callable[[], Any], timeout: float = DEADLINE, interval: float = 0.01, what: str = "") -> Any:
    """Poll ``pred`` until it returns something truthy; fail with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or pred}")
        time.sleep(interval)


def children(sup: Supervisor) -> dict[str, ChildInfo]:
    return {c.id: c for c in sup.which_children()}


def pids_by_id(sup: Supervisor) -> dict[str, int | None]:
    return {c.id: c.pid for c in sup.which_children()}


def running_pids(sup: Supervisor) -> dict[str, int]:
    """Wait until every child is running; return their pids."""

    def ok() -> dict[str, int] | None:
        kids = sup.which_children()
        if all(c.status == "running" and c.pid for c in kids):
            return {c.id: c.pid for c in kids}  # type: ignore[misc]
        return None

    return wait_until(ok, what="every child running")


def wait_restarted(sup: Supervisor, child_id: str, old_pid: int) -> ChildInfo:
    def ok() -> ChildInfo | None:
        c = children(sup).get(child_id)
        return c if c is not None and c.status == "running" and c.pid and c.pid != old_pid else None

    return wait_until(ok, what=f"child {child_id!r} restarted (old pid {old_pid})")


def ping(system: Any, address: Any, timeout: float = 5.0) -> Pong:
    reply = system.ask(address, Ping("p"), timeout)
    assert isinstance(reply, Pong), f"expected a Pong, got {reply!r}"
    return reply


def all_gone(pids: list[int], timeout: float = DEADLINE) -> None:
    left = procs.wait_gone(pids, timeout)
    assert not left, f"processes still alive: {left}"


def read_journal(path: str) -> list[str]:
    try:
        with open(path) as fh:
            return [line.strip() for line in fh if line.strip()]
    except FileNotFoundError:
        return []
