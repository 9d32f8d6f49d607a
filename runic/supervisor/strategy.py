"""Restart decisions, as pure functions (no processes, no clocks).

OTP's rules:

* ``should_restart``: a ``permanent`` child is always restarted, a ``transient`` one only after
  an abnormal exit (any reason other than ``normal`` or ``shutdown``), a ``temporary`` one
  never (and its spec is dropped when it exits).
* ``plan_restart``: which children a strategy stops (in reverse start order) and starts again
  (in start order) when one child must be restarted:

  - ``one_for_one``: only that child;
  - ``one_for_all``: every child;
  - ``rest_for_one``: that child and every child started after it.

  Siblings that the strategy stops are restarted whatever their restart type, except
  ``temporary`` siblings, which are stopped and dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

from ..errors import ArgumentError

__all__ = [
    "STRATEGIES",
    "NORMAL_REASONS",
    "is_normal_exit",
    "should_restart",
    "RestartPlan",
    "plan_restart",
    "check_strategy",
]

STRATEGIES = ("one_for_one", "one_for_all", "rest_for_one")
NORMAL_REASONS = ("normal", "shutdown")


def check_strategy(strategy: str) -> str:
    """Return ``strategy`` if it is known, else raise ``ValueError`` naming the choices."""
    if strategy not in STRATEGIES:
        raise ArgumentError(f"unknown supervisor strategy {strategy!r}; use one of {', '.join(STRATEGIES)}")
    return strategy


def is_normal_exit(reason: str | None) -> bool:
    """True for the reasons OTP treats as a normal exit (``normal``, ``shutdown``, ``shutdown:*``)."""
    return reason is not None and (reason in NORMAL_REASONS or reason.startswith("shutdown:"))


def should_restart(restart: str, reason: str | None) -> bool:
    """Whether a child of restart type ``restart`` that exited with ``reason`` is restarted."""
    if restart == "permanent":
        return True
    if restart == "transient":
        return not is_normal_exit(reason)
    if restart == "temporary":
        return False
    raise ArgumentError(f"unknown restart type {restart!r}; use permanent, transient or temporary")


@dataclass(frozen=True)
class RestartPlan:
    """Children to stop (reverse start order), to drop (temporary siblings), to start (in order)."""

    stop: tuple[str, ...]
    drop: tuple[str, ...]
    start: tuple[str, ...]


def plan_restart(
    strategy: str,
    order: Sequence[str],
    failed: str,
    running: Iterable[str],
    temporary: Iterable[str] = (),
) -> RestartPlan:
    """What ``strategy`` does when child ``failed`` (already dead) must be restarted.

    ``order`` is the children's start order, ``running`` the ids still running (``failed``
    excluded or not: it is never stopped), ``temporary`` the ids with restart type temporary.
    """
    check_strategy(strategy)
    if failed not in order:
        raise ArgumentError(f"child {failed!r} is not among the supervisor's children {list(order)!r}")
    running_set = set(running) - {failed}
    temp = set(temporary)
    if strategy == "one_for_one":
        scope: list[str] = [failed]
    elif strategy == "one_for_all":
        scope = list(order)
    else:  # rest_for_one
        scope = list(order[order.index(failed):])
    stop = tuple(c for c in reversed(scope) if c in running_set)
    drop = tuple(c for c in scope if c in temp and c != failed)
    start = tuple(c for c in scope if c not in temp or c == failed)
    return RestartPlan(stop=stop, drop=drop, start=start)
