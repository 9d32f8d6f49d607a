"""The supervisor's sequential operations, written as generators over asynchronous events.

A thespian actor must never block in a handler, yet OTP's supervisor rules are sequential:
"start each child, and wait until it is up before starting the next", "stop children in
reverse order, waiting up to each child's shutdown time". :class:`OpRunner` runs one
operation (a generator) at a time: the operation ``yield``\\ s a :class:`Wait` naming the child
and the event it needs, the actor's message handlers call :meth:`OpRunner.resume` when that
event arrives, and further operations queue up behind the current one.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Generator, Iterable

__all__ = ["Wait", "Op", "OpRunner", "NOTHING"]


class _Nothing:
    def __repr__(self) -> str:
        return "NOTHING"


NOTHING: Any = _Nothing()


@dataclass
class Wait:
    """What an operation waits for: ``kind`` ``"start"`` or ``"exit"`` of child ``child_id``.

    ``timeout`` in seconds (``None`` = forever); ``token`` identifies the wait so a stale
    timer cannot resume a later one.
    """

    kind: str
    child_id: str
    timeout: float | None
    token: int = 0


Op = Generator[Wait, Any, Any]


class OpRunner:
    """Runs queued operations one at a time.

    ``make_op(job)`` turns a queued job into a generator (or ``None`` to skip it);
    ``check(wait)`` returns the value that satisfies a wait immediately, or :data:`NOTHING`;
    ``arm_timer(seconds, token)`` schedules a timeout that must come back as
    :meth:`timeout` with the same token.
    """

    def __init__(
        self,
        make_op: Callable[[Any], Op | None],
        check: Callable[[Wait], Any],
        arm_timer: Callable[[float, int], None],
    ) -> None:
        self._make_op = make_op
        self._check = check
        self._arm_timer = arm_timer
        self._queue: deque[Any] = deque()
        self._op: Op | None = None
        self.wait: Wait | None = None
        self._value: Any = NOTHING
        self._running = False
        self._tokens = 0

    @property
    def busy(self) -> bool:
        return self._op is not None

    def enqueue(self, job: Any, front: bool = False) -> None:
        if front:
            self._queue.appendleft(job)
        else:
            self._queue.append(job)
        self._pump()

    def drain_queue(self) -> list[Any]:
        """Remove and return every queued (not yet started) job."""
        jobs = list(self._queue)
        self._queue.clear()
        return jobs

    def queued(self) -> Iterable[Any]:
        return tuple(self._queue)

    def resume(self, value: Any) -> None:
        """The current wait is satisfied with ``value``: continue the operation."""
        self.wait = None
        self._value = value
        self._pump()

    def timeout(self, token: int) -> None:
        """A timer armed for ``token`` fired; resumes the current wait with ``("timeout",)``."""
        if self.wait is not None and self.wait.token == token:
            self.resume(("timeout",))

    def _pump(self) -> None:
        if self._running:
            return
        self._running = True
        try:
            while True:
                if self._op is None:
                    if not self._queue:
                        return
                    self._op = self._make_op(self._queue.popleft())
                    if self._op is None:
                        continue
                    value = None
                elif self.wait is None and self._value is not NOTHING:
                    value, self._value = self._value, NOTHING
                else:
                    return  # waiting for an event
                try:
                    wait = self._op.send(value)
                except StopIteration:
                    self._op = None
                    self.wait = None
                    continue
                self._tokens += 1
                wait.token = self._tokens
                now = self._check(wait)
                if now is not NOTHING:
                    self.wait = None
                    self._value = now
                else:
                    self.wait = wait
                    if wait.timeout is not None:
                        self._arm_timer(wait.timeout, wait.token)
        finally:
            self._running = False
