"""Restart intensity: at most ``max_restarts`` restarts within any ``max_seconds`` window.

As in OTP: every restart is recorded with its time; restarts older than the window are
forgotten; if the restarts still in the window exceed ``max_restarts``, the supervisor gives
up: it stops all its children and exits abnormally, escalating to its own supervisor.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Callable

from ..errors import ArgumentError

__all__ = ["RestartIntensity"]


class RestartIntensity:
    """A sliding window of restart times. ``clock`` defaults to ``time.monotonic``."""

    def __init__(
        self, max_restarts: int, max_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if isinstance(max_restarts, bool) or not isinstance(max_restarts, int) or max_restarts < 0:
            raise ArgumentError(f"max_restarts must be an int >= 0, got {max_restarts!r}")
        if isinstance(max_seconds, bool) or not isinstance(max_seconds, (int, float)) or max_seconds <= 0:
            raise ArgumentError(f"max_seconds must be a number > 0, got {max_seconds!r}")
        self.max_restarts = max_restarts
        self.max_seconds = float(max_seconds)
        self._clock = clock
        self._times: deque[float] = deque()

    def _expire(self, now: float) -> None:
        while self._times and now - self._times[0] >= self.max_seconds:
            self._times.popleft()

    def add(self, now: float | None = None) -> bool:
        """Record one restart; True if still within the limit, False if the limit is exceeded."""
        now = self._clock() if now is None else now
        self._times.append(now)
        self._expire(now)
        return len(self._times) <= self.max_restarts

    def count(self, now: float | None = None) -> int:
        """Restarts currently inside the window."""
        now = self._clock() if now is None else now
        self._expire(now)
        return len(self._times)
