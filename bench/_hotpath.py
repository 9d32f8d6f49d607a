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
* ``resume``: wall of ``runner.resume(id)`` of a stopped 2,500-step pipeline (10,003 events);
* ``stream``: ``list(store.stream(id))`` of 10,000 events (``FactProduced`` with an 8-key dict
  value, appended 10 per call, interleaved with another workflow's), as ``bench/store.py``
  measures it, and the same with every field of every event read;
* ``pipeline`` with ``"store": "postgres"``: the pipeline cell on a ``PostgresStore``
  (``durability="local"``: the primary's WAL flushed, as DBOS's commits are) on the server
  given by ``dsn``.

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

    def __init__(self, work: Path, name: str, pool_size: int | None = None, dsn: str | None = None) -> None:
        from runic.actors import start_system
        from runic.runner import Runner
        from runic.store import MnesiaStore

        self.dir = work / f"{name}-{uuid.uuid4().hex[:6]}"
        self.dir.mkdir()
        self.system_cm = start_system()
        self.system = self.system_cm.__enter__()
        store: Any = MnesiaStore
        opts: dict[str, Any] = {"dir": str(self.dir)}
        if dsn is not None:
            from runic.store import PostgresStore

            store, opts = PostgresStore, {"dsn": dsn, "schema": f"hp_{uuid.uuid4().hex[:8]}", "durability": "local"}
        self.runner = Runner.start_link(name=name, store=store, store_opts=opts,
                                        system=self.system, pool_size=pool_size)

    def close(self) -> None:
        try:
            self.runner.shutdown()
        finally:
            self.system_cm.__exit__(None, None, None)


def cell_pipeline(job: dict, work: Path) -> dict:
    fn = STEPS[job["step"]]
    out: dict = {}
    rr = _Runner(work, "hp-pipe", dsn=job.get("dsn"))
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


def cell_stream(job: dict, work: Path) -> dict:
    import runic.store  # noqa: F401 - first: bench/store.py puts this checkout on sys.path
    from runic.store import MnesiaStore

    from store import bench_stream  # bench/store.py: the store benchmark's own workload

    d = work / f"stream-{uuid.uuid4().hex[:6]}"
    with MnesiaStore("bench", dir=str(d)) as s:
        try:
            return bench_stream(s, job["events"], job["repeats"])
        except AttributeError:  # a runic before schema 3 (no _read_rows): the two decoded figures
            import statistics as st

            list(s.stream("wf")) if s.exists("wf") else None
            times = []
            for _ in range(job["repeats"]):
                t = time.perf_counter()
                got = [(e.hash, e.value, e.ancestry, e.producer_label, e.weight) for e in s.stream("wf")]
                times.append(time.perf_counter() - t)
            eps = len(got) / st.median(times)
            return {"stream_eps": eps, "stream_values_eps": eps}


def cell_floor(job: dict, work: Path) -> dict:
    """What a durable step costs without the Runner's processes, in this process: one
    autocommit INSERT of a step's row (the SQLite floor), and a Worker on a ``HostLoop`` running
    a 1,000-step chain inline (with its appends, and with appends that do nothing)."""
    import sqlite3
    import statistics as st

    from runic import codec
    from runic.events import ActivationConsumed, FactProduced, RunnableActivated
    from runic.runner.loop import HostLoop
    from runic.runner.worker import Worker
    from runic.store import MnesiaStore

    d = work / f"floor-{uuid.uuid4().hex[:6]}"
    d.mkdir()
    evs = [FactProduced(2**63 + 5, 3, (2**62, 2**61), "produced", 3), ActivationConsumed(2**62, 2**61 + 9, "runnable"),
           RunnableActivated(2**63 + 5, 2**60, "runnable")]
    row = codec.dumps_batch(evs) if hasattr(codec, "dumps_batch") else b"".join(codec.dumps(e) for e in evs)
    conn = sqlite3.connect(str(d / "floor.db"), isolation_level=None)
    conn.execute("PRAGMA page_size=1024")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE t (w, seq INTEGER, b BLOB, crc INTEGER, PRIMARY KEY (w, seq)) WITHOUT ROWID")
    ins = []
    for rnd in range(5):
        t0 = time.perf_counter()
        for i in range(2000):
            conn.execute("INSERT INTO t VALUES (?, ?, ?, ?)", ("wf", rnd * 10_000 + i, row, 7))
        ins.append((time.perf_counter() - t0) / 2000 * 1e6)
    conn.close()
    store = MnesiaStore("floor", dir=str(d))
    loop = HostLoop("h", store)
    loop.on_loop_thread = lambda: True  # type: ignore[method-assign] - this thread is its loop

    def chain(tag: str) -> float:
        out = []
        for k in range(4):
            wid = f"{tag}-{k}"
            w = Worker(loop, wid, _linear(1_000, inc), {"executor": "inline"}, None, store.acquire(wid, "floor"))
            loop.workers[wid] = w
            w._want_step = w._want_commit = None  # the plain chain: run, commit, run...
            t0 = time.perf_counter()
            with loop.lock:
                w.run(0)
            out.append((time.perf_counter() - t0) / 1_000 * 1e6)
            assert w.status == "idle"
        return st.median(out[1:])

    durable = chain("d")
    store.append = lambda *a, **k: 0  # type: ignore[method-assign]
    bare = chain("n")
    store.close()
    return {"insert_us": st.median(ins), "inprocess_step_us": durable, "worker_core_us": bare}


CELLS = {"pipeline": cell_pipeline, "stream": cell_stream, "floor": cell_floor, "aggregate": cell_aggregate, "short": cell_short, "resume": cell_resume}


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
    if cell == "floor":
        return (f"INSERT {res['insert_us']:.1f} µs, in-process durable step {res['inprocess_step_us']:.1f} µs, "
                f"Worker + core alone {res['worker_core_us']:.1f} µs")
    if cell == "stream":
        return f"{res['stream_eps']:,.0f} events/s ({res['stream_values_eps']:,.0f}/s with every field read)"
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


# ----------------------------------------------------------------------------- the table

TARGETS = {"step": 50.0, "dbos_ratio": 25.0, "stat_ratio": 1.5, "aggregate": 25_000.0, "short": 5_000.0,
           "stream_ratio": 1.0, "resume_ms": 30.0, "pg_ratio": 5.0}


def jobs(quick: bool) -> dict[str, dict]:
    r = 3 if quick else 5
    return {
        "step_inline": {"cell": "pipeline", "step": "inc", "executor": "inline", "sizes": [1000], "repeats": r},
        "step_thread": {"cell": "pipeline", "step": "inc", "executor": "thread", "sizes": [1000], "repeats": r},
        "stat_inline": {"cell": "pipeline", "step": "stat_sleep", "executor": "inline", "sizes": [1000], "repeats": r},
        "stat_thread": {"cell": "pipeline", "step": "stat_sleep", "executor": "thread", "sizes": [1000], "repeats": r},
        "aggregate_inline": {"cell": "aggregate", "executor": "inline", "workflows": 100, "steps": 100,
                             "repeats": 2 if quick else 3},
        "aggregate_thread": {"cell": "aggregate", "executor": "thread", "workflows": 100, "steps": 100,
                             "repeats": 2 if quick else 3},
        "short": {"cell": "short", "executor": "inline", "count": 2_000 if quick else 10_000, "repeats": 2},
        "stream": {"cell": "stream", "events": 10_000, "repeats": 7 if quick else 11},
        "resume": {"cell": "resume", "repeats": r},
        "floor": {"cell": "floor"},
    }


def _peer_dbos(exe: str, work: Path, n: int, repeats: int, url: str | None = None) -> dict:
    d = work / f"peers-{uuid.uuid4().hex[:6]}"
    d.mkdir()
    cmd = [exe, str(BENCH / "_runner_peers.py"), "--only", "dbos", "--sizes", str(n), "--repeats", str(repeats),
           "--dir", str(d)] + (["--dbos-url", url] if url else [])
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, check=False)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"DBOS run failed ({proc.returncode}): {proc.stderr[-1500:]}")
    return json.loads(lines[-1])["dbos"]


def _mnesia_stream(work: Path, events: int, repeats: int) -> float | None:
    import store as sb  # bench/store.py

    if not sb.erlang_available():
        return None
    ebin = sb.compile_erl(work)
    r = sb.erl_cell(ebin, work, "disc_copies", "stream", events, repeats)
    return r["events"] / (r["median_ns"] / 1e9)


def table(work: Path, baseline: str | None, rounds: int, quick: bool, peers_exe: str | None,
          with_pg: bool, say: Any) -> dict:
    """Every cell of the table, this runic and ``baseline`` alternating, then the peers."""
    out: dict = {"cells": {}, "peers": {}, "baseline": baseline, "rounds": rounds}
    for key, job in jobs(quick).items():
        say(f"  {key} ...")
        out["cells"][key] = ab(job, work, baseline if key != "floor" else None, rounds if key != "floor" else 1, say)
    if peers_exe:
        say("  DBOS, SQLite file, N=1,000 ...")
        try:
            out["peers"]["dbos"] = _peer_dbos(peers_exe, work, 1000, 3 if quick else 5)
        except Exception as exc:  # noqa: BLE001 - reported in the table
            out["peers"]["dbos"] = {"error": str(exc)}
    say("  Mnesia disc_copies stream (erl) ...")
    try:
        out["peers"]["mnesia_stream_eps"] = _mnesia_stream(work, 10_000, 11)
    except Exception as exc:  # noqa: BLE001
        out["peers"]["mnesia_stream_eps"] = None
        out["peers"]["mnesia_error"] = str(exc)
    if with_pg:
        out["pg"] = pg_rows(work, baseline, rounds, quick, peers_exe, say)
    return out


def pg_rows(work: Path, baseline: str | None, rounds: int, quick: bool, peers_exe: str | None, say: Any) -> dict:
    """The durable step on PostgreSQL, runic and DBOS against one throwaway server."""
    sys.path.insert(0, str(ROOT))
    from tests.store import pg  # the test suite's throwaway servers

    reason = pg.available()
    if reason:
        return {"error": reason}
    cluster = pg.Cluster()
    res: dict = {}
    try:
        server = cluster.server("bench")
        server.initdb()
        server.start()
        dsn = server.url()
        job = {"cell": "pipeline", "step": "inc", "executor": "inline", "sizes": [1000],
               "repeats": 3 if quick else 5, "dsn": dsn}
        say("  runic on PostgreSQL ...")
        res["runic"] = ab(job, work, baseline, rounds, say)
        if peers_exe:
            say("  DBOS on the same PostgreSQL ...")
            try:
                res["dbos"] = _peer_dbos(peers_exe, work, 1000, 3 if quick else 5, url=dsn)
            except Exception as exc:  # noqa: BLE001
                res["dbos"] = {"error": str(exc)}
        with server.admin() as conn:
            res["server"] = conn.execute("SHOW server_version").fetchone()[0]
    finally:
        cluster.close()
    return res


def _med(results: list[dict], get: Any) -> float | None:
    vals = [get(r) for r in results]
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


def report(res: dict) -> None:
    cells = res["cells"]

    def fig(key: str, which: str, get: Any) -> float | None:
        return _med(cells.get(key, {}).get(which, []), get)

    step = lambda r: r["1000"]["us_per_step"]  # noqa: E731
    rows: list[tuple[str, str, str, str, str, str]] = []

    def f(v: float | None, unit: str = "", fmt: str = "{:,.1f}") -> str:
        return "n/a" if v is None else fmt.format(v) + unit

    def met(ok: bool | None, miss: str = "") -> str:
        return "n/a" if ok is None else ("**met**" if ok else f"missed{miss}")

    floor = (cells.get("floor", {}).get("this") or [{}])[0]
    dbos = res["peers"].get("dbos") or {}
    dbos_us = dbos.get("1000", {}).get("us_per_step") if "error" not in dbos else None
    for ex in ("inline", "thread"):
        this, base = fig(f"step_{ex}", "this", step), fig(f"step_{ex}", "base", step)
        ratio = dbos_us / this if dbos_us and this else None
        rows.append((f"durable step through the Runner, trivial step, {ex} (N = 1,000)", f(this, " µs"), f(base, " µs"),
                     f"in-process {f(floor.get('inprocess_step_us'), ' µs')} (Worker+core {f(floor.get('worker_core_us'), ' µs')}, "
                     f"INSERT {f(floor.get('insert_us'), ' µs')}); DBOS {f(dbos_us, ' µs', '{:,.0f}')} = {f(ratio, '×')}",
                     f"≤ {TARGETS['step']:.0f} µs; DBOS ≥ {TARGETS['dbos_ratio']:.0f}×",
                     met(None if this is None else this <= TARGETS["step"] and (ratio or 0) >= TARGETS["dbos_ratio"])))
    for ex in ("inline", "thread"):
        this, base = fig(f"stat_{ex}", "this", step), fig(f"stat_{ex}", "base", step)
        triv = fig(f"step_{ex}", "this", step)
        ratio = this / triv if this and triv else None
        rows.append((f"durable step doing os.stat + time.sleep(0), {ex}", f(this, " µs"), f(base, " µs"),
                     f"trivial step {f(triv, ' µs')}: {f(ratio, '×', '{:.2f}')}", f"≤ {TARGETS['stat_ratio']}× trivial",
                     met(None if ratio is None else ratio <= TARGETS["stat_ratio"])))
    for ex in ("inline", "thread"):
        g = lambda r: r["steps_per_s"]  # noqa: E731
        this, base = fig(f"aggregate_{ex}", "this", g), fig(f"aggregate_{ex}", "base", g)
        rows.append((f"aggregate durable steps/s, 100 workflows × 100 steps, one Runner, {ex}", f(this, "/s", "{:,.0f}"),
                     f(base, "/s", "{:,.0f}"), "", f"≥ {TARGETS['aggregate']:,.0f}/s",
                     met(None if this is None else this >= TARGETS["aggregate"])))
    g = lambda r: r["wf_per_s"]  # noqa: E731
    this, base = fig("short", "this", g), fig("short", "base", g)
    rows.append(("short (1-step) workflows through one Runner (start_many + await_many)", f(this, "/s", "{:,.0f}"),
                 f(base, "/s", "{:,.0f}"), "", f"≥ {TARGETS['short']:,.0f}/s",
                 met(None if this is None else this >= TARGETS["short"])))
    mn = res["peers"].get("mnesia_stream_eps")
    for label, get in (("values decoded lazily", lambda r: r["stream_eps"]),
                       ("every field read", lambda r: r["stream_values_eps"])):
        this, base = fig("stream", "this", get), fig("stream", "base", get)
        ratio = this / mn if this and mn else None
        rows.append((f"stream of 10,000 events, {label}", f(this, "/s", "{:,.0f}"), f(base, "/s", "{:,.0f}"),
                     f"Mnesia disc_copies {f(mn, '/s', '{:,.0f}')}: {f(ratio, '×', '{:.2f}')}",
                     f"≥ {TARGETS['stream_ratio']}× Mnesia", met(None if ratio is None else ratio >= TARGETS["stream_ratio"])))
    g = lambda r: r["resume_ms"]  # noqa: E731
    this, base = fig("resume", "this", g), fig("resume", "base", g)
    rows.append(("resume of a 10,000-event workflow (runner.resume)", f(this, " ms"), f(base, " ms"), "",
                 f"≤ {TARGETS['resume_ms']:.0f} ms", met(None if this is None else this <= TARGETS["resume_ms"])))
    pgres = res.get("pg")
    if pgres:
        if "error" in pgres:
            rows.append(("durable step on PostgreSQL", "n/a", "n/a", pgres["error"], f"≥ {TARGETS['pg_ratio']}× DBOS", "n/a"))
        else:
            this = _med(pgres["runic"]["this"], step)
            base = _med(pgres["runic"]["base"], step)
            d = pgres.get("dbos") or {}
            dus = d.get("1000", {}).get("us_per_step") if "error" not in d else None
            ratio = dus / this if dus and this else None
            rows.append((f"durable step through the Runner on PostgreSQL {pgres.get('server', '')} (durability=local)",
                         f(this, " µs"), f(base, " µs"), f"DBOS on the same server {f(dus, ' µs', '{:,.0f}')}: {f(ratio, '×')}",
                         f"≥ {TARGETS['pg_ratio']:.0f}× faster than DBOS",
                         met(None if ratio is None else ratio >= TARGETS["pg_ratio"])))
    base_name = res.get("baseline") or "(no --baseline)"
    print(f"\n| what | this runic | before ({base_name}) | floor or peer, same run | target | |")
    print("|---|---:|---:|---|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")
    print(f"\nMedians of {res['rounds']} alternating rounds per cell (each cell a fresh interpreter and actor system);"
          " per-round figures are in the JSON.")
