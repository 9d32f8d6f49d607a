"""A driver process for the node tests: starts a Runner on a store directory with one gated
workflow, says ``ready`` and waits to be killed.

``python -m tests.runner.node_driver DIR RUNNER NODE GATE WORKFLOW_ID``
"""

from __future__ import annotations

import functools
import sys
import time

import runic
from runic.runner import Runner
from runic.store import MnesiaStore

from . import fns


def main() -> None:
    directory, runner_name, node, gate, wid = sys.argv[1:6]
    runner = Runner.start_link(name=runner_name, store=MnesiaStore, store_opts={"dir": directory}, node=node,
                               lease=1.0)
    step = runic.step(functools.partial(fns.wait_for_file, gate), name="gated")
    runner.start_workflow(wid, runic.workflow("gated", steps=[(step, [runic.step(fns.double, name="d")])]), input=1)
    print("ready", flush=True)
    while True:
        time.sleep(1)


if __name__ == "__main__":
    main()
