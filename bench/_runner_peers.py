#!/usr/bin/env python3
"""Peer side of ``bench/runner.py``: the same durable pipeline on DBOS Transact and LangGraph.

Runs in an interpreter where ``dbos``, ``langgraph`` and ``langgraph-checkpoint-sqlite`` are
installed (a separate venv: they are not runic dependencies), and prints one JSON object on
stdout. Method (as in ``shared/notes/peers.md`` §3.1): each step is ``x + 1``; a warm-up run,
then ``--repeats`` timed runs (3x as many below N = 1,000) with a fresh workflow / thread id
each; per-step overhead = (median wall - the same loop in plain Python) / N.

* DBOS: one ``@DBOS.workflow`` calling a ``@DBOS.step`` N times, system database on a SQLite
  file (DBOS's defaults: rollback journal, ``synchronous=FULL``); wall = the workflow call.
* LangGraph: a ``StateGraph`` of N chained nodes, ``SqliteSaver`` on a SQLite file,
  ``invoke(..., durability="sync")``; wall = the invoke (the graph is compiled beforehand).

    python bench/_runner_peers.py --sizes 100,1000 --repeats 5 --dir /tmp/x
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import tempfile
import time
import uuid

from _runner_steps import plain_loop_s, runs_for


def summarise(walls: list[float], n: int, plain: float) -> dict:
    med = statistics.median(walls)
    return {"n": n, "runs": len(walls), "median_wall_s": med, "plain_s": plain,
            "us_per_step": (med - plain) / n * 1e6, "mean_wall_s": statistics.fmean(walls), "walls_s": walls}


def bench_dbos(sizes: list[int], repeats: int, workdir: str, url: str | None = None) -> dict:
    from dbos import DBOS, SetWorkflowID

    db = os.path.join(workdir, "dbos.sqlite")
    url = url or f"sqlite:///{db}"
    DBOS(config={"name": "runic-bench", "system_database_url": url, "log_level": "WARNING"})

    @DBOS.step()
    def inc(x: int) -> int:
        return x + 1

    @DBOS.workflow()
    def pipeline(n: int) -> int:
        x = 0
        for _ in range(n):
            x = inc(x)
        return x

    DBOS.launch()
    where = f"SQLite file (DBOS defaults) {db}" if url.startswith("sqlite") else f"PostgreSQL {url.split('@')[-1]}"
    out: dict = {"version": _version("dbos"), "store": where}
    try:
        for n in sizes:
            plain = plain_loop_s(n)
            walls = []
            for k in range(runs_for(n, repeats) + 1):  # the first run is the warm-up
                with SetWorkflowID(f"bench-{n}-{k}-{uuid.uuid4().hex[:8]}"):
                    t0 = time.perf_counter()
                    result = pipeline(n)
                    wall = time.perf_counter() - t0
                assert result == n, result
                if k:
                    walls.append(wall)
            out[str(n)] = summarise(walls, n, plain)
    finally:
        DBOS.destroy(destroy_registry=True)
    return out


def bench_langgraph(sizes: list[int], repeats: int, workdir: str) -> dict:
    import sqlite3
    from typing import TypedDict

    from langgraph.checkpoint.sqlite import SqliteSaver
    from langgraph.graph import END, START, StateGraph

    class State(TypedDict):
        x: int

    def node(state: State) -> dict:
        return {"x": state["x"] + 1}

    db = os.path.join(workdir, "langgraph.sqlite")
    conn = sqlite3.connect(db, check_same_thread=False)
    saver = SqliteSaver(conn)
    out: dict = {"version": _version("langgraph"), "checkpoint_sqlite": _version("langgraph-checkpoint-sqlite"),
                 "store": f"SqliteSaver on a SQLite file, durability='sync' {db}"}
    try:
        for n in sizes:
            g = StateGraph(State)
            prev = START
            for i in range(n):
                g.add_node(f"s{i}", node)
                g.add_edge(prev, f"s{i}")
                prev = f"s{i}"
            g.add_edge(prev, END)
            graph = g.compile(checkpointer=saver)
            plain = plain_loop_s(n)
            walls = []
            for k in range(runs_for(n, repeats) + 1):  # the first run is the warm-up
                cfg = {"configurable": {"thread_id": f"bench-{n}-{k}-{uuid.uuid4().hex[:8]}"},
                       "recursion_limit": n + 10}
                t0 = time.perf_counter()
                result = graph.invoke({"x": 0}, cfg, durability="sync")
                wall = time.perf_counter() - t0
                assert result["x"] == n, result
                if k:
                    walls.append(wall)
            out[str(n)] = summarise(walls, n, plain)
    finally:
        conn.close()
    return out


def _version(dist: str) -> str | None:
    try:
        from importlib.metadata import version

        return version(dist)
    except Exception:  # noqa: BLE001
        return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="100,1000")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--dir", default=None, help="where the SQLite files go (default: a temp dir)")
    ap.add_argument("--only", choices=("dbos", "langgraph"), default=None)
    ap.add_argument("--dbos-url", default=None, help="DBOS's system database (default: a SQLite file in --dir)")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    logging.basicConfig(level=logging.WARNING)
    workdir = args.dir or tempfile.mkdtemp(prefix="runic-peers-")
    os.makedirs(workdir, exist_ok=True)
    result: dict = {"python": sys.version.split()[0], "repeats": args.repeats}
    runners = {"dbos": bench_dbos, "langgraph": bench_langgraph}
    for name, fn in runners.items():
        if args.only and name != args.only:
            continue
        try:
            result[name] = fn(sizes, args.repeats, workdir, args.dbos_url) if name == "dbos" else \
                fn(sizes, args.repeats, workdir)
        except Exception as exc:  # noqa: BLE001 - report it, keep the other peer
            result[name] = {"error": f"{type(exc).__name__}: {exc}"}
    # the JSON is the last line of stdout (libraries may print before it)
    sys.stdout.write("\n" + json.dumps(result) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
