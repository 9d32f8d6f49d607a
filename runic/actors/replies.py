"""Replies to the driver's requests, matched by ``ref`` whichever thread receives them.

thespian's external API has one inbox per process (per :class:`~runic.actors.ActorSystemHandle`):
``listen()`` returns the next message that reached this process, whoever it is for. Several
requests may be in flight at once (a long ``await_idle`` that probes, several threads using one
Runner, a supervisor started while a Runner waits), so whoever listens keeps the replies that are
not its own here, and each waiter takes its own by ``ref`` (:func:`request`, :func:`receive_any`).

**Thread territory:** every function here holds the handle's ``lock`` while it sends or listens
(thespian's external API is not thread-safe); the stash itself is only touched under that lock.
Refs whose wait was abandoned (:meth:`ReplyStash.forget`) are dropped when their reply arrives;
entries are bounded in number and age, so a reply nobody waits for cannot grow memory for ever.
"""

from __future__ import annotations

import time
import weakref
from typing import Any, Callable, Iterable

__all__ = ["ReplyStash", "stash_of", "send", "receive_any", "request"]


class ReplyStash:
    """Replies that reached this process for a request other than the one being waited for."""

    MAX = 10000
    MAX_AGE_S = 600.0

    def __init__(self) -> None:
        self.replies: dict[Any, tuple[float, Any]] = {}
        self.abandoned: dict[Any, float] = {}

    def put(self, reply: Any) -> None:
        ref = getattr(reply, "ref", None)
        now = time.monotonic()
        if ref is None or self.abandoned.pop(ref, None) is not None:
            return
        if len(self.replies) >= self.MAX:
            self._expire(now)
        self.replies[ref] = (now, reply)

    def take(self, ref: Any) -> Any:
        entry = self.replies.pop(ref, None)
        return None if entry is None else entry[1]

    def forget(self, ref: Any) -> None:
        """The wait for ``ref`` was abandoned: drop its reply now or when it arrives."""
        if self.replies.pop(ref, None) is None:
            now = time.monotonic()
            if len(self.abandoned) >= self.MAX:
                self._expire(now)
            self.abandoned[ref] = now

    def _expire(self, now: float) -> None:
        for d in (self.replies, self.abandoned):
            for k in [k for k, v in d.items() if now - (v[0] if isinstance(v, tuple) else v) > self.MAX_AGE_S]:
                del d[k]
            while len(d) >= self.MAX:
                d.pop(next(iter(d)))


_stashes: "weakref.WeakKeyDictionary[Any, ReplyStash]" = weakref.WeakKeyDictionary()


def stash_of(system: Any) -> ReplyStash:
    """The stash of an actor system handle (one per handle)."""
    stash = _stashes.get(system)
    if stash is None:
        stash = _stashes[system] = ReplyStash()
    return stash


def send(system: Any, address: Any, msg: Any) -> None:
    """Tell ``address`` ``msg`` (its reply is taken later by :func:`receive_any`)."""
    with system.lock:
        system.tell(address, msg)


def receive_any(system: Any, refs: Iterable[Any], timeout: float) -> Any:
    """The first reply to any of ``refs``, or ``None`` after ``timeout`` seconds."""
    refs = tuple(refs)
    deadline = time.monotonic() + timeout
    stash = stash_of(system)
    with system.lock:
        while True:
            for ref in refs:
                reply = stash.take(ref)
                if reply is not None:
                    return reply
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            got = system.listen(min(left, 3600.0))
            if got is not None:
                stash.put(got)


def request(system: Any, address: Any, msg: Any, timeout: float, *,
            alive: Callable[[], bool] | None = None, check_every: float = 1.0) -> Any:
    """Send ``msg`` and return the reply whose ``ref`` matches ``msg.ref`` (None on timeout).

    With ``alive``, the wait is cut into slices of ``check_every`` seconds and ends early
    (``None``) once ``alive()`` is false."""
    ref = getattr(msg, "ref", None)
    if ref is None:  # a request without a ref cannot be matched: the next message is its reply
        with system.lock:
            return system.ask(address, msg, timeout)
    send(system, address, msg)
    deadline = time.monotonic() + timeout
    reply = None
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        reply = receive_any(system, (ref,), left if alive is None else min(left, check_every))
        if reply is not None or (alive is not None and not alive()):
            break
    if reply is None:
        stash_of(system).forget(ref)
    return reply
