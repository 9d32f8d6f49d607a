#!/usr/bin/env python3
"""Runner benchmark: durable steps, resume, many short workflows — beside DBOS and LangGraph.

    .venv/bin/python bench/runner.py                 # full run (~7 min on 2 cores; +3 min with --profile)
    .venv/bin/python bench/runner.py --quick         # fewer repeats, 1,000 short workflows (~1 min)
    .venv/bin/python bench/runner.py --sections pipeline --peers-python /tmp/peers-venv/bin/python
    .venv/bin/python bench/runner.py --sections throughput --profile /path/to/py-spy
    .venv/bin/python bench/runner.py --sections table --baseline /tmp/runic-main   # the hot path's table, A/B

``--sections table`` prints one row per figure of the durable hot path (``bench/_hotpath.py``:
durable step, a step that waits on the kernel, aggregate steps/s, short workflows/s, stream
decode against Mnesia, resume, the step on PostgreSQL against DBOS), each beside its floor or
peer measured in the same run and, with ``--baseline DIR`` (another runic's source:
``git archive main runic | tar -x -C DIR``), beside the same cell on that runic, alternating.

Measures, through a real Runner (``Runner.start_link`` on a ``multiprocTCPBase`` actor system,
``MnesiaStore`` on disc, ``checkpoint_strategy="every_cycle"``: each applied result's events
go to the store in one transaction):

1. **Durable pipeline**: N = 100 and 1,000 chained steps ``x + 1``; µs per step = (median wall
   of ``run(..., await_idle=True)`` - the same loop in plain Python) / N, median of ``--repeats``
   runs (3x as many below N = 1,000) after a warm-up, a fresh workflow id per run;
   executors ``inline`` and ``thread``, and ``inline`` with ``durability="fsync"`` (fsync
   per commit, as the peers do); N = 1 gives the fixed cost of the request. The same
   pipeline on DBOS Transact (SQLite file) and LangGraph (``SqliteSaver``,
   ``durability="sync"``) runs in the same run in a separate interpreter that has them
   (``bench/_runner_peers.py``), and the ratios peer / runic are printed. Target: <= 100 µs
   per durable step, >= 10x faster than both peers.
2. **Resume** of a stopped workflow with >= 10,000 events: wall time of ``runner.resume(id)``
   (target <= 100 ms), and its parts measured in this process on the same store file (stream
   read + decode, ``Workflow.from_events``, fact resolution). Two shapes: a 2,500-step
   pipeline (graph-heavy) and a map over 2,000 items (event-heavy, 2 components).
3. **Throughput**: 10,000 short workflows (3 steps) started with an input, run and completed
   through one Runner: workflows/s and peak memory summed over every process of the actor
   system (target >= 500 workflows/s within 2 GiB). Three ways of driving it: the batch API
   (``start_many(wf, [(id, x), ...])`` then ``await_many(ids)``: one request each), the
   ``Runner`` API one workflow at a time (``start_workflow(id, wf, input=x)`` for every id,
   then ``await_idle`` for every id: each call is a blocking request), and those request
   messages pipelined (up to ``--window`` outstanding, through the actor system's
   ``tell``/``listen``). CPU seconds of every process are reported, to show where the time goes.

Peers: DBOS, LangGraph and its SQLite checkpointer are *not* runic dependencies. Install them
in a separate environment::

    python3 -m venv /tmp/peers-venv
    /tmp/peers-venv/bin/pip install dbos langgraph langgraph-checkpoint-sqlite

The interpreter is ``--peers-python PATH``, else this one if it can import them, else the first
of ``$RUNIC_PEERS_PYTHON``, ``bench/.peers-venv``, ``.peers-venv``, ``/tmp/peers-venv`` that
can. Without one, the figures measured on this kind of machine (``shared/notes/peers.md``
§3.1) are printed instead, labelled as references.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import os
import platform
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))  # _runner_steps must import by name here and in the hosts

from _runner_steps import inc, plain_loop_s, runs_for

import runic
from runic import codec
from runic.actors import procs, start_system
from runic.events import FactProduced
from runic.facts import STRIPPED
from runic.rehydration import FactResolver, resolve_all
from runic.runner import Runner
from runic.runner.messages import AwaitIdle, Idle, StartWorkflow, WorkflowStarted, pack
from runic.store import MnesiaStore
from runic.supervisor.messages import ErrorReply

PEERS_SCRIPT = BENCH / "_runner_peers.py"

TARGET_STEP_US = 100.0
TARGET_RATIO = 10.0
TARGET_RESUME_MS = 100.0
TARGET_WF_PER_S = 500.0
TARGET_MEMORY_MIB = 2048.0

#: shared/notes/peers.md §3.1 (dbos 3.4.0, langgraph 1.2.22 + checkpoint-sqlite 3.1.2, 2 cores,
#: load ~1.5, median of 5 runs): µs per step
PEERS_REFERENCE = {
    "dbos": {"100": 1952.0, "1000": 2033.0},
    "langgraph": {"100": 1146.0, "1000": 2157.0},
}


# ----------------------------------------------------------------------------- helpers

def linear(n: int, name: str = "pipeline") -> runic.Workflow:
    wf = runic.Workflow(name)
    prev = None
    for i in range(n):
        wf.add(runic.step(inc, name=f"s{i}"), to=prev)
        prev = f"s{i}"
    return wf


def fan_out() -> runic.Workflow:
    wf = runic.Workflow("fan")
    wf.add(runic.map(inc, name="m"))
    return wf


def cpu_busy(interval: float = 0.5) -> float:
    """Machine-wide CPU use (%) over ``interval`` seconds, from /proc/stat."""

    def sample() -> tuple[int, int]:
        with open("/proc/stat") as fh:
            vals = [int(x) for x in fh.readline().split()[1:]]
        return sum(vals), vals[3] + vals[4]

    t1, i1 = sample()
    time.sleep(interval)
    t2, i2 = sample()
    return 100.0 * (1 - (i2 - i1) / max(1, t2 - t1))


def conditions(wait_quiet: float) -> dict:
    """Wait up to ``wait_quiet`` s for background CPU < 25 %; return load and CPU use."""
    deadline = time.monotonic() + wait_quiet
    busy = cpu_busy()
    while busy > 25.0 and time.monotonic() < deadline:
        busy = cpu_busy()
    return {"loadavg": [round(x, 2) for x in os.getloadavg()], "cpu_busy_pct": round(busy, 1),
            "at": time.strftime("%H:%M:%S")}


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def fmt_cond(c: dict) -> str:
    return f"load {c['loadavg'][0]:.2f}, background CPU {c['cpu_busy_pct']:.0f}% at {c['at']}"


def proc_status_kib(pid: int, field: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def proc_pss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def proc_cpu_s(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


class MemorySampler(threading.Thread):
    """Samples the summed VmRSS of the actor system's processes (and the driver's) every 0.2 s."""

    def __init__(self, system: Any, period: float = 0.2) -> None:
        super().__init__(daemon=True, name="mem-sampler")
        self.system, self.period = system, period
        self.peak_system_kib = 0
        self.peak_driver_kib = 0
        self._stop_evt = threading.Event()

    def sample(self) -> None:
        total = sum(proc_status_kib(p, "VmRSS") for p in self.system.pids())
        self.peak_system_kib = max(self.peak_system_kib, total)
        self.peak_driver_kib = max(self.peak_driver_kib, proc_status_kib(os.getpid(), "VmRSS"))

    def run(self) -> None:
        while not self._stop_evt.wait(self.period):
            self.sample()

    def stop(self) -> None:
        self._stop_evt.set()
        self.join()
        self.sample()


def shutdown_checked(system: Any) -> None:
    """Shut the actor system down and check that none of its processes is left."""
    pids = system.pids()
    killed = system.shutdown()
    left = [p for p in procs.wait_gone(pids, 3.0) if procs.is_alive(p)]
    if killed or left:
        say(f"  warning: actor system shutdown killed {killed}, still present: {left}")


# ----------------------------------------------------------------------------- 1. pipeline

def bench_pipeline(sizes: list[int], repeats: int, work: Path) -> dict:
    """runic: µs per durable step for every configuration and size."""
    configs = [
        ("inline", "inline", {}),
        ("thread", "thread", {}),
        ("inline-fsync", "inline", {"durability": "fsync"}),
    ]
    out: dict = {}
    with start_system() as system:
        for label, executor, extra in configs:
            store_dir = work / f"pipeline-{label}"
            store_dir.mkdir()
            r = Runner.start_link(name=f"bench-{label}", store=MnesiaStore,
                                  store_opts={"dir": str(store_dir), **extra}, system=system)
            try:
                out[label] = {}
                for n in [1] + sizes:  # N=1: the fixed cost of the run-and-wait request
                    wf = linear(n)
                    plain = plain_loop_s(n)
                    starts, runs = [], []
                    reps = runs_for(n, repeats)
                    for k in range(reps + 1):  # run 0 is the warm-up
                        wid = f"{label}-{n}-{k}-{uuid.uuid4().hex[:6]}"
                        t0 = time.perf_counter()
                        r.start_workflow(wid, wf, executor=executor, checkpoint_strategy="every_cycle")
                        t1 = time.perf_counter()
                        status = r.run(wid, 0, await_idle=True)  # one request: run and wait
                        t2 = time.perf_counter()
                        if k in (0, reps):
                            got = r.get_results(wid)
                            assert status == "idle" and max(got) == n, (status, got[-3:])
                            assert r.stored(wid).cursor >= 3 * n, r.stored(wid)
                        r.stop(wid)
                        if k:
                            starts.append(t1 - t0)
                            runs.append(t2 - t1)
                    med_run = statistics.median(runs)
                    med_total = statistics.median([a + b for a, b in zip(starts, runs)])
                    out[label][str(n)] = {
                        "n": n, "runs": len(runs), "plain_s": plain,
                        "us_per_step": (med_run - plain) / n * 1e6,
                        "us_per_step_incl_start": (med_total - plain) / n * 1e6,
                        "start_ms": statistics.median(starts) * 1e3,
                        "run_ms": med_run * 1e3, "mean_run_ms": statistics.fmean(runs) * 1e3,
                        "run_walls_s": runs, "start_walls_s": starts,
                    }
                    fig = out[label][str(n)]
                    say(f"  runic {label:<13} N={n:<5} " + (f"{fig['run_ms']:8.2f} ms for run(await_idle=True)" if n == 1 else
                        f"{fig['us_per_step']:8.1f} µs/step") + f" (start_workflow {fig['start_ms']:.1f} ms)")
            finally:
                r.shutdown()
        shutdown_checked(system)
    return out


def find_peers_python(explicit: str | None) -> str | None:
    check = "import dbos, langgraph, langgraph.checkpoint.sqlite"
    candidates = [explicit] if explicit else [
        sys.executable, os.environ.get("RUNIC_PEERS_PYTHON"), str(BENCH / ".peers-venv/bin/python"),
        str(ROOT / ".peers-venv/bin/python"), "/tmp/peers-venv/bin/python",
    ]
    for exe in candidates:
        if not exe or not os.path.exists(exe):
            continue
        ok = subprocess.run([exe, "-c", check], capture_output=True, check=False).returncode == 0
        if ok:
            return exe
        if explicit:
            raise SystemExit(f"--peers-python {exe}: cannot import dbos, langgraph and langgraph-checkpoint-sqlite")
    return None


def find_dbos_python(explicit: str | None) -> str | None:
    """An interpreter that can import dbos (the table needs only DBOS)."""
    candidates = [explicit] if explicit else [
        sys.executable, os.environ.get("RUNIC_PEERS_PYTHON"), str(BENCH / ".peers-venv/bin/python"),
        str(ROOT / ".peers-venv/bin/python"), "/tmp/peers-venv/bin/python",
    ]
    for exe in candidates:
        if exe and os.path.exists(exe) and subprocess.run([exe, "-c", "import dbos"], capture_output=True,
                                                          check=False).returncode == 0:
            return exe
    return None


def bench_peers(exe: str, sizes: list[int], repeats: int, work: Path) -> dict:
    peer_dir = work / "peers"
    peer_dir.mkdir()
    cmd = [exe, str(PEERS_SCRIPT), "--sizes", ",".join(map(str, sizes)), "--repeats", str(repeats),
           "--dir", str(peer_dir)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, check=False)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"peer benchmark failed ({proc.returncode}): {proc.stderr[-2000:]}")
    res = json.loads(lines[-1])
    res["python_exe"] = exe
    for name in ("dbos", "langgraph"):
        for n in sizes:
            fig = res.get(name, {}).get(str(n))
            if fig:
                say(f"  {name:<19} N={n:<5} {fig['us_per_step']:8.1f} µs/step")
    return res


# ----------------------------------------------------------------------------- 2. resume

def bench_resume(repeats: int, work: Path) -> dict:
    shapes = [
        ("pipeline", "2,500-step pipeline", lambda: linear(2_500), 0),
        ("map", "map over 2,000 items", fan_out, list(range(2_000))),
    ]
    out: dict = {}
    store_dir = work / "resume"
    store_dir.mkdir()
    with start_system() as system:
        r = Runner.start_link(name="bench-resume", store=MnesiaStore, store_opts={"dir": str(store_dir)},
                              system=system)
        try:
            for key, label, build, value in shapes:
                wf = build()
                rows: list[dict] = []
                for k in range(repeats + 1):  # run 0 is the warm-up
                    wid = f"resume-{key}-{k}-{uuid.uuid4().hex[:6]}"
                    r.start_workflow(wid, wf, executor="inline", input=value)
                    r.await_idle(wid)
                    r.stop(wid)
                    row = breakdown(store_dir, "bench-resume", wid)
                    t0 = time.perf_counter()
                    r.resume(wid)
                    row["resume_ms"] = (time.perf_counter() - t0) * 1e3
                    if k in (0, repeats):
                        assert r.worker_state(wid)["status"] == "idle", r.worker_state(wid)
                        got = r.get_results(wid)
                        assert (max(got) == 2_500) if key == "pipeline" else (len(got) == 2_000), len(got)
                    r.stop(wid)
                    if k:
                        rows.append(row)
                med = {f: statistics.median(x[f] for x in rows) for f in rows[0]}
                med["runs"] = len(rows)
                med["label"] = label
                med["resume_runs_ms"] = [x["resume_ms"] for x in rows]
                med["rest_ms"] = med["resume_ms"] - med["stream_ms"] - med["from_events_ms"] - med["resolve_ms"]
                out[key] = med
                say(f"  resume {label}: {med['events']:,} events, {med['resume_ms']:.1f} ms "
                    f"(stream {med['stream_ms']:.1f}, from_events {med['from_events_ms']:.1f}, "
                    f"facts {med['resolve_ms']:.1f})")
        finally:
            r.shutdown()
        shutdown_checked(system)
    return out


def breakdown(store_dir: Path, runner_name: str, wid: str) -> dict:
    """The parts of a host's resume, measured here on the same store file (read-only; each part
    after a ``gc.collect()``)."""

    def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
        gc.collect()
        t = time.perf_counter()
        value = fn()
        return value, (time.perf_counter() - t) * 1e3

    store = MnesiaStore(runner_name, dir=str(store_dir))
    try:
        count = store.cursor(wid)
        key = store._key(wid)
        raw, read_ms = timed(lambda: store._read_events(key, 1, count))  # the engine alone: rows as bytes
        _, decode_ms = timed(lambda: [codec.loads(b) for b in raw])
        events, stream_ms = timed(lambda: list(store.stream(wid)))  # what the host does: read + decode
        stripped = any(e.__class__ is FactProduced and e.value is STRIPPED for e in events)
        wf, from_events_ms = timed(lambda: runic.Workflow.from_events(events, None,
                                                                      fact_mode="ref" if stripped else "full"))
        _, resolve_ms = timed(lambda: resolve_all(wf, FactResolver(store)) if stripped else None)
        build_events = [e for e in events if type(e).__name__ in ("WorkflowDefined", "ComponentAdded")]
        _, build_only_ms = timed(lambda: runic.Workflow.from_events(build_events, None))
        return {"events": count, "build_events": len(build_events), "read_ms": read_ms, "decode_ms": decode_ms,
                "stream_ms": stream_ms, "from_events_ms": from_events_ms, "build_only_ms": build_only_ms,
                "resolve_ms": resolve_ms}
    finally:
        store.close()


# ----------------------------------------------------------------------------- 3. throughput

def drive_api(r: Runner, ids: list[str], wf: Any, executor: str,
              tick: Callable[[int], None]) -> tuple[float, float, list[str]]:
    t0 = time.perf_counter()
    for i, wid in enumerate(ids):
        r.start_workflow(wid, wf, executor=executor, input=i)
        tick(i + 1)
    t1 = time.perf_counter()
    statuses = [r.await_idle(wid) for wid in ids]
    return t0, t1, statuses


def drive_pipelined(r: Runner, ids: list[str], wf: Any, executor: str, window: int,
                    tick: Callable[[int], None]) -> tuple[float, float, list[str]]:
    """The same requests as ``drive_api``, up to ``window`` outstanding (tell, then listen)."""
    system = r.system
    options = {"max_concurrency": None, "checkpoint_strategy": "every_cycle", "executor": executor}

    def pump(make: Callable[[int], Any], want: type, tick: Callable[[int], None] = lambda n: None) -> list:
        replies: list = []
        sent = 0
        outstanding: set = set()
        while len(replies) < len(ids):
            while sent < len(ids) and len(outstanding) < window:
                msg = make(sent)
                outstanding.add(msg.ref)
                system.tell(r.address, msg)
                sent += 1
            reply = system.listen(120.0)
            if reply is None:
                raise RuntimeError(f"no reply within 120 s ({len(replies)} of {len(ids)} answered)")
            if isinstance(reply, ErrorReply):
                raise RuntimeError(f"{reply.type}: {reply.message}")  # noqa: TRY004 - a failed request
            if getattr(reply, "ref", None) not in outstanding:
                continue  # a late reply to something else
            outstanding.discard(reply.ref)
            assert isinstance(reply, want), reply
            replies.append(reply)
            tick(len(replies))
        return replies

    t0 = time.perf_counter()
    pump(lambda i: StartWorkflow(ids[i], pack(wf), options, None, pack(i), False), WorkflowStarted, tick)
    t1 = time.perf_counter()
    idles = pump(lambda i: AwaitIdle(ids[i]), Idle)
    return t0, t1, [m.status for m in idles]


def drive_batch(r: Runner, ids: list[str], wf: Any, executor: str, tick: Any) -> tuple[float, float, list]:
    """``start_many`` (one request for every workflow), then ``await_many``."""
    t0 = time.perf_counter()
    r.start_many(wf, [(wid, i) for i, wid in enumerate(ids)], executor=executor)
    t1 = time.perf_counter()
    tick(len(ids))
    statuses = r.await_many(ids)
    return t0, t1, [statuses[w] for w in ids]


def bench_throughput(count: int, modes: list[tuple[str, str]], window: int, work: Path) -> dict:
    out: dict = {}
    for how, executor in modes:
        say(f"  throughput: {count:,} workflows, {how}, executor={executor} ...")
        t = out[f"{how}-{executor}"] = in_child({"section": "throughput", "count": count, "how": how,
                                                 "executor": executor, "window": window}, work)
        say(f"    {t['per_s']:.0f} workflows/s; peak RSS (system) {t['rss_peak_mib']:.0f} MiB; CPU s {t['cpu_s']}")
    return out


def throughput_run(count: int, how: str, executor: str, window: int, work: Path,
                   py_spy: str | None = None) -> dict:
    """One fresh actor system and Runner; ``count`` short workflows driven ``how``."""
    wf = linear(3, "short")
    key = f"{how}-{executor}{'-profiled' if py_spy else ''}"
    store_dir = work / f"tp-{key}"
    store_dir.mkdir()
    with start_system() as system:
        r = Runner.start_link(name="bench-tp", store=MnesiaStore, store_opts={"dir": str(store_dir)},
                              system=system)
        try:
            roles = {e["pid"]: e["id"] for e in r.tree() if e.get("pid")}
            base_kib = sum(proc_status_kib(p, "VmRSS") for p in system.pids())
            ids = [f"wf-{i}" for i in range(count)]
            sampler = MemorySampler(system)
            all_pids = system.pids()
            cpu0 = {p: proc_cpu_s(p) for p in all_pids}
            drv0 = sum(os.times()[:2])
            spies = start_spies(py_spy, roles, work / f"spy-{key}") if py_spy else []
            runner_pid = next(p for p, role in roles.items() if role.endswith(".Runner"))
            block = max(1, count // 10)
            marks: list[tuple[int, float, float]] = [(0, time.perf_counter(), proc_cpu_s(runner_pid))]

            def tick(n: int) -> None:  # the runner actor's CPU per block of started workflows
                if n % block == 0:
                    marks.append((n, time.perf_counter(), proc_cpu_s(runner_pid)))

            sampler.start()
            if how == "api":
                t0, t1, statuses = drive_api(r, ids, wf, executor, tick)
            elif how == "batch":
                t0, t1, statuses = drive_batch(r, ids, wf, executor, tick)
            else:
                t0, t1, statuses = drive_pipelined(r, ids, wf, executor, window, tick)
            t2 = time.perf_counter()
            sampler.stop()
            cpu: dict[str, float] = {}
            for p in all_pids:
                role = roles.get(p, "admin, logger, watchdog")
                if role == "bench-tp" or role.endswith(".Store"):
                    role = "supervisor, store actor"
                cpu[role] = round(cpu.get(role, 0.0) + proc_cpu_s(p) - cpu0[p], 2)
            cpu["driver"] = round(sum(os.times()[:2]) - drv0, 2)
            hwm_kib = sum(proc_status_kib(p, "VmHWM") for p in system.pids())
            pss_kib = sum(proc_pss_kib(p) for p in system.pids())
            for s in spies:  # py-spy writes its profile on SIGINT
                s.send_signal(signal.SIGINT)
            for s in spies:
                s.wait(60)
            assert statuses.count("idle") == count, {s: statuses.count(s) for s in set(statuses)}
            for i in (0, count - 1):
                assert r.get_results(ids[i]) == [i + 1, i + 2, i + 3], r.get_results(ids[i])
            wall = t2 - t0
            res = {
                "workflows": count, "how": how, "executor": executor, "window": window if how != "api" else 1,
                "wall_s": wall, "start_phase_s": t1 - t0, "await_phase_s": t2 - t1,
                "per_s": count / wall, "processes": len(all_pids),
                "rss_base_mib": base_kib / 1024, "rss_peak_mib": sampler.peak_system_kib / 1024,
                "hwm_sum_mib": hwm_kib / 1024, "pss_end_mib": pss_kib / 1024,
                "driver_rss_peak_mib": sampler.peak_driver_kib / 1024,
                "cpu_s": cpu, "cpu_total_s": round(sum(cpu.values()), 2),
                "cpu_ms_per_wf": {k: round(v / count * 1e3, 3) for k, v in cpu.items()},
                "start_blocks": [{"upto": b[0], "per_s": block / (b[1] - a[1]),
                                  "runner_cpu_ms_per_wf": (b[2] - a[2]) / block * 1e3}
                                 for a, b in itertools.pairwise(marks)],
            }
            if spies:
                res["profile"] = summarise_spies(work / f"spy-{key}")
            return res
        finally:
            r.shutdown()
            shutdown_checked(system)


# ----------------------------------------------------------------------------- profiling (optional)

def start_spies(py_spy: str, roles: dict, outdir: Path) -> list:
    outdir.mkdir(exist_ok=True)
    targets = [(name, pid) for pid, name in roles.items() if name.endswith(".Runner") or ".host" in name]
    targets.append(("driver", os.getpid()))
    spies = []
    for name, pid in targets:
        spies.append(subprocess.Popen(
            [py_spy, "record", "-p", str(pid), "-r", "100", "--format", "raw", "--nonblocking",
             "-o", str(outdir / f"{name.replace('/', '_')}.txt")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    time.sleep(1.0)
    return spies


def summarise_spies(outdir: Path) -> dict:
    """Share of samples per area, per profiled process (py-spy raw format). A sample goes to
    the area of its innermost frame that names one (leaf first)."""
    areas = [("store (SQLite)", "runic/store/"), ("pick_host", "_pick_host"), ("pickle", "cloudpickle/"),
             ("thespian messaging", "thespian/"), ("runic core + runner", "runic/")]
    out: dict = {}
    for path in sorted(outdir.glob("*.txt")):
        counts: dict[str, int] = {}
        total = 0
        for line in path.read_text().splitlines():
            stack, _, n = line.rpartition(" ")
            if not n.isdigit():
                continue
            total += int(n)
            frames = stack.split(";")
            if frames[-1].startswith(("EpollSelector.select", "_PollLikeSelector.select", "HostLoop._run ")):
                area = "waiting (select, loop queue)"
            else:
                area = "other"
                for frame in reversed(frames[1:]):
                    hit = next((a for a, pat in areas if pat in frame), None)
                    if hit:
                        area = hit
                        break
            counts[area] = counts.get(area, 0) + int(n)
        out[path.stem] = {"samples": total, **{a: round(100 * c / max(1, total), 1)
                                               for a, c in sorted(counts.items(), key=lambda x: -x[1])}}
    return out


def probes() -> dict:
    """In-process probes of the two costs the throughput profile points at (no actors)."""
    from runic.runner.actor import RunnerActor, _Entry
    from runic.runner.service import HostService
    from runic.runner.loop import HostLoop

    actor = RunnerActor.__new__(RunnerActor)
    actor.conf, actor.workflows, actor._rr = {"pool": ["h-0", "h-1"]}, {}, 0
    actor.child_address = lambda h: h  # type: ignore[method-assign]
    total = 0.0
    for i in range(10_000):
        t = time.perf_counter()
        host = actor._pick_host()
        total += time.perf_counter() - t
        actor.workflows[f"w{i}"] = _Entry(host, "running")
    t = time.perf_counter()
    actor._pick_host()
    last = time.perf_counter() - t

    tmp = tempfile.mkdtemp(prefix="runic-probe-")
    try:
        store = MnesiaStore("probe", dir=tmp)
        loop = HostLoop("probe-host", store)
        svc = HostService(loop, "probe")
        wf = linear(3, "short")
        opts = {"max_concurrency": None, "checkpoint_strategy": "every_cycle", "executor": "inline"}

        def batch(first: int, m: int) -> None:
            for i in range(first, first + m):
                svc.start(StartWorkflow(f"w{i}", pack(wf), opts, None, pack(i), False))
                svc.await_idle(AwaitIdle(f"w{i}"))

        batch(0, 200)
        t = time.perf_counter()
        batch(1_000, 2_000)
        host_ms = (time.perf_counter() - t) / 2_000 * 1e3

        # a 1,000-step pipeline run inline on a Worker in this process: with the store's append,
        # and with the append replaced by a no-op (what is left: the core and the Worker)
        from runic.runner.worker import Worker

        def pipeline_us(tag: str) -> float:
            samples = []
            for k in range(4):
                wid = f"{tag}-{k}"
                worker = Worker(loop, wid, linear(1_000), {"executor": "inline"}, None, store.acquire(wid, "probe"))
                t = time.perf_counter()
                worker.run(0)
                samples.append((time.perf_counter() - t) / 1_000 * 1e6)
            return statistics.median(samples[1:])

        step_us = pipeline_us("durable")
        store.append = lambda *a, **k: 0  # type: ignore[method-assign]
        no_append_us = pipeline_us("no-append")
        del store.append
        store.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {"pick_host_10k_total_s": total, "pick_host_at_10k_us": last * 1e6, "host_work_ms_per_wf": host_ms,
            "inline_step_us": step_us, "inline_step_no_append_us": no_append_us}


# ----------------------------------------------------------------------------- report

def ok(flag: bool) -> str:
    return "met" if flag else "MISSED"


def report(res: dict) -> None:
    sizes = res["sizes"]
    print(f"# runic Runner benchmark ({platform.python_implementation()} {platform.python_version()}, "
          f"SQLite {sqlite3.sqlite_version}, {os.cpu_count()} CPUs{', quick' if res['quick'] else ''}; "
          f"{time.strftime('%Y-%m-%d %H:%M')})")
    pipe = res.get("pipeline")
    peers = res.get("peers")
    if pipe:
        print(f"\n## 1. Durable pipeline, step = x + 1: µs per step = (median wall - plain loop) / N, "
              f"median of {res['repeats']} runs\n({3 * res['repeats']} below N=1,000) after a warm-up, "
              f"a fresh id per run ({fmt_cond(res['cond']['pipeline'])})")
        head = "".join(f"{'N=' + format(n, ','):>12}" for n in sizes)
        head2 = "".join(f"{'N=' + format(n, ',') + ' +start':>17}" for n in sizes)
        print(f"\n{'runtime / store':<58}{head}{head2}{'1 step, ms':>12}")
        names = {"inline": "runic inline executor, MnesiaStore disc (WAL, NORMAL)",
                 "thread": "runic thread executor, MnesiaStore disc (WAL, NORMAL)",
                 "inline-fsync": "runic inline, MnesiaStore disc, durability=fsync"}
        for label, figs in pipe.items():
            row = "".join(f"{figs[str(n)]['us_per_step']:>12.1f}" for n in sizes)
            row2 = "".join(f"{figs[str(n)]['us_per_step_incl_start']:>17.1f}" for n in sizes)
            print(f"{names.get(label, label):<58}{row}{row2}{figs['1']['run_ms']:>12.2f}")
        peer_names = {"dbos": "DBOS Transact, SQLite file (defaults: journal, FULL)",
                      "langgraph": "LangGraph + SqliteSaver, durability=\"sync\""}
        if peers and peers.get("live"):
            for name in ("dbos", "langgraph"):
                p = peers.get(name, {})
                if "error" in p:
                    print(f"{peer_names[name]:<58}  failed: {p['error']}")
                    continue
                vers = p.get("version")
                row = "".join(f"{p[str(n)]['us_per_step']:>12.1f}" for n in sizes)
                print(f"{(peer_names[name] + f' [{vers}]'):<58}{row}")
            peer_figs = {name: {str(n): peers[name][str(n)]["us_per_step"] for n in sizes}
                         for name in ("dbos", "langgraph") if "error" not in peers.get(name, {"error": 1})}
            src = f"measured in this run ({peers.get('python_exe')}; {fmt_cond(res['cond']['peers'])})"
        else:
            peer_figs = {name: {str(n): PEERS_REFERENCE[name][str(n)] for n in sizes if str(n) in PEERS_REFERENCE[name]}
                         for name in PEERS_REFERENCE}
            for name, figs in peer_figs.items():
                row = "".join(f"{figs.get(str(n), float('nan')):>12.1f}" for n in sizes)
                print(f"{(peer_names[name] + ' [REFERENCE]'):<58}{row}")
            src = "REFERENCE figures from shared/notes/peers.md §3.1 (not measured in this run)"
        print(f"\npeers: {src}")
        print("'+start' also counts start_workflow (the workflow shipped to its host, its build log persisted);\n"
              "'1 step' = median wall of run(await_idle=True) on a 1-step workflow: the fixed cost of the request.")
        print(f"\nratio peer / runic (µs per step){'':<27}" + "".join(f"{'N=' + format(n, ','):>12}" for n in sizes))
        for name, figs in peer_figs.items():
            for label in ("inline", "thread"):
                if label not in pipe:
                    continue
                row = "".join(f"{figs[str(n)] / pipe[label][str(n)]['us_per_step']:>11.1f}x" for n in sizes)
                print(f"{(name + ' / runic ' + label):<59}{row}")
        print("\ntargets:")
        for label in ("inline", "thread"):
            if label in pipe:
                worst = max(pipe[label][str(n)]["us_per_step"] for n in sizes)
                min_ratio = min(figs[str(n)] / pipe[label][str(n)]["us_per_step"]
                                for figs in peer_figs.values() for n in sizes)
                print(f"  runic {label}: <= {TARGET_STEP_US:.0f} µs per durable step: {ok(worst <= TARGET_STEP_US)} "
                      f"(worst {worst:.1f}); >= {TARGET_RATIO:.0f}x faster than both peers: "
                      f"{ok(min_ratio >= TARGET_RATIO)} (lowest ratio {min_ratio:.1f}x)")
    rs = res.get("resume")
    if rs:
        print(f"\n## 2. Resume of a stopped workflow (median of {next(iter(rs.values()))['runs']} runs after a "
              f"warm-up; {fmt_cond(res['cond']['resume'])})")
        print(f"\n{'workflow':<24}{'events':>8}{'resume()':>10}{'stream':>9}{'(read':>8}{'decode)':>9}"
              f"{'from_events':>13}{'(graph)':>9}{'facts':>8}{'rest':>8}   ms")
        for key, m in rs.items():
            print(f"{m['label']:<24}{m['events']:>8,.0f}{m['resume_ms']:>10.1f}{m['stream_ms']:>9.1f}"
                  f"{m['read_ms']:>8.1f}{m['decode_ms']:>9.1f}{m['from_events_ms']:>13.1f}{m['build_only_ms']:>9.1f}"
                  f"{m['resolve_ms']:>8.1f}{m['rest_ms']:>8.1f}")
        print("resume() = wall time of runner.resume(id) (answers when the Worker is up). Parts measured in this\n"
              "process on the same store file: stream = store.stream read + decode (read = the SQLite rows\n"
              "alone, decode = msgpack alone); from_events = Workflow.from_events (graph = the same on the\n"
              "build events alone); facts = resolving fact values; rest = resume() - the parts (4 actor\n"
              "messages, acquire, the Worker, its status write).")
        for key, m in rs.items():
            print(f"  target resume <= {TARGET_RESUME_MS:.0f} ms ({m['label']}): "
                  f"{ok(m['resume_ms'] <= TARGET_RESUME_MS)} ({m['resume_ms']:.1f} ms)")
    tp = res.get("throughput")
    if tp:
        print(f"\n## 3. Short workflows (3 steps) started with an input, run and completed through one Runner "
              f"({fmt_cond(res['cond']['throughput'])})")
        print(f"\n{'driven by':<36}{'workflows':>10}{'wf/s':>8}{'wall s':>8}{'start':>7}{'await':>7}"
              f"{'peak RSS':>10}{'sum HWM':>9}{'PSS end':>9}   MiB (system)")
        for key, t in tp.items():
            how = ("Runner API, blocking calls" if t["how"] == "api" else "start_many + await_many"
                   if t["how"] == "batch" else f"pipelined requests, window {t['window']}")
            print(f"{how + ', ' + t['executor']:<36}{t['workflows']:>10,}{t['per_s']:>8.0f}{t['wall_s']:>8.1f}"
                  f"{t['start_phase_s']:>7.1f}{t['await_phase_s']:>7.1f}{t['rss_peak_mib']:>10.0f}"
                  f"{t['hwm_sum_mib']:>9.0f}{t['pss_end_mib']:>9.0f}")
        print("peak RSS = the highest sampled sum of VmRSS over every process of the actor system (0.2 s);\n"
              "sum HWM = sum of their VmHWM (an upper bound); PSS end = summed PSS after the run (shared\n"
              "pages counted once). The driver's own RSS is not included (peak shown in the JSON).")
        print("\nCPU seconds per process during the run (ms per workflow):")
        for key, t in tp.items():
            parts = ", ".join(f"{k} {v:.1f} s ({t['cpu_ms_per_wf'][k]:.2f})" for k, v in
                              sorted(t["cpu_s"].items(), key=lambda x: -x[1]))
            print(f"  {key}: total {t['cpu_total_s']:.1f} s over {t['wall_s']:.1f} s wall on {os.cpu_count()} CPUs; {parts}")
            blocks = t.get("start_blocks") or []
            if len(blocks) >= 2:
                first, last = blocks[0], blocks[-1]
                print(f"    start phase, first {first['upto']:,} vs last {first['upto']:,} workflows: "
                      f"{first['per_s']:.0f} vs {last['per_s']:.0f} starts/s, runner actor CPU "
                      f"{first['runner_cpu_ms_per_wf']:.2f} vs {last['runner_cpu_ms_per_wf']:.2f} ms per start")
        best = max(tp.values(), key=lambda t: t["per_s"])
        peak = max(t["rss_peak_mib"] for t in tp.values())
        print(f"\n  target >= {TARGET_WF_PER_S:.0f} workflows/s: {ok(best['per_s'] >= TARGET_WF_PER_S)} "
              f"(best {best['per_s']:.0f}/s, {best['how']}-{best['executor']})")
        print(f"  target peak memory <= 2 GiB: {ok(peak <= TARGET_MEMORY_MIB)} (highest peak RSS {peak:.0f} MiB)")
    prof = res.get("profile")
    if prof:
        print(f"\n## Where the time goes: a separate pipelined-inline run of {prof['workflows']:,} workflows under "
              f"py-spy (100 Hz;\nthe profiler slows every process, so its {prof['per_s']:.0f} workflows/s is not a figure; "
              f"{fmt_cond(res['cond']['profile'])})")
        print("share of samples per process, by the innermost frame's area:")
        for proc, areas in prof["profile"].items():
            print(f"  {proc:<18} " + ", ".join(f"{a} {v}%" for a, v in areas.items() if a != "samples"))
    if res.get("probes"):
        p = res["probes"]
        print(f"in-process probes (no actors): a host's work per short workflow (start + 3 steps + idle, 8 store\n"
              f"transactions): {p['host_work_ms_per_wf']:.2f} ms; RunnerActor._pick_host: {p['pick_host_10k_total_s']:.2f} s "
              f"over 10,000 starts ({p['pick_host_at_10k_us']:.0f} µs per call with 10,000 workflows registered);\n"
              f"a 1,000-step pipeline run inline on a Worker in this process: {p['inline_step_us']:.1f} µs per step, "
              f"{p['inline_step_no_append_us']:.1f} µs\nwith the store append replaced by a no-op")


# ----------------------------------------------------------------------------- sections in child processes

def in_child(job: dict, work: Path) -> dict:
    """Run one section in a fresh interpreter. The actor system's processes are forked from the
    process that starts it, so each section starts from a small heap, whatever ran before."""
    job = {**job, "work": str(work)}
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--_child", json.dumps(job)],
                          stdout=subprocess.PIPE, text=True, timeout=3600, check=False)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"section {job['section']} failed (exit {proc.returncode})")
    return json.loads(lines[-1])


def run_child(job: dict) -> None:
    work = Path(job["work"])
    section = job["section"]
    if section == "pipeline":
        out = bench_pipeline(job["sizes"], job["repeats"], work)
    elif section == "resume":
        out = bench_resume(job["repeats"], work)
    elif section == "throughput":
        out = throughput_run(job["count"], job["how"], job["executor"], job["window"], work, job.get("py_spy"))
    elif section == "probes":
        out = probes()
    else:
        raise SystemExit(f"unknown section {section!r}")
    sys.stdout.write("\n" + json.dumps(out, default=str) + "\n")
    sys.stdout.flush()


# ----------------------------------------------------------------------------- main

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="3 repeats, 1,000 short workflows, 2 throughput modes")
    ap.add_argument("--repeats", type=int, help="timed runs per figure (default 5, quick 3)")
    ap.add_argument("--sizes", default="100,1000", help="pipeline lengths (default 100,1000)")
    ap.add_argument("--workflows", type=int, help="short workflows for the throughput (default 10,000; quick 1,000)")
    ap.add_argument("--window", type=int, default=50, help="outstanding requests when pipelined (default 50)")
    ap.add_argument("--sections", default="pipeline,resume,throughput")
    ap.add_argument("--modes", help="throughput modes, e.g. api-thread,api-inline,pipelined-thread,pipelined-inline")
    ap.add_argument("--peers-python", help="interpreter with dbos, langgraph, langgraph-checkpoint-sqlite")
    ap.add_argument("--no-peers", action="store_true", help="print the reference figures instead of running the peers")
    ap.add_argument("--profile", metavar="PY_SPY", help="py-spy executable: profile runner, hosts and driver "
                                                        "during the throughput runs, and run in-process probes")
    ap.add_argument("--wait-quiet", type=float, default=20.0,
                    help="before each section, wait up to this many s for background CPU < 25%% (default 20)")
    ap.add_argument("--json", metavar="FILE", help="also write the raw figures as JSON")
    ap.add_argument("--baseline", metavar="DIR", help="table: another runic's source directory, measured alternately")
    ap.add_argument("--ab-rounds", type=int, default=2, help="table: alternating rounds per cell (default 2)")
    ap.add_argument("--no-pg", action="store_true", help="table: skip the PostgreSQL rows")
    ap.add_argument("--_child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args._child:
        return run_child(json.loads(args._child))

    repeats = args.repeats or (3 if args.quick else 5)
    sizes = [int(s) for s in args.sizes.split(",")]
    count = args.workflows or (1_000 if args.quick else 10_000)
    sections = set(args.sections.split(","))
    modes_arg = args.modes or ("batch-thread,pipelined-inline,api-thread" if args.quick else
                               "batch-thread,batch-inline,api-thread,api-inline,pipelined-thread,pipelined-inline")
    modes = [tuple(m.split("-", 1)) for m in modes_arg.split(",")]
    res: dict = {"quick": args.quick, "repeats": repeats, "sizes": sizes, "cond": {},
                 "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                             "sqlite": sqlite3.sqlite_version, "kernel": platform.release()}}
    peers_exe = None if args.no_peers else find_peers_python(args.peers_python)
    work = Path(tempfile.mkdtemp(prefix="runic-runner-bench-"))
    try:
        if "table" in sections:
            import _hotpath

            res["cond"]["table"] = conditions(args.wait_quiet)
            say(f"table ({fmt_cond(res['cond']['table'])}) ...")
            res["table"] = _hotpath.table(work, args.baseline, args.ab_rounds, args.quick,
                                          None if args.no_peers else find_dbos_python(args.peers_python),
                                          not args.no_pg, say)
            print(f"# the durable hot path (runic {runic.__version__}, Python {platform.python_version()}, "
                  f"SQLite {sqlite3.sqlite_version}, {os.cpu_count()} CPUs; {fmt_cond(res['cond']['table'])})")
            _hotpath.report(res["table"])
            if args.json:
                Path(args.json).write_text(json.dumps(res, indent=1, default=str))
            if sections == {"table"}:
                return
        if "pipeline" in sections:
            res["cond"]["pipeline"] = conditions(args.wait_quiet)
            say(f"pipeline ({fmt_cond(res['cond']['pipeline'])}) ...")
            res["pipeline"] = in_child({"section": "pipeline", "sizes": sizes, "repeats": repeats}, work)
            if peers_exe:
                res["cond"]["peers"] = conditions(args.wait_quiet)
                say(f"peers with {peers_exe} ({fmt_cond(res['cond']['peers'])}) ...")
                try:
                    res["peers"] = {"live": True, **bench_peers(peers_exe, sizes, repeats, work)}
                except Exception as exc:  # noqa: BLE001 - fall back to the references
                    say(f"  peer run failed, printing references instead: {exc}")
                    res["peers"] = {"live": False, "error": str(exc)}
            else:
                say("peers: no interpreter with dbos + langgraph found; printing reference figures")
                res["peers"] = {"live": False}
        if "resume" in sections:
            res["cond"]["resume"] = conditions(args.wait_quiet)
            say(f"resume ({fmt_cond(res['cond']['resume'])}) ...")
            res["resume"] = in_child({"section": "resume", "repeats": repeats}, work)
        if "throughput" in sections:
            res["cond"]["throughput"] = conditions(args.wait_quiet)
            say(f"throughput ({fmt_cond(res['cond']['throughput'])}) ...")
            res["throughput"] = bench_throughput(count, modes, args.window, work)
        if args.profile:
            res["cond"]["profile"] = conditions(args.wait_quiet)
            say(f"profiled run: {count:,} workflows, pipelined, inline, under py-spy ...")
            res["profile"] = in_child({"section": "throughput", "count": count, "how": "pipelined",
                                       "executor": "inline", "window": args.window, "py_spy": args.profile}, work)
            say("in-process probes ...")
            res["probes"] = in_child({"section": "probes"}, work)
        report(res)
        if args.json:
            Path(args.json).write_text(json.dumps(res, indent=1, default=str))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
