"""Store benchmark: runic's MnesiaStore (disc and RAM) and MemoryStore, side by side with Mnesia.

    .venv/bin/python bench/store.py                  # full run (~2-3 min), Mnesia live if `erl` is on PATH
    .venv/bin/python bench/store.py --quick          # smaller counts (~30 s)
    .venv/bin/python bench/store.py --durability 6   # only the kill -9 trials (6 per engine)
    .venv/bin/python bench/store.py --no-erlang --json out.json

Measures, for every store configuration, with events like the core's ``FactProduced``
(~200 bytes packed; ``runic.events.FactProduced`` encoded by ``runic.codec``):

* ``append`` of 1 and of 10 events per call: calls/s, p50/p99 µs per call (one transaction per call);
* 2 writer processes appending 1 event per call to their own workflows: total calls/s
  (shared configurations only: a disc file, and RAM tables inside a real actor system);
* ``stream`` of 10,000 events, fully consumed and decoded: events/s (and the engine alone,
  without decoding);
* ``save``/``load`` of a 1,000-event log and ``save_fact``/``load_fact``: p50 µs.

Where Erlang/OTP is installed (``erl`` and ``erlc`` on PATH; Debian: ``apt-get install
erlang-base erlang-mnesia``) the same pattern runs against Mnesia in the same run
(``bench/mnesia_bench.erl``, one fresh VM and Mnesia dir per cell), and the ratios are printed.
Otherwise the reference figures measured on this kind of machine (``../shared/notes/mnesia.md``)
are printed, labelled as such.

``--durability N`` runs kill -9 trials: a writer process appends in a loop and acknowledges each
returned cursor on a pipe (runic) or a raw file (Mnesia); it is killed with SIGKILL after a random
0.3-1.5 s; the store is reopened and checked. Reported: acknowledged appends lost, counter vs
events present, gaps.

Targets (issue 3): append at least as fast as Mnesia disc_copies (p50 ~28 µs for 1 event),
stream at >= Mnesia's ~720,000 events/s, 0 acknowledged appends lost under kill -9.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from runic import codec  # noqa: E402
from runic.events import FactProduced  # noqa: E402
from runic.store import BaseStore, MemoryStore, MnesiaStore  # noqa: E402
from runic.store.checksum import key_seed  # noqa: E402

try:  # schema 3: one row per append (an older runic, for an A/B run, appends rows of one event)
    from runic.store.base import AppendRow  # noqa: E402
except ImportError:  # pragma: no cover
    AppendRow = None  # type: ignore[assignment,misc]

ERL_SOURCE = Path(__file__).with_name("mnesia_bench.erl")

#: Mnesia figures from ../shared/notes/mnesia.md (OTP 25.2.3, stock erl, medians of 7 runs)
MNESIA_REFERENCE: dict[str, dict[str, float]] = {
    "disc_copies": {
        "append1_cps": 23728, "append1_p50": 28.5, "append1_p99": 203.6,
        "append10_cps": 6876, "append10_p50": 103.0, "append10_p99": 767.1,
        "append1_w2_cps": 24163, "stream_eps": 721242,
        "save_p50": 616.9, "load_p50": 52.5, "save_fact_p50": 17.7, "load_fact_p50": 0.9,
    },
    "ram_copies": {
        "append1_cps": 29628, "append1_p50": 32.6, "append1_p99": 86.9,
        "append10_cps": 10041, "append10_p50": 90.8, "append10_p99": 178.6,
        "append1_w2_cps": 33171, "stream_eps": 746598,
        "save_p50": 307.9, "load_p50": 52.0, "save_fact_p50": 16.9, "load_fact_p50": 0.8,
    },
}
MNESIA_REFERENCE_DURABILITY = "38 trials: acknowledged commits lost in 28 of 38, up to 136 (batch 1) and 20 commits = 200 events (batch 10)"


# ----------------------------------------------------------------------------- workload

def make_event(i: int) -> FactProduced:
    """An event shaped like the core's FactProduced, ~200 bytes encoded."""
    return FactProduced(
        hash=(2**63 + i * 7919) % 2**64,
        value={"order_id": i, "status": "approved", "customer": f"cust-{i % 1000:05d}",
               "amount_cents": 1299 * i % 100000, "currency": "EUR", "channel": "web",
               "sku": f"SKU-{i % 9973:06d}", "note": "express"},
        ancestry=((2**62 + i) % 2**64, (2**61 + 7 * i) % 2**64),
        producer_label="produced",
        weight=i % 7,
    )


BATCHES: dict[int, list[list[FactProduced]]] = {}


def batches(k: int) -> list[list[FactProduced]]:
    if k not in BATCHES:
        BATCHES[k] = [[make_event(b * 100 + j) for j in range(k)] for b in range(64)]
    return BATCHES[k]


def pct(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, round(p / 100 * len(sorted_values)) - 1))
    return sorted_values[k]


# ----------------------------------------------------------------------------- our stores

class Config:
    """One store configuration: how to open it, and whether other processes can share it."""

    def __init__(self, name: str, label: str, mnesia: str | None, shared: bool,
                 opener: Callable[[str, Path], BaseStore]) -> None:
        self.name, self.label, self.mnesia, self.shared, self.opener = name, label, mnesia, shared, opener


CONFIGS = [
    Config("disc", "runic MnesiaStore disc (WAL, NORMAL)", "disc_copies", True,
           lambda r, d: MnesiaStore(r, dir=d)),
    Config("disc-fsync", "runic MnesiaStore disc, durability=fsync", "disc_copies", True,
           lambda r, d: MnesiaStore(r, dir=d, durability="fsync")),
    Config("ram-shared", "runic MnesiaStore RAM in an actor system (/dev/shm file)", "ram_copies", True,
           lambda r, d: MnesiaStore(r, disc_copies=False)),
    Config("ram", "runic MnesiaStore RAM, no actor system (in-process)", "ram_copies", False,
           lambda r, d: MnesiaStore(r, disc_copies=False)),
    Config("memory", "runic MemoryStore (in-process)", "ram_copies", False,
           lambda r, d: MemoryStore(r)),
]


def bench_append(store: BaseStore, k: int, n: int, cap_s: float, wf: str = "wf") -> dict[str, float]:
    bs = batches(k)
    for i in range(500):
        store.append("warm", bs[i % 64])
    lat: list[int] = []
    clock = time.perf_counter_ns
    deadline = clock() + int(cap_s * 1e9)
    t0 = clock()
    for i in range(n):
        t = clock()
        store.append(wf, bs[i % 64])
        end = clock()
        lat.append(end - t)
        if end > deadline:
            break
    wall = clock() - t0
    lat.sort()
    return {"calls": len(lat), "cps": len(lat) / (wall / 1e9), "p50": pct(lat, 50) / 1000,
            "p99": pct(lat, 99) / 1000}


def bench_append_raw(store: BaseStore, k: int, n: int, cap_s: float) -> dict[str, float]:
    """Append through the adapter primitive with pre-encoded (and checksummed) events: the
    store's own cost."""
    key = store._key("raw")
    seed = key_seed(key)
    blobs = [AppendRow(codec.dumps_batch(batch), len(batch), seed) for batch in batches(k)]
    warm = store._key("warm-raw")
    for i in range(500):
        store._append(warm, AppendRow(blobs[i % 64].blob, k, key_seed(warm)), None, [], None)
    lat: list[int] = []
    clock = time.perf_counter_ns
    deadline = clock() + int(cap_s * 1e9)
    for i in range(n):
        t = clock()
        store._append(key, blobs[i % 64], None, [], None)
        end = clock()
        lat.append(end - t)
        if end > deadline:
            break
    lat.sort()
    return {"cps": len(lat) / (sum(lat) / 1e9), "p50": pct(lat, 50) / 1000}


def quiet_gate(limit_pct: float = 20.0, max_wait_s: float = 30.0) -> float:
    """Wait (up to ``max_wait_s``) until the machine's CPU use is below ``limit_pct``; return it."""

    def busy() -> float:
        def sample() -> tuple[int, int]:
            with open("/proc/stat") as fh:
                vals = [int(x) for x in fh.readline().split()[1:]]
            return sum(vals), vals[3] + vals[4]

        t1, i1 = sample()
        time.sleep(0.5)
        t2, i2 = sample()
        return 100.0 * (1 - (i2 - i1) / max(1, t2 - t1))

    deadline = time.monotonic() + max_wait_s
    b = busy()
    while b > limit_pct and time.monotonic() < deadline:
        b = busy()
    return b


def bench_stream(store: BaseStore, events: int, repeats: int) -> dict[str, float]:
    bs = batches(10)
    for b in range(events // 10):
        store.append("other", bs[(b + 7) % 64][:1])
        store.append("wf", bs[b % 64])
    times, raw, full = [], [], []
    key = store._key("wf")
    for _ in range(repeats):
        t = time.perf_counter()
        got = list(store.stream("wf"))
        times.append(time.perf_counter() - t)
        assert len(got) == events
        t = time.perf_counter()  # every field of every event read (the lazy values decoded too)
        got = [(e.hash, e.value, e.ancestry, e.producer_label, e.weight) for e in store.stream("wf")]
        full.append(time.perf_counter() - t)
        assert len(got) == events
        t = time.perf_counter()
        rows = store._read_rows(key, 1, events, events)
        raw.append(time.perf_counter() - t)
        assert sum(r[1] or 1 for r in rows) == events
    return {"stream_eps": events / statistics.median(times),
            "stream_values_eps": events / statistics.median(full),
            "stream_raw_eps": events / statistics.median(raw)}


def bench_blobfact(store: BaseStore, saves: int, facts: int) -> dict[str, float]:
    logs = [[make_event(v * 1000 + i) for i in range(1000)] for v in range(16)]
    clock = time.perf_counter_ns
    save_l, load_l = [], []
    for i in range(saves):
        t = clock()
        store.save(f"wf{i % 10}", logs[i % 16])
        save_l.append(clock() - t)
    for i in range(saves):
        t = clock()
        store.load(f"wf{i % 10}")
        load_l.append(clock() - t)
    fs, fl = [], []
    for i in range(facts):
        value = {"order_id": i, "status": "approved", "amount_cents": 1299}
        t = clock()
        store.save_fact(i * 7919, value)
        fs.append(clock() - t)
    for i in range(facts):
        t = clock()
        store.load_fact(i * 7919)
        fl.append(clock() - t)
    for x in (save_l, load_l, fs, fl):
        x.sort()
    blobs = [codec.dumps(log) for log in logs]
    raw_s, raw_l = [], []
    for i in range(saves):  # the store's own cost: encoded bytes in, bytes out
        key = store._key(f"raw{i % 10}")
        t = clock()
        store._put_log(key, blobs[i % 16], 0, 0)
        raw_s.append(clock() - t)
    for i in range(saves):
        key = store._key(f"raw{i % 10}")
        t = clock()
        store._get_log(key)
        raw_l.append(clock() - t)
    for x in (raw_s, raw_l):
        x.sort()
    return {"save_p50": pct(save_l, 50) / 1000, "load_p50": pct(load_l, 50) / 1000,
            "save_raw_p50": pct(raw_s, 50) / 1000, "load_raw_p50": pct(raw_l, 50) / 1000,
            "save_fact_p50": pct(fs, 50) / 1000, "load_fact_p50": pct(fl, 50) / 1000}


def run_writer_child(args: list[str]) -> None:
    """Hidden mode: one of the 2 writer processes (``--_writer CONFIG DIR RUNNER WF N CAP GO``)."""
    name, d, runner, wf, n, cap, go = args
    cfg = next(c for c in CONFIGS if c.name == name)
    store = cfg.opener(runner, Path(d))
    bs = batches(1)
    for i in range(500):
        store.append("warm-" + wf, bs[i % 64])
    print(json.dumps({"ready": True}), flush=True)
    give_up = time.monotonic() + 60
    while not os.path.exists(go):
        if time.monotonic() > give_up:
            raise SystemExit("the benchmark driver never said go")
        time.sleep(0.0005)
    clock = time.perf_counter_ns
    lat = []
    start = time.time()
    deadline = clock() + int(float(cap) * 1e9)
    for i in range(int(n)):
        t = clock()
        store.append(wf, bs[i % 64])
        end = clock()
        lat.append(end - t)
        if end > deadline:
            break
    print(json.dumps({"start": start, "end": time.time(), "lat": lat}), flush=True)
    store.close()


def bench_two_writers(cfg: Config, d: Path, runner: str, n: int, cap_s: float) -> dict[str, float]:
    d.mkdir(parents=True, exist_ok=True)
    go = d / f"go-{uuid.uuid4().hex[:6]}"
    procs = [subprocess.Popen([sys.executable, __file__, "--_writer", cfg.name, str(d), runner,
                               f"wf{w}", str(n), str(cap_s), str(go)],
                              stdout=subprocess.PIPE, text=True) for w in range(2)]
    try:
        for p in procs:
            assert json.loads(p.stdout.readline())["ready"]  # type: ignore[union-attr]
        go.touch()
        res = [json.loads(p.stdout.readline()) for p in procs]  # type: ignore[union-attr]
    finally:
        for p in procs:
            try:
                p.wait(60)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
    with cfg.opener(runner, d) as s:  # check: gapless, counter = acknowledged
        for w, r in enumerate(res):
            assert s.cursor(f"wf{w}") == len(r["lat"]) == sum(1 for _ in s.stream(f"wf{w}"))
    lat = sorted(x for r in res for x in r["lat"])
    wall = max(r["end"] for r in res) - min(r["start"] for r in res)
    return {"append1_w2_cps": len(lat) / wall, "append1_w2_p50": pct(lat, 50) / 1000,
            "append1_w2_p99": pct(lat, 99) / 1000}


def run_ours(cfg: Config, work: Path, sizes: dict[str, int]) -> dict[str, float]:
    out: dict[str, float] = {}

    def fresh() -> tuple[BaseStore, Path, str]:
        d = work / uuid.uuid4().hex[:8]
        runner = "b" + uuid.uuid4().hex[:8]
        return cfg.opener(runner, d), d, runner

    for k, n in ((1, sizes["append1"]), (10, sizes["append10"])):
        store, _, _ = fresh()
        with store:
            r = bench_append(store, k, n, sizes["cap"])
            out.update({f"append{k}_cps": r["cps"], f"append{k}_p50": r["p50"], f"append{k}_p99": r["p99"]})
            r = bench_append_raw(store, k, n, sizes["cap"])
            out.update({f"append{k}_raw_cps": r["cps"], f"append{k}_raw_p50": r["p50"]})
            store.drop_tables() if cfg.name in ("ram", "memory") else None
    if cfg.shared:
        store, d, runner = fresh()
        store.close()
        out.update(bench_two_writers(cfg, d, runner, sizes["append1"], sizes["cap"]))
    store, _, _ = fresh()
    with store:
        out.update(bench_stream(store, sizes["stream"], sizes["repeats"]))
        if not store.closed and cfg.name in ("ram", "memory"):
            store.drop_tables()
    store, _, _ = fresh()
    with store:
        out.update(bench_blobfact(store, sizes["saves"], sizes["facts"]))
        if not store.closed and cfg.name in ("ram", "memory"):
            store.drop_tables()
    return out


# ----------------------------------------------------------------------------- Mnesia, live

def erlang_available() -> bool:
    return shutil.which("erl") is not None and shutil.which("erlc") is not None


def compile_erl(work: Path) -> Path:
    ebin = work / "ebin"
    ebin.mkdir(exist_ok=True)
    subprocess.run(["erlc", "-o", str(ebin), str(ERL_SOURCE)], check=True)
    return ebin


def erl_cmd(ebin: Path, mdir: Path, storage: str, *args: object) -> list[str]:
    return ["erl", "-noshell", "-pa", str(ebin), "-mnesia", "dir", f'"{mdir}"',
            "-run", "mnesia_bench", "main", storage, *map(str, args)]


def erl_cell(ebin: Path, work: Path, storage: str, *args: object) -> dict[str, float]:
    mdir = work / f"mnesia-{uuid.uuid4().hex[:8]}"
    mdir.mkdir()
    try:
        proc = subprocess.run(erl_cmd(ebin, mdir, storage, *args), capture_output=True, text=True,
                              timeout=300, cwd=work)  # (a crash dump would land in cwd)
        line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
        if line is None:
            raise RuntimeError(f"mnesia_bench {args} failed: {proc.stdout[-500:]} {proc.stderr[-500:]}")
        return {k: float(v) for k, v in (kv.split("=") for kv in line.split()[1:])}
    finally:
        shutil.rmtree(mdir, ignore_errors=True)


def run_mnesia(ebin: Path, work: Path, storage: str, sizes: dict[str, int]) -> dict[str, float]:
    out: dict[str, float] = {}
    cap_ms = int(sizes["cap"] * 1000)
    for k, n in ((1, sizes["append1"]), (10, sizes["append10"])):
        r = erl_cell(ebin, work, storage, "append", k, n, cap_ms, 1)
        out.update({f"append{k}_cps": r["txns"] / (r["wall_ns"] / 1e9),
                    f"append{k}_p50": r["p50_ns"] / 1000, f"append{k}_p99": r["p99_ns"] / 1000})
    r = erl_cell(ebin, work, storage, "append", 1, sizes["append1"], cap_ms, 2)
    out.update({"append1_w2_cps": r["txns"] / (r["wall_ns"] / 1e9), "append1_w2_p50": r["p50_ns"] / 1000,
                "append1_w2_p99": r["p99_ns"] / 1000})
    r = erl_cell(ebin, work, storage, "stream", sizes["stream"], sizes["repeats"])
    out["stream_eps"] = r["events"] / (r["median_ns"] / 1e9)
    r = erl_cell(ebin, work, storage, "blobfact", sizes["saves"], sizes["facts"])
    out.update({"save_p50": r["save_p50_ns"] / 1000, "load_p50": r["load_p50_ns"] / 1000,
                "save_fact_p50": r["save_fact_p50_ns"] / 1000, "load_fact_p50": r["load_fact_p50_ns"] / 1000})
    return out


# ----------------------------------------------------------------------------- kill -9 trials

def run_durwriter_child(args: list[str]) -> None:
    """Hidden mode: append forever, acknowledging each cursor with one os.write."""
    d, k = args[0], int(args[1])
    with MnesiaStore("dur", dir=d) as s:
        os.write(1, b"READY\n")
        seq = 0
        while True:
            cursor = s.append("wf", [[k, x] for x in range(seq + 1, seq + k + 1)])
            os.write(1, b"%d\n" % cursor)
            seq = cursor


def durability_ours(work: Path, k: int, delay: float) -> dict[str, Any]:
    d = work / f"dur-{uuid.uuid4().hex[:8]}"
    MnesiaStore("dur", dir=d).close()
    p = subprocess.Popen([sys.executable, __file__, "--_durwriter", str(d), str(k)], stdout=subprocess.PIPE)
    assert p.stdout is not None
    assert p.stdout.readline().strip() == b"READY"
    chunks: list[bytes] = []
    # drain the pipe while the writer runs: a full pipe would block it on its ack, not mid-append
    reader = threading.Thread(target=lambda: chunks.extend(iter(lambda: p.stdout.read1(65536), b"")))  # type: ignore[union-attr]
    reader.start()
    time.sleep(delay)
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    reader.join()
    data = b"".join(chunks)
    acks = [int(x) for x in data.split(b"\n")[:-1] if x.strip()]  # the last line may be cut
    last = acks[-1] if acks else 0
    t = time.perf_counter()
    with MnesiaStore("dur", dir=d) as s:
        counter = s.cursor("wf")
        reopen_ms = (time.perf_counter() - t) * 1000
        events = list(s.stream("wf"))
        s.check_integrity()
        ok_content = events == [[k, x] for x in range(1, counter + 1)]
        after = s.append("wf", [[k, counter + 1]]) == counter + 1
    shutil.rmtree(d, ignore_errors=True)
    return {"engine": "runic", "k": k, "delay": delay, "acked": len(acks), "last_ack": last,
            "counter": counter, "present": len(events), "lost": max(0, last - counter),
            "intact": ok_content, "append_after": after, "reopen_ms": reopen_ms}


def durability_mnesia(ebin: Path, work: Path, k: int, delay: float) -> dict[str, Any]:
    mdir = work / f"mdur-{uuid.uuid4().hex[:8]}"
    mdir.mkdir()
    ackfile = work / f"acks-{uuid.uuid4().hex[:8]}"
    p = subprocess.Popen(erl_cmd(ebin, mdir, "disc_copies", "durwrite", k, ackfile),
                         stdout=subprocess.PIPE, text=True, cwd=work)
    assert p.stdout is not None
    while "READY" not in p.stdout.readline():
        pass
    time.sleep(delay)
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    lines = ackfile.read_text().split("\n")[:-1] if ackfile.exists() else []
    last = int(lines[-1]) if lines else 0
    t = time.perf_counter()
    proc = subprocess.run(erl_cmd(ebin, mdir, "disc_copies", "durcheck", k), capture_output=True, text=True,
                          timeout=300, cwd=work)
    reopen_ms = (time.perf_counter() - t) * 1000
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if line is None:
        raise RuntimeError(f"Mnesia did not reopen: {proc.stdout[-800:]} {proc.stderr[-800:]}")
    r = {kk: int(v) for kk, v in (kv.split("=") for kv in line.split()[1:])}
    shutil.rmtree(mdir, ignore_errors=True)
    ackfile.unlink(missing_ok=True)
    return {"engine": "mnesia", "k": k, "delay": delay, "acked": len(lines), "last_ack": last,
            "counter": r["counter"], "present": r["present"], "lost": max(0, last - r["counter"]),
            "intact": r["corrupt"] == 0 and r["above"] == 0 and r["present"] == r["counter"],
            "rows_above_counter": r["above"], "bad_rows": r["corrupt"],
            "append_after": None, "reopen_ms": reopen_ms}


def intact(r: dict[str, Any]) -> str:
    if r["intact"]:
        return "yes"
    extra = [f"{k}={r[k]}" for k in ("rows_above_counter", "bad_rows") if r.get(k)]
    return "NO" + (f" ({', '.join(extra)})" if extra else "")


def run_durability(trials: int, work: Path, use_erl: bool) -> list[dict[str, Any]]:
    rng = random.Random(7)
    ebin = compile_erl(work) if use_erl else None
    results = []
    for i in range(trials):
        k = 1 if i % 2 == 0 else 10
        delay = rng.uniform(0.3, 1.5)
        results.append(durability_ours(work, k, delay))
        if ebin is not None:
            results.append(durability_mnesia(ebin, work, k, delay))
    print("\n## kill -9 trials (a writer appends in a loop, acknowledging each returned cursor; "
          "SIGKILL after a random delay; reopen and check)\n")
    print("| engine | events/append | killed after s | acked appends | last acked cursor | counter after reopen "
          "| events present | acked events lost | content intact | append after reopen | reopen ms |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|---|---:|")
    for r in results:
        print(f"| {r['engine']} | {r['k']} | {r['delay']:.2f} | {r['acked']:,} | {r['last_ack']:,} | {r['counter']:,} "
              f"| {r['present']:,} | **{r['lost']}** | {intact(r)} "
              f"| {'-' if r['append_after'] is None else ('yes' if r['append_after'] else 'NO')} | {r['reopen_ms']:.1f} |")
    ours = [r for r in results if r["engine"] == "runic"]
    print(f"\nrunic: {sum(r['lost'] for r in ours)} acknowledged events lost in {len(ours)} trials; "
          f"counter = events present in {sum(r['counter'] == r['present'] for r in ours)}/{len(ours)}")
    theirs = [r for r in results if r["engine"] == "mnesia"]
    if theirs:
        print(f"Mnesia disc_copies (measured now): {sum(r['lost'] for r in theirs)} acknowledged events lost "
              f"in {len(theirs)} trials (per trial: {[r['lost'] for r in theirs]})")
    else:
        print(f"Mnesia disc_copies (reference, ../shared/notes/mnesia.md): {MNESIA_REFERENCE_DURABILITY}")
    return results


# ----------------------------------------------------------------------------- report

ROWS = [
    ("append 1 event/call: calls/s", "append1_cps", "hi"),
    ("append 1 event/call: p50 µs", "append1_p50", "lo"),
    ("append 1 event/call: p99 µs", "append1_p99", "lo"),
    ("append 1 event/call, store only (pre-encoded): calls/s", "append1_raw_cps", "hi"),
    ("append 1 event/call, store only (pre-encoded): p50 µs", "append1_raw_p50", "lo"),
    ("append 10 events/call: calls/s", "append10_cps", "hi"),
    ("append 10 events/call: p50 µs", "append10_p50", "lo"),
    ("append 10 events/call: p99 µs", "append10_p99", "lo"),
    ("append 10 events/call, store only (pre-encoded): p50 µs", "append10_raw_p50", "lo"),
    ("2 writer processes, 1 event/call: total calls/s", "append1_w2_cps", "hi"),
    ("2 writer processes: p50 µs", "append1_w2_p50", "lo"),
    ("stream 10,000 events, decoded (values lazily): events/s", "stream_eps", "hi"),
    ("stream 10,000 events, every field read (values decoded): events/s", "stream_values_eps", "hi"),
    ("stream 10,000 events, engine only (no decode): events/s", "stream_raw_eps", "hi"),
    ("save 1,000-event log: p50 µs", "save_p50", "lo"),
    ("load 1,000-event log: p50 µs", "load_p50", "lo"),
    ("save 1,000-event log, store only (pre-encoded): p50 µs", "save_raw_p50", "lo"),
    ("load 1,000-event log, store only (no decode): p50 µs", "load_raw_p50", "lo"),
    ("save_fact: p50 µs", "save_fact_p50", "lo"),
    ("load_fact: p50 µs", "load_fact_p50", "lo"),
]


def fmt(v: float | None) -> str:
    if v is None:
        return "n/a"
    if v >= 1000:
        return f"{v:,.0f}"
    return f"{v:.1f}" if v >= 10 else f"{v:.2f}"


def ratio(ours: float | None, theirs: float | None, kind: str) -> str:
    if ours is None or theirs is None or not ours or not theirs:
        return "n/a"
    r = ours / theirs if kind == "hi" else theirs / ours
    return f"{r:.2f}x"


def report(ours: dict[str, dict[str, float]], mnesia: dict[str, dict[str, float]], live: bool) -> None:
    source = "Mnesia measured now" if live else "Mnesia reference figures from ../shared/notes/mnesia.md"
    print(f"\n## Results ({source}; ratio = how many times faster runic is: >1 runic faster)\n")
    pairs = [("disc", "disc_copies"), ("disc-fsync", "disc_copies"), ("ram-shared", "ram_copies"),
             ("ram", "ram_copies"), ("memory", "ram_copies")]
    pairs = [(c, m) for c, m in pairs if c in ours]
    head = ["measurement"]
    for c, m in pairs:
        head += [c, f"vs {m}"]
    head += ["Mnesia disc_copies", "Mnesia ram_copies"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" + "---:|" * (len(head) - 1))
    for label, key, kind in ROWS:
        cells = [label]
        for c, m in pairs:
            v = ours[c].get(key)
            cells += [fmt(v), ratio(v, mnesia.get(m, {}).get(key), kind)]
        cells += [fmt(mnesia.get("disc_copies", {}).get(key)), fmt(mnesia.get("ram_copies", {}).get(key))]
        print("| " + " | ".join(cells) + " |")
    print("\nConfigurations:")
    for c in CONFIGS:
        if c.name in ours:
            print(f"  {c.name:11s} {c.label}")
    ev = make_event(1)
    blob = codec.dumps(ev)
    n = 20000
    t = time.perf_counter()
    for _ in range(n):
        codec.dumps(ev)
    enc = (time.perf_counter() - t) / n * 1e6
    t = time.perf_counter()
    for _ in range(n):
        codec.loads(blob)
    dec = (time.perf_counter() - t) / n * 1e6
    print(f"\nEvent: runic.events.FactProduced, {len(blob)} bytes encoded; runic.codec.dumps {enc:.1f} µs, "
          f"loads {dec:.1f} µs per event now (included in runic's append/stream/save/load figures, except "
          "the store-only and engine-only rows; Mnesia stores Erlang terms and pays no encoding). The "
          "codec's cost varies with the allocator's state: each nested msgpack.packb call allocates a "
          "new Packer buffer.")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smaller counts")
    ap.add_argument("--no-erlang", action="store_true", help="do not run Mnesia even if erl is installed")
    ap.add_argument("--durability", type=int, metavar="N", help="only run N kill -9 trials per engine")
    ap.add_argument("--configs", default=",".join(c.name for c in CONFIGS), help="comma-separated configs")
    ap.add_argument("--json", metavar="FILE", help="also write the raw figures as JSON")
    ap.add_argument("--_writer", nargs=7, help=argparse.SUPPRESS)
    ap.add_argument("--_durwriter", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args._writer:
        return run_writer_child(args._writer)
    if args._durwriter:
        return run_durwriter_child(args._durwriter)

    use_erl = erlang_available() and not args.no_erlang
    work = Path(tempfile.mkdtemp(prefix="runic-store-bench-"))
    try:
        if args.durability:
            res = run_durability(args.durability, work, use_erl)
            if args.json:
                Path(args.json).write_text(json.dumps({"durability": res}, indent=1))
            return
        sizes = ({"append1": 5000, "append10": 1500, "cap": 1.0, "stream": 10000, "repeats": 5,
                  "saves": 60, "facts": 3000} if args.quick else
                 {"append1": 20000, "append10": 5000, "cap": 3.0, "stream": 10000, "repeats": 11,
                  "saves": 200, "facts": 10000})
        wanted = args.configs.split(",")
        ours: dict[str, dict[str, float]] = {}
        from runic.actors import start_system

        for cfg in CONFIGS:
            if cfg.name not in wanted:
                continue
            load = quiet_gate()
            print(f"running {cfg.name} (background CPU {load:.0f}%) ...", file=sys.stderr, flush=True)
            if cfg.name == "ram-shared":
                with start_system():  # RAM tables live in the system's scratch dir
                    ours[cfg.name] = run_ours(cfg, work, sizes)
            else:
                ours[cfg.name] = run_ours(cfg, work, sizes)
        if use_erl:
            ebin = compile_erl(work)
            mnesia = {}
            for storage in ("disc_copies", "ram_copies"):
                load = quiet_gate()
                print(f"running Mnesia {storage} (background CPU {load:.0f}%) ...", file=sys.stderr, flush=True)
                mnesia[storage] = run_mnesia(ebin, work, storage, sizes)
        else:
            mnesia = MNESIA_REFERENCE
        import platform
        import sqlite3

        print(f"# runic store benchmark ({platform.python_implementation()} {platform.python_version()}, "
              f"SQLite {sqlite3.sqlite_version}, {os.cpu_count()} CPUs{', quick' if args.quick else ''})")
        report(ours, mnesia, use_erl)
        if args.json:
            Path(args.json).write_text(json.dumps({"runic": ours, "mnesia": mnesia, "mnesia_live": use_erl},
                                                  indent=1))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
