#!/usr/bin/env python3
"""The durable hot path's table (``bench/runner.py --sections table``): each row of the
performance issue, measured through a real Runner, next to its floor or peer in the same run,
and — with ``--baseline DIR`` — the same cell on another runic (``git archive main runic | tar
-x -C DIR``) in the same run, so every design change shows its before/after.

Cells (each in a fresh interpreter; the actor system's processes fork from it):

* ``pipeline``: µs per durable step = (median wall of ``run(id, 0, await_idle=True)`` on an
  N-step pipeline - the same loop in plain Python) / N, after a warm-up, a fresh id per run;
  step ``inc`` (``x + 1``) or ``stat_sleep`` (``os.stat`` + ``time.sleep(0)``, the step that
  waits on the kernel), executor ``inline`` or ``thread``;
* ``aggregate``: K workflows x N steps started with one ``start_many`` and awaited with one
  ``await_many``: durable steps per second over the wall of both;
* ``short``: C one-step workflows through ``start_many`` + ``await_many``: workflows/s;
* ``resume``: wall of ``runner.resume(id)`` of a stopped 2,500-step pipeline (10,003 events).

Every cell runs ``MnesiaStore`` on disc (WAL, ``synchronous=NORMAL``), 2 worker hosts,
``checkpoint_strategy="every_cycle"`` (each applied result durable before the next dispatch).
Another runic runs with ``python -S`` and that directory first on ``sys.path`` (so the installed
one is not imported); its hosts fork from that interpreter.
"""

from __future__ import annotations

import json
import os
import site
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
_IMPL = os.environ.get("RUNIC_BENCH_RUNIC")  # another runic (A/B), else this checkout
sys.path.insert(0, _IMPL or str(ROOT))
sys.path.insert(0, str(BENCH))

from _runner_steps import inc, plain_loop_s, stat_sleep  # noqa: E402

STEPS = {"inc": inc, "stat_sleep": stat_sleep}


def _linear(n: int, fn: Any, name: str = "pipeline") -> Any:
    import runic

    wf = runic.Workflow(name)
    prev = None
    for i in range(n):
        wf.add(runic.step(fn, name=f"s{i}"), to=prev)
        prev = f"s{i}"
    return wf


class _Runner:
    """An actor system and a Runner on a fresh MnesiaStore directory."""

    def __init__(self, work: Path, name: str, pool_size: int | None = None) -> None:
        from runic.actors import start_system
        from runic.runner import Runner
        from runic.store import MnesiaStore

        self.dir = work / f"{name}-{uuid.uuid4().hex[:6]}"
        self.dir.mkdir()
        self.system_cm = start_system()
        self.system = self.system_cm.__enter__()
        self.runner = Runner.start_link(name=name, store=MnesiaStore, store_opts={"dir": str(self.dir)},
                                        system=self.system, pool_size=pool_size)

    def close(self) -> None:
        try:
            self.runner.shutdown()
        finally:
            self.system_cm.__exit__(None, None, None)


def cell_pipeline(job: dict, work: Path) -> dict:
    fn = STEPS[job["step"]]
    out: dict = {}
    rr = _Runner(work, "hp-pipe")
    r = rr.runner
    try:
        for n in job["sizes"]:
            wf = _linear(n, fn)
            plain = plain_loop_s(n)
            runs = []
            for k in range(job["repeats"] + 1):  # run 0: the warm-up
                wid = f"p-{n}-{k}-{uuid.uuid4().hex[:6]}"
                r.start_workflow(wid, wf, executor=job["executor"], checkpoint_strategy="every_cycle")
                t0 = time.perf_counter()
                status = r.run(wid, 0, await_idle=True)
                wall = time.perf_counter() - t0
                assert status == "idle", status
                if k == job["repeats"]:
                    assert max(r.get_results(wid)) == n
                r.stop(wid)
                if k:
                    runs.append(wall)
            out[str(n)] = {"us_per_step": (statistics.median(runs) - plain) / n * 1e6, "runs": len(runs),
                           "walls_s": runs}
    finally:
        rr.close()
    return out


def cell_aggregate(job: dict, work: Path) -> dict:
    k, n = job["workflows"], job["steps"]
    rr = _Runner(work, "hp-agg", job.get("pool"))
    r = rr.runner
    rates = []
    try:
        wf = _linear(n, inc)
        for rnd in range(job["repeats"] + 1):
            ids = [f"a{rnd}-{i}" for i in range(k)]
            t0 = time.perf_counter()
            r.start_many(wf, [(wid, 0) for wid in ids], executor=job["executor"])
            statuses = r.await_many(ids)
            wall = time.perf_counter() - t0
            assert set(statuses.values()) == {"idle"}, set(statuses.values())
            if rnd:
                rates.append(k * n / wall)
        assert max(r.get_results(ids[-1])) == n
    finally:
        rr.close()
    return {"steps_per_s": statistics.median(rates), "rates": rates}


def cell_short(job: dict, work: Path) -> dict:
    count = job["count"]
    rr = _Runner(work, "hp-short", job.get("pool"))
    r = rr.runner
    rates = []
    try:
        wf = _linear(1, inc, "short")
        for rnd in range(job["repeats"] + 1):
            ids = [f"s{rnd}-{i}" for i in range(count if rnd else 500)]
            t0 = time.perf_counter()
            r.start_many(wf, [(wid, i) for i, wid in enumerate(ids)], executor=job["executor"])
            statuses = r.await_many(ids)
            wall = time.perf_counter() - t0
            assert set(statuses.values()) == {"idle"}, set(statuses.values())
            if rnd:
                rates.append(len(ids) / wall)
        assert r.get_results(ids[-1]) == [len(ids)]
    finally:
        rr.close()
    return {"wf_per_s": statistics.median(rates), "rates": rates}


def cell_resume(job: dict, work: Path) -> dict:
    rr = _Runner(work, "hp-resume")
    r = rr.runner
    walls = []
    try:
        wf = _linear(2_500, inc)
        for k in range(job["repeats"] + 1):
            wid = f"r-{k}-{uuid.uuid4().hex[:6]}"
            r.start_workflow(wid, wf, executor="inline", input=0)
            r.await_idle(wid)
            r.stop(wid)
            t0 = time.perf_counter()
            r.resume(wid)
            wall = time.perf_counter() - t0
            if k == job["repeats"]:
                assert max(r.get_results(wid)) == 2_500
                events = r.stored(wid).cursor
            r.stop(wid)
            if k:
                walls.append(wall)
    finally:
        rr.close()
    return {"resume_ms": statistics.median(walls) * 1e3, "events": events, "walls_ms": [w * 1e3 for w in walls]}


CELLS = {"pipeline": cell_pipeline, "aggregate": cell_aggregate, "short": cell_short, "resume": cell_resume}


def run_cell(job: dict, work: Path, impl: str | None = None) -> dict:
    """Run one cell in a fresh interpreter (``impl``: another runic's directory)."""
    env = dict(os.environ)
    cmd = [sys.executable]
    if impl:
        cmd.append("-S")  # no site: the installed runic (an editable install) is not imported
        env["PYTHONPATH"] = os.pathsep.join([impl, str(BENCH), *site.getsitepackages()])
        env["RUNIC_BENCH_RUNIC"] = impl
    else:
        env.pop("RUNIC_BENCH_RUNIC", None)
    cmd += [str(Path(__file__).resolve()), "--_cell", json.dumps({**job, "work": str(work)})]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, timeout=1800, env=env, check=False)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"cell {job} failed (exit {proc.returncode}, impl {impl or 'this'})")
    return json.loads(lines[-1])


def child_main(raw: str) -> None:
    job = json.loads(raw)
    work = Path(job.pop("work"))
    if job.get("page_size"):  # A/B of the store files' page size (new files only)
        from runic.store import _sqlite

        _sqlite._PAGE_SIZE = int(job["page_size"])  # type: ignore[attr-defined]
    out = CELLS[job["cell"]](job, work)
    import runic

    out["runic"] = os.path.dirname(os.path.dirname(runic.__file__))
    sys.stdout.write("\n" + json.dumps(out) + "\n")
    sys.stdout.flush()


def ab(job: dict, work: Path, baseline: str | None, rounds: int, say: Any) -> dict:
    """The cell on this runic (and on ``baseline``), ``rounds`` times each, alternating which
    goes first; every result is kept (``this``/``base`` lists)."""
    out: dict = {"this": [], "base": []}
    for i in range(rounds):
        order = ["this", "base"] if i % 2 == 0 else ["base", "this"]
        for which in order:
            if which == "base" and not baseline:
                continue
            res = run_cell(job, work, baseline if which == "base" else None)
            out[which].append(res)
            say(f"    {job['cell']} {which}: {summary(job, res)}")
    return out


def summary(job: dict, res: dict) -> str:
    cell = job["cell"]
    if cell == "pipeline":
        return ", ".join(f"N={n}: {v['us_per_step']:.1f} µs/step" for n, v in res.items() if n.isdigit())
    if cell == "aggregate":
        return f"{res['steps_per_s']:,.0f} steps/s"
    if cell == "short":
        return f"{res['wf_per_s']:,.0f} workflows/s"
    return f"{res['resume_ms']:.1f} ms ({res['events']:,} events)"


def tmpdir() -> Path:
    return Path(tempfile.mkdtemp(prefix="runic-hotpath-"))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--_cell":
        child_main(sys.argv[2])
    else:
        raise SystemExit("run through bench/runner.py --sections table")
