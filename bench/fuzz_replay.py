#!/usr/bin/env python3
"""Fuzz ``Workflow.from_events`` with damaged logs and count what happens.

Takes the valid logs of ``tests/core/damage.py`` (streams and snapshots of workflows with joins,
map/reduce, accumulators, a state machine, rules, retried and failed steps), damages each copy
1-3 times (events dropped, repeated, reordered, cut off, replaced by foreign values, fields set
to values of the wrong type, top-level or nested) and replays it, in both fact modes. Prints how
many replayed, how many raised each runic error, and every other exception (there should be
none: damaged logs must give runic errors). Exits 1 if any other exception was seen.

Usage: ``python bench/fuzz_replay.py [--logs N] [--seed S]``
"""

from __future__ import annotations

import argparse
import collections
import logging
import random
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.core.damage import mutate, replay_outcome, sample_logs  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--logs", type=int, default=5000, help="damaged logs to replay (default 5000)")
    ap.add_argument("--seed", type=int, default=2024)
    a = ap.parse_args()
    logging.basicConfig(level=logging.CRITICAL)  # runic's warnings about failed steps and changed code
    rng = random.Random(a.seed)
    logs = sample_logs()
    outcomes: collections.Counter[str] = collections.Counter()
    kinds: collections.Counter[str] = collections.Counter()
    raw: list[str] = []
    t0 = time.perf_counter()
    for n in range(a.logs):
        name, events = logs[n % len(logs)]
        damaged, what = mutate(events, rng)
        kinds.update(w.split("@")[0] for w in what)
        mode = "ref" if n % 2 else "full"
        try:
            outcomes[replay_outcome(damaged, fact_mode=mode)] += 1
        except Exception as exc:  # noqa: BLE001 - what we are looking for
            outcomes[f"RAW {type(exc).__name__}"] += 1
            if len(raw) < 5:
                raw.append(f"{name} {what} ({mode}):\n" + "".join(traceback.format_exception(exc)))
    secs = time.perf_counter() - t0
    print(f"replayed {a.logs:,} damaged logs ({len(logs)} valid logs, seed {a.seed}) in {secs:.1f} s")
    print("mutations applied: " + ", ".join(f"{k} {v:,}" for k, v in sorted(kinds.items())))
    for outcome, count in outcomes.most_common():
        print(f"  {outcome:<28} {count:>7,}")
    for text in raw:
        print("\n" + text)
    return 1 if any(k.startswith("RAW") for k in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
