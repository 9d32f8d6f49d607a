"""Several runic nodes on one PostgreSQL database: takeover times, false takeovers, throughput.

    sudo .venv/bin/python bench/cluster.py [--leases 1,2,5] [--trials 3] [--busy-seconds 60]
                                          [--burst-workflows 20] [--burst-steps 50] [--only kill,cut,busy,steps]

Runs the cluster of the tests (``tests/cluster/harness.py``: each node in a network namespace of
its own with its own host name, PostgreSQL in another namespace; needs root, iproute2 and the
PostgreSQL 15 server binaries) and prints, in one run:

1. **Takeover after a kill**, per lease: node A owns 6 running workflows (pipelines of 0.05 s
   steps) and every process of it is SIGKILLed; measured from the kill, by the database's clock:
   *detection* — the first takeover transaction that claims one of A's workflows (the audit
   trigger on ownership changes); *first write* — the first event a new owner appends to one of
   them; *all resumed* — the last of the six claimed.
2. **Takeover after a cut**, per lease: A's link is taken down while it runs; the same times, and
   A's *self-fence* — when its worker hosts' lease gate closed (their log), all from the cut.
   The link is healed after 2 x lease + 1 s; A then learns it was declared dead.
3. **False takeovers on a busy machine**, per lease: three nodes run workflows for
   ``--busy-seconds`` while 4 processes spin on the 2 cores; a node declared dead while it was
   alive is a false takeover (counted from the nodes' generations).
4. **Durable steps per second** with 1, 2 and 3 nodes on the one database: each node starts
   ``--burst-workflows`` pipelines of ``--burst-steps`` trivial steps (every step durable:
   ``every_cycle`` checkpoints, ``durability="local"``) at the same moment; aggregate steps over
   the wall time from the first start to the last settle.

Figures are medians (min–max) over the trials. Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import multiprocessing
import re
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.cluster import netns  # noqa: E402
from tests.cluster.harness import TestCluster  # noqa: E402
from tests.store import pg  # noqa: E402


def fmt(values: list[float]) -> str:
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{statistics.median(values):.2f} ({min(values):.2f}–{max(values):.2f})"


def takeover_times(c: TestCluster, wids: list[str], t0_ms: int) -> tuple[float, float, float]:
    """(detection, first write, all resumed) in seconds after ``t0_ms``, for A's workflows."""
    claims, writes = [], []
    for w in wids:
        owners = c.ownerships(w)
        first_epoch = owners[0][0]
        moved = [t for e, n, t in owners if e != first_epoch and n != "A"]
        claims.append(min(moved))
        audit = c.audit(w)
        new = [t for _s, e, t in audit if e != audit[0][1]]
        if new:
            writes.append(min(new))
    return ((min(claims) - t0_ms) / 1000, (min(writes) - t0_ms) / 1000 if writes else float("nan"),
            (max(claims) - t0_ms) / 1000)


def self_fence_time(c: TestCluster, since: float) -> float | None:
    """When A's hosts logged their gate closing (seconds after ``since``, wall clock)."""
    text = c.nodes["A"].stderr_path.read_text(errors="replace")
    times = [float(m.group(1)) for m in re.finditer(r"^(\d+\.\d+) ERROR:runic.runner:host \S+: self-fenced", text, re.M)]
    times = [t for t in times if t >= since]
    return min(times) - since if times else None


def trial(c: TestCluster, mode: str, n: int) -> dict[str, Any]:
    a = c.start_node("A")
    wids = [f"{mode}{n}-{i}" for i in range(6)]
    a.call("start", wids=wids, steps=400, delay=0.05)
    while not all(any(r["wid"] == w and r["phase"] == "end" for r in c.journal_records()) for w in wids):
        time.sleep(0.05)
    time.sleep(c.lease)  # a steady state: several renewals since the start
    if mode == "kill":
        t0 = c.clock_ms()
        c.kill("A")
    else:
        since = time.time()
        t0 = c.clock_ms()
        c.net.cut("A")
    b = c.nodes["B"]
    deadline = time.monotonic() + 20 * c.lease + 30
    while time.monotonic() < deadline:
        with c.store() as store:
            if all(getattr(store.owner(w), "node", "A") != "A" for w in wids):
                break
        time.sleep(0.05)
    out: dict[str, Any] = dict(zip(("detect", "write", "all"), takeover_times(c, wids, t0)))
    if mode == "cut":
        out["fence"] = self_fence_time(c, since)
        remaining = 2 * c.lease + 1 - (time.time() - since)
        if remaining > 0:
            time.sleep(remaining)
        c.net.heal("A")
        try:
            a.call("held", timeout=60)
        finally:
            a.quit(timeout=60)
    for w in wids:  # stop them (their pipelines are long): the next trial starts afresh
        try:
            b.call("cancel", wid=w, timeout=60)
        except Exception as exc:  # noqa: BLE001 - a benchmark goes on
            print(f"  (cancel {w}: {exc})")
    return out


def takeovers(leases: list[float], trials: int, modes: list[str]) -> None:
    print("\n## Takeover times (s, from the kill or the cut; database clock; median (min–max))")
    print("| lease | kill: detection | kill: first write | kill: all 6 claimed | cut: A self-fenced "
          "| cut: detection | cut: first write | cut: all 6 claimed |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for lease in leases:
        with tempfile.TemporaryDirectory(prefix="runic-bench-cluster-") as tmp:
            c = TestCluster(Path(tmp), lease)
            try:
                c.start_node("B")
                c.start_node("C")
                got: dict[str, list[dict[str, Any]]] = {m: [] for m in ("kill", "cut")}
                for n in range(trials):
                    for mode in modes:
                        got[mode].append(trial(c, mode, n))
                        sys.stdout.flush()
            finally:
                c.close()

        def col(mode: str, key: str) -> str:
            return fmt([r[key] for r in got[mode] if r.get(key) is not None])

        print(f"| {lease:g} | {col('kill', 'detect')} | {col('kill', 'write')} | {col('kill', 'all')} | "
              f"{col('cut', 'fence')} | {col('cut', 'detect')} | {col('cut', 'write')} | {col('cut', 'all')} |",
              flush=True)


def _spin(stop_at: float) -> None:
    while time.time() < stop_at:
        pass


def busy(leases: list[float], seconds: float, spinners: int = 4) -> None:
    print(f"\n## False takeovers on a busy machine ({spinners} processes spinning on the cores for {seconds:g} s, "
          "3 nodes running workflows)")
    print("| lease | node-seconds observed | false takeovers | per node-hour |")
    print("|---:|---:|---:|---:|")
    for lease in leases:
        with tempfile.TemporaryDirectory(prefix="runic-bench-cluster-") as tmp:
            c = TestCluster(Path(tmp), lease)
            try:
                nodes = [c.start_node(n) for n in ("A", "B", "C")]
                for node in nodes:
                    try:
                        node.call("start", wids=[f"{node.name}-busy{i}" for i in range(3)], steps=100_000, delay=0.02)
                    except Exception:
                        for n2 in nodes:
                            print(f"--- {n2.name}\n{n2.stderr_tail()}")
                        raise
                ctx = multiprocessing.get_context("spawn")
                stop_at = time.time() + seconds
                hogs = [ctx.Process(target=_spin, args=(stop_at,)) for _ in range(spinners)]
                for h in hogs:
                    h.start()
                for h in hogs:
                    h.join()
                with c.store() as store:
                    gens = {n["node"]: n["generation"] for n in store.nodes() if n["alive"]}
                false = sum(g - 1 for g in gens.values())
                per_hour = false / (3 * seconds / 3600)
                print(f"| {lease:g} | {3 * seconds:.0f} | {false} | {per_hour:.1f} |", flush=True)
            finally:
                c.close()


def steps_per_second(workflows: int, steps: int) -> None:
    print(f"\n## Durable steps/s on one PostgreSQL ({workflows} workflows x {steps} trivial steps per node, "
          "every step persisted)")
    print("| nodes | steps | wall s | aggregate steps/s |")
    print("|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory(prefix="runic-bench-cluster-") as tmp:
        c = TestCluster(Path(tmp), 5.0)
        try:
            nodes = [c.start_node(n) for n in ("A", "B", "C")]
            for n in (1, 2, 3):
                for round_ in range(2):  # the first round warms the connections up
                    results: dict[str, Any] = {}

                    def burst(node: Any, tag: str) -> None:
                        results[node.name] = node.call("burst", wids=[f"{tag}-{node.name}-{i}" for i in range(workflows)],
                                                       steps=steps, timeout=900)

                    threads = [threading.Thread(target=burst, args=(node, f"n{n}r{round_}")) for node in nodes[:n]]
                    for t in threads:
                        t.start()
                    for t in threads:
                        t.join()
                    if round_ == 1:
                        wall = max(r["end"] for r in results.values()) - min(r["start"] for r in results.values())
                        total = n * workflows * steps
                        print(f"| {n} | {total} | {wall:.2f} | {total / wall:,.0f} |", flush=True)
        finally:
            c.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--leases", default="1,2,5")
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--busy-seconds", type=float, default=60.0)
    parser.add_argument("--burst-workflows", type=int, default=20)
    parser.add_argument("--burst-steps", type=int, default=50)
    parser.add_argument("--only", default="kill,cut,busy,steps")
    args = parser.parse_args()
    reason = netns.unavailable() or pg.available()
    if reason:
        sys.exit(f"bench/cluster.py: {reason}")
    leases = [float(x) for x in args.leases.split(",")]
    only = set(args.only.split(","))
    print(f"# bench/cluster.py: leases {leases}, {args.trials} trials")
    modes = [m for m in ("kill", "cut") if m in only]
    if modes:
        takeovers(leases, args.trials, modes)
    if "busy" in only:
        busy(leases, args.busy_seconds)
    if "steps" in only:
        steps_per_second(args.burst_workflows, args.burst_steps)


if __name__ == "__main__":
    main()
