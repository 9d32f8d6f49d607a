"""PostgresStore benchmark: one append's latency, and aggregate appends/s with 1-16 writers.

    .venv/bin/python bench/postgres.py                 # a throwaway server of its own (~1 min)
    .venv/bin/python bench/postgres.py --quick         # fewer appends, shorter cells
    .venv/bin/python bench/postgres.py --dsn URL       # an existing server (its own schema, dropped after)

Measures, on a loopback TCP connection (the server and every client on this machine):

* ``SELECT 1``: p50/p99 µs of one round trip on a pooled connection, measured in the same run
  (the floor every append pays once);
* a one-row ``INSERT`` of the same bytes with ``synchronous_commit=on``: the floor of one
  durable round trip on this server, measured in the same run;
* ``append`` of one event (``runic.events.FactProduced``, ~180 bytes encoded, epoch-fenced,
  ``runic.codec.dumps`` inside the timed region) for each ``durability``: ``async``
  (``synchronous_commit=off``), ``local`` and ``replicated`` (``on``; with no standby
  configured ``on`` waits for the local flush only, like ``local``): p50/p99 µs;
* aggregate appends/s with 1, 2, 4, 8 and 16 writer processes (each on its own workflow,
  started together, ``durability="replicated"``, i.e. ``synchronous_commit=on``).

Target: append p50 <= 350 µs with ``synchronous_commit=on`` over loopback, where the design
study measured ~320 µs for the same server-side function on this kind of machine. Not a test:
it prints figures.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

sys.path.insert(0, str(Path(__file__).resolve().parent))

from runic import codec  # noqa: E402
from store import make_event  # noqa: E402  (bench/store.py: the same event as every store benchmark)


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def select1(store: Any, n: int) -> list[float]:
    """µs per ``SELECT 1`` on the store's own pool (the same connections as its appends)."""
    cluster = store._cluster
    out = []
    for _ in range(n):
        t0 = time.perf_counter_ns()
        cluster.run(lambda c, a: c.execute("SELECT 1").fetchone(), "select 1")
        out.append((time.perf_counter_ns() - t0) / 1000)
    return out


def insert_latency(dsn: str, schema: str, n: int) -> list[float]:
    """µs per one-row INSERT of the same bytes with ``synchronous_commit=on`` (no function, no
    fence, no counter): the floor of a durable round trip on this server."""
    import psycopg

    blob = codec.dumps(make_event(1))
    with psycopg.connect(dsn, autocommit=True, options="-c synchronous_commit=on") as conn:
        conn.execute(f'CREATE TABLE "{schema}".floor (k bigint PRIMARY KEY, v bytea)')  # type: ignore[arg-type]
        sql = f'INSERT INTO "{schema}".floor VALUES (%s, %s)'
        for i in range(50):
            conn.execute(sql, (i, blob))  # type: ignore[arg-type]
        out = []
        for i in range(50, 50 + n):
            t0 = time.perf_counter_ns()
            conn.execute(sql, (i, blob))  # type: ignore[arg-type]
            out.append((time.perf_counter_ns() - t0) / 1000)
        return out


def append_latency(dsn: str, schema: str, durability: str, n: int) -> list[float]:
    from runic.store import PostgresStore

    with PostgresStore(f"lat{durability}", dsn=dsn, schema=schema, durability=durability) as s:
        epoch = s.acquire("wf", "bench")
        events = [make_event(i) for i in range(200)]
        for i in range(50):  # warm up: connections, prepared statements
            s.append("wf", [events[i % 200]], epoch=epoch)
        out = []
        for i in range(n):
            t0 = time.perf_counter_ns()
            s.append("wf", [events[i % 200]], epoch=epoch)
            out.append((time.perf_counter_ns() - t0) / 1000)
        return out


def _writer(dsn: str, schema: str, runner: str, wid: str, start_at: float, seconds: float, q: Any) -> None:
    from runic.store import PostgresStore

    with PostgresStore(runner, dsn=dsn, schema=schema, durability="replicated", pool_size=1) as s:
        epoch = s.acquire(wid, "bench")
        events = [make_event(i) for i in range(100)]
        s.append(wid, [events[0]], epoch=epoch)
        while time.time() < start_at:
            time.sleep(0.001)
        end = start_at + seconds
        n = 0
        while time.time() < end:
            s.append(wid, [events[n % 100]], epoch=epoch)
            n += 1
        q.put(n)


def aggregate(dsn: str, schema: str, writers: int, seconds: float) -> float:
    ctx = multiprocessing.get_context("spawn")
    q = ctx.Queue()
    runner = f"agg{uuid.uuid4().hex[:6]}"
    from runic.store import PostgresStore

    with PostgresStore(runner, dsn=dsn, schema=schema):  # create the tables once, before the race
        pass
    start_at = time.time() + 2.0 + 0.2 * writers
    procs = [ctx.Process(target=_writer, args=(dsn, schema, runner, f"w{i}", start_at, seconds, q))
             for i in range(writers)]
    for p in procs:
        p.start()
    total = sum(q.get(timeout=120) for _ in procs)
    for p in procs:
        p.join(30)
    return total / seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dsn", help="an existing PostgreSQL server (default: start a throwaway one)")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    n = 500 if args.quick else 2000
    seconds = 1.0 if args.quick else 3.0

    cluster = None
    if args.dsn:
        dsn = args.dsn
    else:
        from tests.store import pg

        reason = pg.available()
        if reason:
            raise SystemExit(reason)
        cluster = pg.Cluster()
        server = cluster.server("bench")
        server.initdb()
        server.start()
        dsn = server.url()
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    try:
        import psycopg

        from runic.store import PostgresStore

        with psycopg.connect(dsn) as conn:
            version = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
            fsync = conn.execute("SHOW fsync").fetchone()[0]  # type: ignore[index]
        blob = codec.dumps(make_event(1))
        print(f"PostgreSQL {version} (fsync={fsync}), loopback TCP; psycopg {psycopg.__version__} "
              f"({psycopg.pq.__impl__}); event {type(make_event(1)).__name__}, {len(blob)} bytes encoded; "
              f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
        with PostgresStore("probe", dsn=dsn, schema=schema) as probe:
            select1(probe, 200)
            floor = select1(probe, n)
        print(f"\nSELECT 1 round trip: p50 {pct(floor, 0.5):7.0f} µs   p99 {pct(floor, 0.99):7.0f} µs")
        ins = insert_latency(dsn, schema, n)
        print(f"one-row INSERT, synchronous_commit=on (a durable round trip): p50 {pct(ins, 0.5):7.0f} µs   "
              f"p99 {pct(ins, 0.99):7.0f} µs")
        print("\nappend, 1 event, epoch-fenced (one call of the server-side append3):")
        for durability, sc in (("async", "off"), ("local", "local"), ("replicated", "on")):
            lat = append_latency(dsn, schema, durability, n)
            print(f"  durability={durability:<10} (synchronous_commit={sc:<5}) p50 {pct(lat, 0.5):7.0f} µs   "
                  f"p99 {pct(lat, 0.99):7.0f} µs   mean {statistics.fmean(lat):7.0f} µs   "
                  f"[SELECT 1 p50 {pct(floor, 0.5):.0f} µs]")
        print(f"\naggregate appends/s, durability=replicated (synchronous_commit=on), {seconds:g} s per cell:")
        for writers in (1, 2, 4, 8, 16):
            rate = aggregate(dsn, schema, writers, seconds)
            print(f"  {writers:2d} writer process{'es' if writers > 1 else '  '}: {rate:9,.0f} appends/s")
    finally:
        try:
            import psycopg

            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')  # type: ignore[arg-type]
        except Exception as exc:  # noqa: BLE001 - cleanup
            print(f"(could not drop schema {schema}: {exc})")
        if cluster is not None:
            cluster.close()


if __name__ == "__main__":
    main()
