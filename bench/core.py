#!/usr/bin/env python3
"""Benchmark of the workflow core (in memory, no store, no actors).

Runs each scenario several times and prints the median cost per step (or per input) and the
growth factor between sizes, next to Runic's published figures:

* linear pipelines of 5, 20, 100, 1,000 and 10,000 steps (target <= 5 us/step here; Runic's
  published figure is ~11.6 us/step for 100 steps);
* 50 branches under one input, 25 rules, a 2-parent join, an accumulator fed 10 and 1,000
  inputs (Runic's grows super-linearly: 118x the time for 50x the inputs), and a map-reduce
  over 10,000 items;
* replaying a 10,000-event log with ``Workflow.from_events`` (target <= 50 ms), with msgpack
  decoding reported separately.

Usage: ``python bench/core.py [--repeats N]``
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import runic  # noqa: E402
from runic import codec  # noqa: E402

RUNIC_LINEAR_100_US = 11.6  # Runic's README benchmark: 100-step pipeline, per step
RUNIC_ACC_GROWTH = 118.0  # Runic: accumulator, 1,000 vs 20 inputs (50x the inputs)


def inc(x):
    return x + 1


def total(x, acc):
    return x + acc


def positive(x):
    return x > 0


def linear(n):
    wf = runic.Workflow("linear")
    prev = None
    for i in range(n):
        name = f"s{i}"
        wf.add(runic.step(inc, name=name), to=prev)
        prev = name
    return wf


def branching(n):
    wf = runic.Workflow("branching")
    for i in range(n):
        wf.add(runic.step(inc, name=f"b{i}"))
    return wf


def rules(n):
    wf = runic.Workflow("rules")
    for i in range(n):
        wf.add(runic.rule(positive, inc, name=f"r{i}"))
    return wf


def join():
    wf = runic.Workflow("join")
    wf.add(runic.step(inc, name="a")).add(runic.step(inc, name="b"))
    wf.add(runic.step(lambda a, b: a + b, name="j"), to=["a", "b"])
    return wf


def map_reduce():
    wf = runic.Workflow("map_reduce")
    wf.add(runic.map(inc, name="m"))
    wf.add(runic.reduce(0, total, name="r"), to="m")
    return wf


def timed(fn, repeats):
    samples = []
    for _ in range(repeats):
        gc.collect()
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def run_scenario(build, value, repeats, inputs=1):
    """Median seconds for building fresh and running to completion (run time only)."""
    def once():
        wf = build()
        t0 = time.perf_counter()
        for _ in range(inputs):
            wf.react_until_satisfied(value)
        once.elapsed = time.perf_counter() - t0  # type: ignore[attr-defined]
        once.wf = wf  # type: ignore[attr-defined]

    samples = []
    for _ in range(repeats):
        gc.collect()
        once()
        samples.append(once.elapsed)  # type: ignore[attr-defined]
    return statistics.median(samples), once.wf  # type: ignore[attr-defined]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    r = args.repeats
    print(f"runic core benchmark (Python {sys.version.split()[0]}, median of {r} runs)\n")
    print(f"{'scenario':<34}{'steps':>8}{'total ms':>11}{'us/step':>10}  {'growth (time/size)':<18}")

    prev = None
    linear_100 = None
    for n in (5, 20, 100, 1_000, 10_000):
        secs, wf = run_scenario(lambda n=n: linear(n), 0, r if n < 10_000 else max(3, r // 2))
        assert wf.results([f"s{n - 1}"])[f"s{n - 1}"] == n
        per = secs / n * 1e6
        growth = f"{secs / prev[0]:.1f}x/{n // prev[1]}x" if prev else ""
        print(f"{'linear pipeline':<34}{n:>8}{secs * 1e3:>11.2f}{per:>10.2f}  {growth:<18}")
        prev = (secs, n)
        if n == 100:
            linear_100 = per

    secs, wf = run_scenario(lambda: branching(50), 0, r)
    print(f"{'branching (50 children)':<34}{50:>8}{secs * 1e3:>11.2f}{secs / 50 * 1e6:>10.2f}")
    secs, wf = run_scenario(lambda: rules(25), 1, r)
    assert len(wf.raw_productions()) == 25
    print(f"{'rules (25, all fire)':<34}{50:>8}{secs * 1e3:>11.2f}{secs / 50 * 1e6:>10.2f}")
    secs, wf = run_scenario(join, 1, r)
    print(f"{'join (2 parents)':<34}{4:>8}{secs * 1e3:>11.3f}{secs / 4 * 1e6:>10.2f}")

    acc_times = {}
    for n in (10, 1_000):
        acc = runic.accumulator(0, total, name="acc")
        secs, wf = run_scenario(lambda: runic.Workflow("acc").add(acc), 1, r, inputs=n)
        assert wf.results(["acc"])["acc"] == n
        acc_times[n] = secs
        growth = f"{secs / acc_times[10]:.1f}x/100x" if n == 1_000 else ""
        print(f"{'accumulator, inputs':<34}{n:>8}{secs * 1e3:>11.2f}{secs / n * 1e6:>10.2f}  {growth:<18}")

    items = list(range(10_000))
    secs, wf = run_scenario(map_reduce, items, max(3, r // 2))
    assert wf.results(["r"])["r"] == sum(items) + len(items)
    print(f"{'map-reduce (10,000 items)':<34}{20_001:>8}{secs * 1e3:>11.2f}{secs / 20_001 * 1e6:>10.2f}")

    # replay: a 10,000-event stream
    wf = linear(3_400).enable_event_emission()
    wf.react_until_satisfied(0)
    stream = wf.build_log() + wf.drain_events()
    runtime = [e for e in stream if type(e).__name__ not in ("ComponentAdded", "WorkflowDefined")][:10_000]
    base = linear(3_400)
    blob = [codec.dumps(e) for e in runtime]
    decode = timed(lambda: [codec.loads(b) for b in blob], r)
    replay = timed(lambda: runic.Workflow.from_events(runtime, base=base), r)
    full = timed(lambda: runic.Workflow.from_events(stream), max(3, r // 2))
    print(f"\nreplay of {len(runtime):,} runtime events onto a built workflow: {replay * 1e3:.1f} ms "
          f"(target <= 50 ms); msgpack decode of them: {decode * 1e3:.1f} ms")
    print(f"full rebuild from {len(stream):,} events incl. {len(stream) - len(runtime):,} build events: "
          f"{full * 1e3:.1f} ms")

    print("\nagainst Runic's published figures:")
    print(f"  linear 100 steps: {linear_100:.2f} us/step vs Runic ~{RUNIC_LINEAR_100_US} us/step "
          f"-> {RUNIC_LINEAR_100_US / linear_100:.1f}x faster (target <= 5 us/step)")
    growth = acc_times[1_000] / acc_times[10]
    print(f"  accumulator 10 -> 1,000 inputs (100x): {growth:.0f}x the time (linear = 100x); "
          f"Runic: {RUNIC_ACC_GROWTH:.0f}x the time for 50x the inputs")


if __name__ == "__main__":
    main()
