#!/usr/bin/env python3
"""Benchmark of the workflow core (in memory, no store, no actors).

First the hot-path targets, each printed next to its floor or reference measured in the same
run (medians of interleaved rounds):

* a core step of a linear pipeline at 100 and 2,000 steps (target <= 3.0 us/step, the same at
  both sizes), by ``react_until_satisfied`` (the FIFO fast path), by the three-phase
  generations (the fast path switched off) and by the floor: a bare loop doing the same
  dictionary updates with the same content hash (BLAKE2b; xxh3-64 too when the ``xxhash``
  package is installed, which runic does not use yet);
* a pipeline nested 2,000 levels deep ``(s0, [(s1, [...])])``: built and run;
* a map over 10,000 items against 100 items, per item, driven like a Worker drives a
  workflow (``prepare_for_dispatch(limit=2)`` then ``apply_runnable``, in-process): the ratio
  (target <= 1.5x);
* the content hash of a fact: BLAKE2b-64 against xxh3-64 (when ``xxhash`` is installed).

Then each scenario several times, the median cost per step (or per input) and the growth
factor between sizes, next to Runic's published figures:

* linear pipelines of 5, 20, 100, 1,000 and 10,000 steps (target <= 5 us/step here; Runic's
  published figure is ~11.6 us/step for 100 steps);
* 50 branches under one input, 25 rules, a 2-parent join, an accumulator fed 10 and 1,000
  inputs (Runic's grows super-linearly: 118x the time for 50x the inputs), and a map-reduce
  over 10,000 items;
* replaying a 10,000-event log with ``Workflow.from_events`` (target <= 50 ms), with msgpack
  decoding reported separately.

Usage: ``python bench/core.py [--repeats N] [--targets-only]``
"""

from __future__ import annotations

import argparse
import functools
import gc
import statistics
import struct
import sys
import time
from hashlib import blake2b
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


def nested(n):
    """``(s0, [(s1, [(s2, [...])])])``, ``n`` levels deep."""
    tree = (runic.step(inc, name=f"s{n - 1}"), [])
    for i in range(n - 2, -1, -1):
        tree = (runic.step(inc, name=f"s{i}"), [tree])
    return runic.workflow("nested", steps=[tree])


def fast_path(enabled):
    """Switch the FIFO fast path of ``react_until_satisfied`` (absent before it existed)."""
    evaluation = sys.modules.get("runic.evaluation")  # imported by runic itself when it exists
    if evaluation is not None and hasattr(evaluation, "FIFO_FAST_PATH"):
        evaluation.FIFO_FAST_PATH = enabled
        return True
    return False


_pack_pair = struct.Struct(">QQ").pack


def blake(data):
    return int.from_bytes(blake2b(data, digest_size=8).digest(), "big")


def floor_linear(n, hash_fn):
    """The least work a linear core step needs: call the function, hash the new fact, and the
    dictionary updates the core does per step (fact vertex, depth, scope, production order,
    produced edge both ways, runnable -> ran, the next activation and the pending index)."""
    from runic.hashing import canonical_bytes

    vertices, depth, scope, prod = {}, {}, {}, {}
    produced_out, produced_in, ran_out, ran_in, runnable_out, runnable_in, pending = {}, {}, {}, {}, {}, {}, {}
    nodes = list(range(1, n + 1))
    value = 0
    fh = blake(canonical_bytes(value) + b"\xc0")
    vertices[fh] = value
    depth[fh] = 0
    scope[fh] = fh
    seq = 0
    t0 = time.perf_counter()
    for i, node in enumerate(nodes):
        value = inc(value)
        h = hash_fn(canonical_bytes(value) + _pack_pair(node, fh))
        d = depth[fh] + 1
        vertices[h] = value
        depth[h] = d
        scope[h] = scope.get(fh, h)
        seq += 1
        prod[h] = seq
        produced_out.setdefault(node, {})[h] = d
        produced_in.setdefault(h, {})[node] = d
        w = runnable_out.get(fh, {}).pop(node, d)
        runnable_in.get(node, {}).pop(fh, None)
        pending.pop((fh, node), None)
        ran_out.setdefault(fh, {})[node] = w
        ran_in.setdefault(node, {})[fh] = w
        if i + 1 < n:
            nxt = nodes[i + 1]
            runnable_out.setdefault(h, {})[nxt] = d + 1
            runnable_in.setdefault(nxt, {})[h] = d + 1
            pending[(h, nxt)] = "runnable"
        fh = h
    return time.perf_counter() - t0


def worker_like_map(n, limit=2):
    """Seconds to run a map over ``n`` items driven like a Worker: prepare at most ``limit``
    runnables (the free slots), execute them, apply them, repeat."""
    wf = runic.Workflow("map")
    wf.add(runic.map(inc, name="m"))
    wf.add(runic.reduce(0, total, name="r"), to="m")
    items = list(range(n))
    t0 = time.perf_counter()
    wf.plan_eagerly(items)
    while wf.is_runnable():
        _, runnables = wf.prepare_for_dispatch(limit=limit)
        for r in runnables:
            r.execute()
            wf.apply_runnable(r)
    secs = time.perf_counter() - t0
    assert wf.results(["r"])["r"] == sum(items) + n
    return secs


def interleaved(fns, rounds):
    """``{name: median seconds}`` of ``fns`` run in alternating order, ``rounds`` times."""
    samples = {name: [] for name in fns}
    for i in range(rounds):
        order = list(fns.items()) if i % 2 == 0 else list(reversed(fns.items()))
        for name, fn in order:
            gc.collect()
            samples[name].append(fn())
    return {name: statistics.median(v) for name, v in samples.items()}


def run_linear(n, fast):
    wf = linear(n)
    had = fast_path(fast)
    t0 = time.perf_counter()
    wf.react_until_satisfied(0)
    secs = time.perf_counter() - t0
    fast_path(True)
    assert wf.results([f"s{n - 1}"])[f"s{n - 1}"] == n
    return secs if (had or fast) else float("nan")


def targets(rounds):
    print("targets of the core hot path (medians of interleaved rounds; floors measured in this run)\n")
    try:
        import xxhash
    except ImportError:
        xxhash = None
    for n in (100, 2_000):
        fns = {
            "fast": lambda n=n: run_linear(n, True),
            "three-phase": lambda n=n: run_linear(n, False),
            "floor blake2b": lambda n=n: floor_linear(n, blake),
        }
        if xxhash is not None:
            fns["floor xxh3"] = lambda n=n: floor_linear(n, xxhash.xxh3_64_intdigest)
        med = interleaved(fns, rounds if n <= 100 else max(3, rounds // 2))
        per = {k: v / n * 1e6 for k, v in med.items()}
        extra = f", floor with xxh3-64 {per['floor xxh3']:.2f}" if "floor xxh3" in per else ""
        print(f"  core step, linear {n:>5,} steps: {per['fast']:.2f} us/step (target <= 3.0); "
              f"three-phase {per['three-phase']:.2f}; floor (bare dict loop, BLAKE2b) "
              f"{per['floor blake2b']:.2f}{extra}")

    t0 = time.perf_counter()
    try:
        wf = nested(2_000)
        built = time.perf_counter() - t0
        wf.react_until_satisfied(0)
        ran = time.perf_counter() - t0 - built
        ok = wf.results(["s1999"])["s1999"] == 2_000
        print(f"  pipeline nested 2,000 deep: built in {built * 1e3:.0f} ms, ran in {ran * 1e3:.0f} ms, "
              f"result {'correct' if ok else 'WRONG'}")
    except RecursionError:
        print("  pipeline nested 2,000 deep: RecursionError")

    med = interleaved({"100": lambda: worker_like_map(100), "10000": lambda: worker_like_map(10_000)},
                      max(3, rounds // 2))
    small, big = med["100"] / 100 * 1e6, med["10000"] / 10_000 * 1e6
    print(f"  map, Worker-like dispatch: {small:.2f} us/item at 100 items, {big:.2f} us/item at 10,000 "
          f"-> ratio {big / small:.2f}x (target <= 1.5x)")

    from runic.hashing import canonical_bytes

    data = canonical_bytes({"order": 7, "lines": [1, 2, 3], "total": 12.5}) + _pack_pair(1 << 60, 1 << 59)
    reps = 200_000

    def hash_loop(fn):
        t = time.perf_counter()
        for _ in range(reps):
            fn(data)
        return time.perf_counter() - t

    hashers = {"blake2b": lambda: hash_loop(blake)}
    if xxhash is not None:
        hashers["xxh3"] = lambda: hash_loop(xxhash.xxh3_64_intdigest)
    med = interleaved(hashers, max(3, rounds // 2))
    b = med["blake2b"] / reps * 1e6
    if "xxh3" in med:
        x = med["xxh3"] / reps * 1e6
        print(f"  content hash of a fact ({len(data)} bytes): BLAKE2b-64 {b:.3f} us, xxh3-64 {x:.3f} us "
              f"-> {b - x:.3f} us saved per fact (the Runner hashes with xxh3-64, hash version 2; a Workflow used in memory, as here, keeps BLAKE2b, version 1)")
    else:
        print(f"  content hash of a fact ({len(data)} bytes): BLAKE2b-64 {b:.3f} us (xxhash not installed)")
    print()


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
    ap.add_argument("--targets-only", action="store_true", help="print the target rows only")
    args = ap.parse_args()
    r = args.repeats
    print(f"runic core benchmark (Python {sys.version.split()[0]}, median of {r} runs)\n")
    targets(max(r, 5))
    if args.targets_only:
        return
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

    # building from partials of one function (their call shape cached under the function),
    # against the same built from a subclass of partial, whose objects are each inspected once:
    # one signature per step (the reference, in the same run)
    class OwnPartial(functools.partial):  # type: ignore[type-arg]
        pass

    def partials(n, make):
        wf, prev = runic.Workflow("partials"), None
        for i in range(n):
            wf.add(runic.step(make(total, i), name=f"p{i}"), to=prev)
            prev = f"p{i}"
        return wf

    per_partial = timed(lambda: partials(10_000, OwnPartial), max(3, r // 2))
    shared = timed(lambda: partials(10_000, functools.partial), max(3, r // 2))
    print(f"building 10,000 steps from partials of one function: {shared * 1e3:.0f} ms "
          f"(one signature per partial: {per_partial * 1e3:.0f} ms; ratio {shared / per_partial:.2f})")

    print("\nagainst Runic's published figures:")
    print(f"  linear 100 steps: {linear_100:.2f} us/step vs Runic ~{RUNIC_LINEAR_100_US} us/step "
          f"-> {RUNIC_LINEAR_100_US / linear_100:.1f}x faster (target <= 5 us/step)")
    growth = acc_times[1_000] / acc_times[10]
    print(f"  accumulator 10 -> 1,000 inputs (100x): {growth:.0f}x the time (linear = 100x); "
          f"Runic: {RUNIC_ACC_GROWTH:.0f}x the time for 50x the inputs")


if __name__ == "__main__":
    main()
