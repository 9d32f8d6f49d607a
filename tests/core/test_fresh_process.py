"""Logs rebuilt in a fresh Python process: nothing depends on the process that wrote them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import runic
from runic import codec

from . import fns

ROOT = Path(__file__).resolve().parents[2]

FINISH = r"""
import json, sys
import runic
from runic import codec
from tests.core import fns

mode = sys.argv[2]
events = codec.loads(open(sys.argv[1], "rb").read())
functions = None
if mode == "closures":
    functions = {"times7": fns.make_multiplier(7), "gate": {"condition": lambda x: x > 10, "reaction": lambda x: "big"}}
wf = runic.Workflow.from_events(events, functions=functions)
pending = wf.is_runnable()
wf.react_until_satisfied()
print(json.dumps({"pending": pending, "name": wf.name,
                  "results": {k: sorted(map(repr, v)) for k, v in wf.raw_productions_by_component().items()}}))
"""


def finish_elsewhere(tmp_path, events, mode):
    path = tmp_path / "stream.bin"
    path.write_bytes(codec.dumps(events))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONHASHSEED": "random"}
    out = subprocess.run([sys.executable, "-c", FINISH, str(path), mode], capture_output=True, text=True,
                         env=env, cwd=tmp_path, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def outcome(wf):
    return {k: sorted(map(repr, v)) for k, v in wf.raw_productions_by_component().items()}


def test_importable_workflow_finishes_in_a_fresh_process(tmp_path):
    def build():
        wf = runic.workflow("orders", steps=[runic.step(fns.add1, name="a"),
                                             (runic.step(fns.upto, name="items"), [runic.map(fns.double, name="m")])])
        wf.add(runic.reduce(0, fns.total, name="sum"), to="m")
        wf.add(runic.step(fns.add, name="both"), to=["a", "sum"])
        wf.add(runic.accumulator(0, fns.total, name="running"), to="both")
        return wf

    expected = outcome(build().react_until_satisfied(3))
    assert expected["running"] == ["0", "16"]  # (3 + 1) + (2 + 4 + 6)
    wf = build().enable_event_emission()
    wf.react(3).react()  # stop mid-run
    assert wf.is_runnable()
    got = finish_elsewhere(tmp_path, wf.build_log() + wf.drain_events(), "importable")
    assert got["pending"] is True and got["name"] == "orders"
    assert got["results"] == expected


def test_closures_and_lambdas_finish_with_functions_in_a_fresh_process(tmp_path):
    def build():
        wf = runic.workflow("c", steps=[(runic.step(fns.make_multiplier(7), name="times7"), [runic.step(fns.add1, name="inc")])],
                            rules=[runic.rule(lambda x: x > 10, lambda x: "big", name="gate")])
        return wf

    expected = outcome(build().react_until_satisfied(3))
    wf = build().enable_event_emission()
    wf.plan_eagerly(3).react()
    got = finish_elsewhere(tmp_path, wf.event_log(), "closures")
    assert got["results"] == expected
