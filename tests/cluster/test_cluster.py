"""Several runic nodes on one PostgreSQL database, each on a "machine" of its own: its own network
namespace (its own loopback, where its actor system lives) and host name; PostgreSQL in another
namespace. Real processes, SIGKILLed or cut off, the store read afterwards (see ``harness.py``).

* a node killed (every process of it) — its workflows finish on the others, no completed step
  runs again, and the takeover time is printed;
* a node cut off while it keeps running — it stops dispatching and writing by itself, its
  workflows move, and once the link is healed none of its writes lands (the streams' epochs);
* a workflow on node C driven from node B (run, await, results, failures, cancel);
* ``recover="auto"`` on a new node takes nothing from live nodes.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from ..waiting import wait_for
from .checks import check_steps, check_stream
from .harness import NodeError, TestCluster

pytestmark = pytest.mark.cluster

STEPS = 8


def ends(cluster: TestCluster, wid: str) -> int:
    return sum(1 for r in cluster.journal_records() if r["wid"] == wid and r["phase"] == "end")


def owners(cluster: TestCluster, wids: list[str]) -> dict[str, Any]:
    with cluster.store() as store:
        return {w: store.owner(w) for w in wids}


def test_a_killed_node_s_workflows_finish_on_the_others_and_no_completed_step_runs_again(make_cluster):
    c = make_cluster(lease=2.0)
    a, b, cn = c.start_node("A"), c.start_node("B"), c.start_node("C")
    mine = [f"a{i}" for i in range(4)]
    theirs = ["b0", "b1"]
    a.call("start", wids=mine, steps=STEPS, delay=0.15)
    b.call("start", wids=theirs, steps=STEPS, delay=0.15)
    wait_for(lambda: all(ends(c, w) >= 2 for w in mine), timeout=60)
    killed_at = c.clock_ms()
    c.kill("A")
    for w in mine + theirs:
        assert b.call("await", wid=w, timeout=120) == "idle"
        assert cn.call("results", wid=w, components=[f"s{STEPS - 1}"]) == {f"s{STEPS - 1}": STEPS}
    moved = owners(c, mine)
    assert {o.node for o in moved.values()} <= {"B", "C"}, moved
    again = {}
    for w in mine:
        audit = check_stream(c, w)
        again[w] = check_steps(c, w, STEPS, "A")
        first_new = min(t for _s, e, t in audit if e != audit[0][1])
        print(f"{w}: first write of its new owner {moved[w].node} {first_new - killed_at} ms after the kill "
              f"(lease {c.lease} s); ran again: {again[w]}")
    for w in theirs:
        check_stream(c, w)
        assert not check_steps(c, w, STEPS, "B"), "a workflow of a live node ran a step twice"
    dead = {n["node"]: n for n in b.call("nodes")}["A"]
    assert not dead["alive"]


def test_a_cut_off_node_stops_itself_its_workflows_move_and_none_of_its_writes_lands(make_cluster):
    c = make_cluster(lease=2.0)
    a, b, cn = c.start_node("A"), c.start_node("B"), c.start_node("C")
    mine = [f"a{i}" for i in range(3)]
    a.call("start", wids=mine, steps=STEPS, delay=0.2)
    wait_for(lambda: all(ends(c, w) >= 2 for w in mine), timeout=60)
    gen_before = a.call("generation")
    cut_at = time.time()
    c.net.cut("A")
    # the others take its workflows over and finish them while it is still cut off
    for w in mine:
        assert b.call("await", wid=w, timeout=120) == "idle"
    moved = owners(c, mine)
    assert {o.node for o in moved.values()} <= {"B", "C"}, moved
    # A stopped starting steps by itself: within 0.9 x lease of its last renewal, sent before
    # the cut (a step dispatched just before may write its start record a little later)
    late = [r for r in c.journal_records()
            if r["node"] == "A" and r["phase"] == "start" and r["t"] > cut_at + 0.9 * c.lease + 0.25]
    assert not late, f"node A started steps after its lease deadline: {late}"
    c.net.heal("A")
    # A learns that it was declared dead (a new generation) and its old Workers are gone
    wait_for(lambda: (g := a.call("generation")) is not None and g > gen_before, timeout=60)
    wait_for(lambda: not (set(a.call("held")) & set(mine)), timeout=60)
    time.sleep(2 * c.lease)  # room for any write A still had on the wire to arrive (and be refused)
    for w in mine:
        audit = check_stream(c, w)
        check_steps(c, w, STEPS, "A")
        first_epoch = audit[0][1]
        takeover = min(t for _s, e, t in audit if e != first_epoch)
        assert all(t <= takeover for _s, e, t in audit if e == first_epoch), \
            f"{w}: a write of the cut-off node landed after the takeover"
        print(f"{w}: first write of {moved[w].node} {takeover / 1000 - cut_at:.2f} s after the cut (lease {c.lease} s)")
    # after the heal A is a live node again and takes part (a new workflow runs there)
    a.call("start", wids=["after"], steps=2, delay=0.01)
    assert b.call("await", wid="after", timeout=60) == "idle"


def test_a_workflow_on_one_node_is_driven_from_another(make_cluster):
    c = make_cluster(lease=2.0)
    b, cn = c.start_node("B"), c.start_node("C")
    cn.call("start", wids=["w"], steps=2, delay=0.05)
    assert b.call("await", wid="w", timeout=60) == "idle"
    assert b.call("results", wid="w", components=["s1"]) == {"s1": 2}
    # an input from B: durable when run returns, applied once by C, awaited from B
    assert b.call("run", wid="w", input=10, **{"await": True}, timeout=60) == "idle"
    assert b.call("results", wid="w", components=["s1"]) == {"s1": 12}
    assert b.call("held") == [] and cn.call("held") == ["w"]
    b.call("run", wid="w", input=20)
    b.call("run", wid="w", input=30)
    assert b.call("await", wid="w", timeout=60) == "idle"  # after both inputs
    assert {1, 2, 11, 12, 21, 22, 31, 32} <= set(b.call("results", wid="w"))
    assert b.call("status", wid="w") == "idle" and b.call("failures", wid="w") == []
    with c.store() as store:
        done = store.inbox_pending()
    assert done == [], "every inbox request was applied and marked done"
    # each input was applied exactly once: each step ran once per input
    runs = [r for r in c.journal_records() if r["wid"] == "w" and r["phase"] == "start"]
    assert len(runs) == 2 * 4 and {r["node"] for r in runs} == {"C"}
    # cancel from B: C stops it; nothing more runs
    cn.call("start", wids=["slow"], steps=50, delay=0.2)
    wait_for(lambda: ends(c, "slow") >= 1, timeout=60)
    b.call("cancel", wid="slow")
    assert cn.call("status", wid="slow") == "cancelled" and "slow" not in cn.call("held")
    count = ends(c, "slow")
    time.sleep(1.0)
    assert ends(c, "slow") <= count + 1  # (a step in flight may end; nothing new starts)
    with pytest.raises(NodeError) as err:
        b.call("run", wid="nope", input=1)
    assert "WorkflowNotFoundError" in err.value.type_name


def test_recover_auto_on_a_new_node_takes_nothing_from_live_nodes(make_cluster):
    c = make_cluster(lease=3.0)
    a, b = c.start_node("A"), c.start_node("B")
    a.call("start", wids=["a0", "a1"], steps=30, delay=0.1)
    b.call("start", wids=["b0"], steps=30, delay=0.1)
    before = owners(c, ["a0", "a1", "b0"])
    d = c.start_node("D")  # recover="auto"
    time.sleep(2 * c.lease)  # several lease periods and many reaper runs of D
    assert d.call("held") == []
    after = owners(c, ["a0", "a1", "b0"])
    assert {w: (o.node, o.epoch) for w, o in after.items()} == {w: (o.node, o.epoch) for w, o in before.items()}
    for w in ("a0", "a1", "b0"):
        assert d.call("await", wid=w, timeout=120) == "idle"
        check_stream(c, w)
