"""What ``bench/runner.py`` and ``bench/_runner_peers.py`` share: the step function (module-level
and importable, so the worker hosts can restore it by name when a workflow is rebuilt from its
events), how many timed runs a size gets, and the plain-Python baseline subtracted from every
wall. Standard library only: the peers' interpreter imports it too."""

from __future__ import annotations

import statistics
import time


def inc(x: int) -> int:
    return x + 1


def runs_for(n: int, repeats: int) -> int:
    """Timed runs for a pipeline of ``n`` steps: 3x more below 1,000 steps, where a short run's
    wall varies most (one slow commit or scheduling hiccup is a larger share of it)."""
    return repeats if n >= 1_000 else 3 * repeats


def plain_loop_s(n: int, repeats: int = 7) -> float:
    """Median wall of the same ``n``-step loop in plain Python (no runtime, no store)."""
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        x = 0
        for _ in range(n):
            x = inc(x)
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def stat_sleep(x: int) -> int:
    """A step that waits on the kernel: one ``os.stat`` and one ``time.sleep(0)`` (a timed wait:
    what Linux's default 50 µs timer slack delays), then ``x + 1``."""
    import os

    os.stat("/")
    time.sleep(0)
    return x + 1


def median_time(fn, n: int, warmup: int) -> float:  # type: ignore[no-untyped-def]
    """Median wall seconds of ``n`` calls of ``fn`` after ``min(warmup, n)`` untimed ones."""
    for _ in range(min(warmup, n)):
        fn()
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)
