"""Ctrl-C and SIGTERM in the command line: one line saying how to continue, exit code 130.

:func:`install` (called by :func:`runic.cli.app.main`, in the main thread, where Python runs
signal handlers) replaces Python's SIGINT handler with :func:`_on_signal`, which records that
the signal arrived and raises :class:`KeyboardInterrupt` as the default handler would. The
record lets the command line tell a user's Ctrl-C (exit 130, "continue with: runic resume
...") from a :class:`KeyboardInterrupt` that a workflow module raised itself while being
imported (bad input, exit 2): see :func:`by_signal`. Commands that run workflows also route
SIGTERM here while their Runner is up (:func:`deferred` and ``runic.cli.execution``).

:func:`deferred` holds both signals back while a Runner shuts down: a second Ctrl-C in that
fraction of a second would otherwise abandon the shutdown half-way and leave processes for the
watchdog to collect. The signal is still recorded, so the command ends with exit 130 once the
shutdown is done.

:func:`postponed` covers the start-up of an actor system and its Runner (well under a second):
a Ctrl-C there is acted on as soon as both are up, so that they exist to be shut down, instead
of leaving half-started processes behind. A second Ctrl-C during the start-up interrupts at
once (the user insists; the actor system's watchdog collects what was started).

A :class:`KeyboardInterrupt` can land where Python cannot raise it (a weakref callback of the
import machinery, a ``__del__``): Python then prints "Exception ignored in ..." and carries
on as if nothing happened. :func:`install` silences that report for interrupts, and
:func:`check` (called where a command starts a Runner and while it follows a workflow) raises
the interrupt that was swallowed, so a Ctrl-C is never lost.
"""

from __future__ import annotations

import contextlib
import signal
import sys
from types import FrameType
from typing import Any, Iterator

__all__ = ["install", "by_signal", "check", "deferred", "postponed", "on_signal", "interrupt_message"]

_received: list[int] = []
_mode: str | None = None  # None: interrupt; "defer": record only; "postpone": interrupt at the end of the block
_postponed = 0


def on_signal(signum: int, frame: FrameType | None) -> None:
    """The handler of SIGINT (and, during a Runner session, SIGTERM): record, then interrupt
    (now, at the end of a :func:`postponed` block, or not at all within :func:`deferred`)."""
    global _postponed
    _received.append(signum)
    if _mode == "defer":
        return
    if _mode == "postpone":
        _postponed += 1
        if _postponed < 2:
            return
    raise KeyboardInterrupt(signal.Signals(signum).name)


def _unraisable(hook: Any) -> Any:
    def quiet(args: Any) -> None:
        if isinstance(args.exc_value, KeyboardInterrupt) and by_signal():
            return  # check() raises it where it can be acted on
        hook(args)

    return quiet


def install() -> None:
    """Handle SIGINT with :func:`on_signal` (a no-op outside the main thread) and keep
    swallowed interrupts quiet (see the module docs)."""
    _received.clear()
    with contextlib.suppress(ValueError):  # not the main thread: leave Python's handler
        signal.signal(signal.SIGINT, on_signal)
        sys.unraisablehook = _unraisable(sys.unraisablehook)


def check() -> None:
    """Raise :class:`KeyboardInterrupt` if a signal arrived whose interrupt was swallowed (any
    interrupt that propagated would have ended the command before this point)."""
    if _received and _mode is None:
        raise KeyboardInterrupt(signal.Signals(_received[-1]).name)


def by_signal() -> bool:
    """Whether a SIGINT/SIGTERM reached this process (as opposed to code raising KeyboardInterrupt)."""
    return bool(_received)


@contextlib.contextmanager
def _in_mode(mode: str) -> Iterator[None]:
    global _mode
    previous = _mode
    _mode = mode
    try:
        yield
    finally:
        _mode = previous


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Within the block, SIGINT and SIGTERM are recorded but do not interrupt (see the module docs)."""
    with _in_mode("defer"):
        yield


@contextlib.contextmanager
def postponed() -> Iterator[None]:
    """A first SIGINT/SIGTERM within the block interrupts when the block ends (if it ends
    normally); a second one interrupts at once (see the module docs)."""
    global _postponed
    _postponed = 0
    with _in_mode("postpone"):
        yield
    if _postponed:
        _postponed = 0
        raise KeyboardInterrupt("interrupted during start-up")


def interrupt_message(workflow_id: object, status: str | None, resume: str) -> str:
    """The line printed when a command that runs ``workflow_id`` is interrupted.

    ``status`` is the workflow's status in the store once the Runner is down (``None``: it was
    never saved); ``resume`` is the command that continues it, with the flags it needs."""
    if status is None:
        return f"interrupted before workflow {workflow_id!r} was saved; nothing was started"
    return f"interrupted; workflow {workflow_id!r} is saved as {status}; continue with: {resume}"
