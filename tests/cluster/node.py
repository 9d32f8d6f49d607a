"""One node of a test cluster: a Runner on PostgreSQL, driven by JSON lines on stdin.

``ip netns exec NS unshare --uts python -m tests.cluster.node NODE DSN SCHEMA LEASE JOURNAL
[--manual] --own-hostname`` starts, on a "machine" of its own (its network namespace, and its own
host name so that the other nodes cannot tell its processes from theirs), a Runner named ``cluster`` (its own actor system on the namespace's loopback), says
``{"ready": ...}`` and then answers one command per line, ``{"op": ..., ...}`` ->
``{"ok": value}`` or ``{"error": [type, message]}``:

``start`` (``wids``, ``steps``, ``delay``: a journaled pipeline per id, started with input 0),
``run`` (``wid``, ``input``, ``await``), ``await`` (``wid``, ``timeout``), ``results``
(``wid``, ``components``), ``status``, ``failures``, ``cancel``, ``stop`` (``wid``), ``burst``
(``wids``, ``steps``: pipelines of trivial steps started at once and awaited: ``{start, end}``), ``held``
(the ids with a Worker here), ``nodes``, ``generation`` (this node's, from the nodes table),
``quit``.

Steps append ``{"wid", "step", "key", "node", "phase", "t"}`` records to the journal (a file:
the namespaces share the file system).
"""

from __future__ import annotations

import functools
import json
import logging
import os
import time
import socket
import sys
import traceback
from typing import Any

import runic
from runic.runner import Runner

from . import steps


def pipeline(journal: str, wid: str, n: int, delay: float) -> runic.Workflow:
    wf = runic.Workflow(f"pipeline-{wid}")
    prev = None
    for i in range(n):
        name = f"s{i}"
        wf.add(runic.step(functools.partial(steps.journal_step, journal, wid, name, delay), name=name), to=prev)
        prev = name
    return wf


def main() -> None:
    node, dsn, schema, lease, journal = sys.argv[1:6]
    manual = "--manual" in sys.argv[6:]
    os.environ["RUNIC_TEST_NODE"] = node
    logging.basicConfig(format="%(created).3f %(levelname)s:%(threadName)s:%(name)s:%(message)s", level=logging.WARNING)
    if os.environ.get("RUNIC_TEST_NODE_DEBUG"):  # (diagnosing a node: runic's debug log in its stderr file)
        logging.getLogger("runic").setLevel(logging.DEBUG)
    if "--own-hostname" in sys.argv[6:]:  # (in a UTS namespace of its own: a machine of its own)
        socket.sethostname(f"runic-test-{node}")
    runner = Runner.start_link(name="cluster", store="postgres", node=node, lease=float(lease), pool_size=2,
                               recover="manual" if manual else "auto", timeout=120,
                               store_opts={"dsn": dsn, "schema": schema, "pool_size": 3})
    print(json.dumps({"ready": node, "pid": os.getpid()}), flush=True)

    def do(cmd: dict[str, Any]) -> Any:
        op = cmd["op"]
        if op == "start":
            for wid in cmd["wids"]:
                runner.start_workflow(wid, pipeline(journal, wid, cmd["steps"], cmd["delay"]), input=0)
            return None
        if op == "run":
            return runner.run(cmd["wid"], cmd["input"], await_idle=cmd.get("await", False),
                              timeout=cmd.get("timeout"))
        if op == "await":
            return runner.await_idle(cmd["wid"], timeout=cmd.get("timeout"))
        if op == "results":
            return runner.get_results(cmd["wid"], cmd.get("components"))
        if op == "status":
            return runner.status(cmd["wid"])
        if op == "failures":
            return [f.message for f in runner.failures(cmd["wid"])]
        if op == "cancel":
            return runner.cancel(cmd["wid"])
        if op == "stop":
            return runner.stop(cmd["wid"])
        if op == "burst":  # throughput: workflows of trivial steps, started at once, awaited
            wf = runic.Workflow("burst")
            prev = None
            for i in range(cmd["steps"]):
                wf.add(runic.step(steps.add1, name=f"s{i}"), to=prev)
                prev = f"s{i}"
            t0 = time.time()
            runner.start_many(wf, [(w, 0) for w in cmd["wids"]], await_idle=True, timeout=cmd.get("timeout", 600))
            return {"start": t0, "end": time.time()}
        if op == "held":
            return sorted(runner.list_workflows())
        if op == "nodes":
            return runner.nodes()
        if op == "generation":
            return next((n["generation"] for n in runner.nodes() if n["node"] == node and n["alive"]), None)
        raise ValueError(f"unknown op {op!r}")

    for line in sys.stdin:
        if not line.strip():
            continue
        cmd = json.loads(line)
        if cmd["op"] == "quit":
            break
        try:
            reply: dict[str, Any] = {"ok": do(cmd)}
        except Exception as exc:  # noqa: BLE001 - every error goes back to the test
            reply = {"error": [f"{type(exc).__module__}.{type(exc).__qualname__}", str(exc)],
                     "traceback": traceback.format_exc()}
        print(json.dumps(reply, default=repr), flush=True)
    runner.shutdown()
    print(json.dumps({"bye": node}), flush=True)


if __name__ == "__main__":
    main()
