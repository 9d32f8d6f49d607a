#!/usr/bin/env python3
"""Cost of ``async def`` steps against plain ones, in-process.

A linear pipeline of N steps runs with plain functions, then with ``async def`` functions
(each awaited on the calling thread's reused event loop), then once more from inside a running
event loop (each coroutine handed to runic's helper thread). Prints the median cost per step and
the overhead per async step; ``asyncio.run`` per call is shown for comparison.

Usage: ``python bench/async_steps.py [--steps N] [--repeats R]``
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import runic  # noqa: E402


def inc(x):
    return x + 1


async def ainc(x):
    return x + 1


def pipeline(fn, n):
    wf = runic.Workflow("p")
    prev = None
    for i in range(n):
        wf.add(runic.step(fn, name=f"s{i}"), to=prev)
        prev = f"s{i}"
    return wf


def per_step_us(fn, n, repeats, inside_loop=False):
    base = pipeline(fn, n)
    times = []
    for _ in range(repeats):
        wf = base.copy()
        t = time.perf_counter()
        if inside_loop:
            async def main():
                wf.react_until_satisfied(0)
            asyncio.run(main())
        else:
            wf.react_until_satisfied(0)
        times.append(time.perf_counter() - t)
        assert wf.results([f"s{n - 1}"]) == {f"s{n - 1}": n}
    return statistics.median(times) / n * 1e6


def asyncio_run_us(repeats):
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(200):
            asyncio.run(ainc(1))
        times.append((time.perf_counter() - t) / 200)
    return statistics.median(times) * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=500)
    ap.add_argument("--repeats", type=int, default=9)
    a = ap.parse_args()
    plain = per_step_us(inc, a.steps, a.repeats)
    awaited = per_step_us(ainc, a.steps, a.repeats)
    helper = per_step_us(ainc, a.steps, a.repeats, inside_loop=True)
    print(f"async def steps, linear pipeline of {a.steps} (median of {a.repeats} runs)")
    print(f"  plain def step:                         {plain:8.2f} us/step")
    print(f"  async def step, thread's own loop:      {awaited:8.2f} us/step  (+{awaited - plain:.2f} us)")
    print(f"  async def step, called in a running loop: {helper:6.2f} us/step  (+{helper - plain:.2f} us, helper thread)")
    print(f"  for comparison, asyncio.run per call:   {asyncio_run_us(a.repeats):8.2f} us")


if __name__ == "__main__":
    main()
