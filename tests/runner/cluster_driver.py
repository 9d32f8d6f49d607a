"""A node of a one-machine cluster test: a Runner on a MnesiaStore directory in a process of its
own, with gated workflows; says ``{"ready": ..., "pids": [...]}`` and waits to be killed.

``python -m tests.runner.cluster_driver DIR RUNNER NODE GATE JOURNAL WID [WID ...]``: each
workflow is ``g`` (waits for the file GATE, then adds one) followed by ``rec`` (appends the value
it receives to JOURNAL), started with input 0.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import time

import runic
from runic.runner import Runner
from runic.store import MnesiaStore

from . import fns


def record(path: str, x: int) -> int:
    """Append ``x`` to the journal ``path`` (one line per execution)."""
    with open(path, "a") as f:
        f.write(json.dumps({"value": x, "pid": os.getpid()}) + "\n")
    return x


def gated(gate: str, journal: str) -> runic.Workflow:
    g = runic.step(functools.partial(fns.wait_for_file, gate), name="g")
    return runic.workflow("gated", steps=[(g, [runic.step(functools.partial(record, journal), name="rec")])])


def main() -> None:
    directory, runner_name, node, gate, journal, *wids = sys.argv[1:]
    runner = Runner.start_link(name=runner_name, store=MnesiaStore, store_opts={"dir": directory}, node=node,
                               lease=1.0, pool_size=1)
    for wid in wids:
        runner.start_workflow(wid, gated(gate, journal), input=0)
    print(json.dumps({"ready": node, "pids": sorted(set(runner.system.pids()) | set(runner.pids()) | {os.getpid()})}),
          flush=True)
    while True:
        time.sleep(1)


if __name__ == "__main__":
    main()
