"""Nodes and leases on one machine: ``recover="auto"`` never takes a live Runner's workflows,
and takes a dead one's at once; ``runner.nodes()``; a clean shutdown releases the node."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import runic
from runic.actors import procs
from runic.store import MnesiaStore

from ..waiting import wait_for
from . import fns

ROOT = Path(__file__).resolve().parents[2]


def start_driver(tmp_path: Path, node: str, wid: str) -> subprocess.Popen:
    gate = tmp_path / f"gate-{wid}"
    proc = subprocess.Popen([sys.executable, "-m", "tests.runner.node_driver", str(tmp_path / "data"), "shared",
                             node, str(gate), wid], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    line = proc.stdout.readline()
    assert line.strip() == "ready", (line, proc.stderr.read() if proc.poll() is not None else "")
    return proc


def test_auto_recovery_takes_nothing_from_a_live_runner_and_everything_from_a_dead_one(make_runner, tmp_path,
                                                                                      kill_on_exit):
    a = start_driver(tmp_path, "node-a", "a-job")
    kill_on_exit.append(a.pid)
    b = make_runner("mnesia", name="shared", node="node-b", lease=1.0)  # recover="auto"
    time.sleep(2.0)  # several lease periods and reaper ticks of b
    assert b.lookup("a-job") is None, "b took a live runner's workflow"
    with MnesiaStore("shared", dir=tmp_path / "data") as store:
        assert store.owner("a-job").node == "node-a"
        assert store.status("a-job") == "running"
    nodes = {n["node"]: n for n in b.nodes()}
    assert nodes["node-a"]["alive"] and nodes["node-a"]["workflows"] == ["a-job"]
    assert nodes["node-b"]["alive"]
    # the driver of a dies with its whole tree: b takes the workflow over and finishes it
    os.killpg(a.pid, signal.SIGKILL)
    a.wait(10)
    wait_for(lambda: b.lookup("a-job"), timeout=30)
    (tmp_path / "gate-a-job").touch()
    assert b.await_idle("a-job", timeout=30) == "idle"
    assert b.get_results("a-job", ["d"]) == {"d": 4}
    wait_for(lambda: not {n["node"]: n for n in b.nodes()}["node-a"]["alive"], timeout=30)


def test_a_manual_runner_leaves_orphans_alone_and_a_clean_shutdown_releases_the_node(make_runner, tmp_path):
    gate = tmp_path / "gate"
    import functools

    step = runic.step(functools.partial(fns.wait_for_file, str(gate)), name="gated")
    first = make_runner("mnesia", name="shared", node="n1", lease=1.0)
    first.start_workflow("w", runic.workflow("w", steps=[step]), input=1)
    wait_for(lambda: first.worker_state("w")["active_tasks"] == 1)
    first.shutdown()  # a clean stop: the node is released, "w" stays running in the store
    manual = make_runner("mnesia", name="shared", node="n2", recover="manual", lease=1.0)
    time.sleep(0.5)
    assert manual.lookup("w") is None and manual.status("w") == "running"
    assert not {n["node"]: n for n in manual.nodes()}["n1"]["alive"]
    auto = make_runner("mnesia", name="shared", node="n3", lease=1.0)  # takes the orphan at once
    wait_for(lambda: auto.lookup("w"), timeout=10)
    gate.touch()
    assert auto.await_idle("w", timeout=30) == "idle"


def test_runners_of_one_name_in_one_process_are_different_nodes(make_runner):
    one = make_runner("mnesia", name="twice")
    two = make_runner("mnesia", name="twice", recover="manual")
    assert one.node != two.node and two.node.startswith(one.node)
    alive = {n["node"] for n in two.nodes() if n["alive"]}
    assert {one.node, two.node} <= alive
    assert procs.is_alive(os.getpid())
