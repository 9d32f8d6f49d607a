"""Polling for a condition in tests (a bound on how long to wait, never a timing assertion)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def wait_for(predicate: Callable[[], Any], timeout: float = 60.0, poll: float = 0.02) -> Any:
    """Poll ``predicate`` until it returns something truthy, and return that; fail the test
    with :class:`AssertionError` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError(f"condition not met within {timeout} s")
