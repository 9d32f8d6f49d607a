"""Ctrl-C, held back across the few lines where it would leave processes nobody knows about.

Python turns SIGINT into ``KeyboardInterrupt`` in the main thread, between any two bytecodes.
Raised while thespian forks the admin, or before the new system's handle is registered for
shutdown, it used to leave the admin and logger running for good. :func:`deferred_interrupt`
swaps the SIGINT handler for one that only records the signal, and on exit restores the
original handler and, if a SIGINT arrived meanwhile, calls it: the ``KeyboardInterrupt`` is
raised right there, once the state it would have corrupted is consistent.

Only the main thread can change signal handlers; in any other thread the context manager does
nothing (the ``KeyboardInterrupt`` is raised in the main thread, not in the caller's code).
SIGTERM and SIGKILL are not deferred: they end the driver at once, and the system's guardian
(``runic.actors.guardian``) removes what it had started.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from types import FrameType
from typing import Any, Iterator

__all__ = ["deferred_interrupt", "held_sigint_handler"]

_held: list[Any] = []  # the handler in force before the innermost deferral (for forked children)


def held_sigint_handler() -> Any:
    """The SIGINT handler a deferral replaced (``None`` outside any): what a child restores."""
    return _held[-1] if _held else None


@contextmanager
def deferred_interrupt() -> Iterator[None]:
    """Hold SIGINT back for the body; re-deliver it (``KeyboardInterrupt``) when the body ends."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    original = signal.getsignal(signal.SIGINT)
    if not callable(original):  # SIG_IGN, SIG_DFL or not set from Python: nothing to hold
        yield
        return
    received: list[tuple[int, FrameType | None]] = []

    def hold(signum: int, frame: FrameType | None) -> None:
        received.append((signum, frame))

    signal.signal(signal.SIGINT, hold)
    _held.append(original)
    try:
        yield
    finally:
        _held.pop()
        signal.signal(signal.SIGINT, original)
        if received:
            original(*received[0])
