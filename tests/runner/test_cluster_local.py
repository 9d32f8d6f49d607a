"""A cluster on one machine: several Runners (nodes) on one MnesiaStore directory, the store the
only channel between them (no namespaces; the multi-machine tests are ``tests/cluster``).

* a workflow one Runner runs is driven from another: run (its input goes through the store's
  inbox), await_idle, results, failures, stop, cancel;
* an inbox request whose owner applied it and died before marking it done is applied once,
  not twice, by the node that takes the workflow over;
* two live Runners share a dead node's workflows: each is taken over by exactly one of them
  (the store's one-transaction takeover), and all of them finish.
"""

from __future__ import annotations

import functools
import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import runic
from runic import codec
from runic.actors import procs
from runic.runner import WorkflowNotFoundError
from runic.runner.messages import Accepted, Run, pack
from runic.store import MnesiaStore
from runic.store.checksum import key_seed
from runic.store.cluster import inbox_crc

from ..waiting import wait_for
from . import fns
from .cluster_driver import gated

ROOT = Path(__file__).resolve().parents[2]


def journal_values(path: Path) -> list[int]:
    if not path.exists():
        return []
    return [json.loads(line)["value"] for line in path.read_text().splitlines() if line.strip()]


def start_driver(tmp_path: Path, node: str, wids: list[str], kill_on_exit: list[int]) -> tuple[subprocess.Popen, list[int]]:
    proc = subprocess.Popen([sys.executable, "-m", "tests.runner.cluster_driver", str(tmp_path / "data"), "shared",
                             node, str(tmp_path / "gate"), str(tmp_path / "journal"), *wids], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    kill_on_exit.append(proc.pid)
    line = proc.stdout.readline() if proc.stdout else ""
    if not line.startswith("{"):
        raise AssertionError(f"the driver did not start: {line!r} {proc.stderr.read() if proc.poll() is not None else ''}")
    pids = json.loads(line)["pids"]
    kill_on_exit.extend(pids)
    return proc, pids


def kill_all(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    procs.wait_gone(pids, 30)


def test_a_workflow_one_runner_runs_is_driven_from_another(make_runner, tmp_path: Path) -> None:
    a = make_runner("mnesia", name="shared", node="A", lease=2.0)
    b = make_runner("mnesia", name="shared", node="B", lease=2.0)
    wf = runic.workflow("w", steps=[(runic.step(fns.add1, name="a"), [runic.step(fns.double, name="d")])])
    a.start_workflow("w", wf, input=1)
    assert b.await_idle("w", timeout=30) == "idle"
    assert b.get_results("w", ["d"]) == {"d": 4} and b.status("w") == "idle" and b.failures("w") == []
    assert b.run("w", 10, await_idle=True, timeout=30) == "idle"  # applied by A, awaited from B
    assert b.get_results("w", ["d"]) == {"d": 22} and b.lookup("w") is None and a.lookup("w") is not None
    b.run("w", 20)
    b.run("w", 30)
    assert b.await_idle("w", timeout=30) == "idle"  # after the inputs B sent (still in the inbox or not)
    assert {42, 62} <= set(b.get_results("w"))
    with MnesiaStore("shared", dir=tmp_path / "data") as store:
        assert store.inbox_pending() == []
        assert store.inbox_state("w", 3) == ("done", None)  # B's three inputs were requests 1..3
    # an inbox request delivered again (its done mark lost) is answered, not applied again
    reply = a._call(Run("w", pack(99), inbox=3))
    assert isinstance(reply, Accepted)
    assert a.await_idle("w", timeout=30) == "idle" and 200 not in set(a.get_results("w"))
    with pytest.raises(codec.EncodeError, match="another node"):
        b.run("w", 1, run_context={"a": {"b": object()}})
    with pytest.raises(WorkflowNotFoundError):
        b.run("nope", 1)
    b.stop("w")  # A stops it, asked through the store
    assert a.status("w") == "stopped" and a.lookup("w") is None
    with pytest.raises(WorkflowNotFoundError):  # a stopped workflow takes no input (resume it first)
        b.run("w", 1)
    gate = tmp_path / "gate"
    step = runic.step(functools.partial(fns.wait_for_file, str(gate)), name="g")
    a.start_workflow("slow", runic.workflow("slow", steps=[step]), input=1)
    b.cancel("slow")
    assert a.status("slow") == "cancelled" and a.lookup("slow") is None and b.await_idle("slow") == "cancelled"


def test_an_inbox_request_applied_by_an_owner_that_died_before_marking_it_done_is_not_applied_again(
        make_runner, tmp_path: Path, kill_on_exit: list[int]) -> None:
    journal = tmp_path / "journal"
    proc, pids = start_driver(tmp_path, "A", ["w"], kill_on_exit)
    payload = {"input": 5, "run_context": None, "policies": None, "trace": None}
    blob = codec.dumps(payload)
    with MnesiaStore("shared", dir=tmp_path / "data") as store:
        seq = store.inbox_put("w", "run", payload)  # as another node's run("w", 5) writes it
        wait_for(lambda: store.inbox_state("w", seq)[0] == "done", timeout=30)  # A applied it
    for pid in pids:  # freeze A, then make it look as if it died before marking the request done
        os.kill(pid, signal.SIGSTOP)
    db = sqlite3.connect(tmp_path / "data" / "runic.db")
    with db:
        db.execute('UPDATE "shared.Inbox" SET done = 0, payload = ?, crc = ? WHERE workflow_id = ? AND seq = ?',
                   (blob, inbox_crc("run", blob, key_seed("w")), "w", seq))
    db.close()
    kill_all(pids)
    proc.wait(30)
    b = make_runner("mnesia", name="shared", node="B", lease=1.0, functions=gated(str(tmp_path / "gate"), str(journal)))
    wait_for(lambda: b.lookup("w"), timeout=30)  # B takes it over at once (A's processes are gone)
    with MnesiaStore("shared", dir=tmp_path / "data") as store:
        wait_for(lambda: store.inbox_state("w", seq)[0] == "done", timeout=30)  # redelivered, answered
    (tmp_path / "gate").touch()
    assert b.await_idle("w", timeout=30) == "idle"
    assert sorted(journal_values(journal)) == [1, 6], "inputs 0 and 5, each applied once"


def test_two_live_runners_share_a_dead_node_s_workflows_and_never_both_take_one(
        make_runner, tmp_path: Path, kill_on_exit: list[int]) -> None:
    wids = [f"w{i}" for i in range(6)]
    proc, pids = start_driver(tmp_path, "A", wids, kill_on_exit)
    fns_ = gated(str(tmp_path / "gate"), str(tmp_path / "journal"))
    b = make_runner("mnesia", name="shared", node="B", lease=1.0, functions=fns_, pool_size=1)
    c = make_runner("mnesia", name="shared", node="C", lease=1.0, functions=fns_, pool_size=1)
    kill_all(pids)
    proc.wait(30)
    wait_for(lambda: all(b.lookup(w) or c.lookup(w) for w in wids), timeout=60)
    held_b, held_c = set(b.list_workflows()), set(c.list_workflows())
    assert held_b | held_c == set(wids) and not held_b & held_c
    with MnesiaStore("shared", dir=tmp_path / "data") as store:
        owners: dict[str, Any] = {w: store.owner(w) for w in wids}
    assert {w for w, o in owners.items() if o.node == "B"} == held_b
    assert {w for w, o in owners.items() if o.node == "C"} == held_c
    (tmp_path / "gate").touch()
    for w in wids:
        assert b.await_idle(w, timeout=60) == "idle"
    assert sorted(journal_values(tmp_path / "journal")) == [1] * len(wids)
