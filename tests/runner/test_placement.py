"""Placement and batches without actors (as supervisor/strategy.py is tested)."""

from __future__ import annotations

from runic.runner.batches import Batch
from runic.runner.messages import ManyIdle, ManyStarted
from runic.runner.placement import Entry, Placement


def test_new_workflows_go_to_the_least_loaded_running_host_and_ties_rotate():
    p = Placement(["h0", "h1", "h2"])
    chosen = []
    for i in range(6):
        host = p.choose(["h0", "h1", "h2"])
        p.put(f"w{i}", Entry(host, "starting"))
        chosen.append(host)
    assert sorted(chosen) == ["h0", "h0", "h1", "h1", "h2", "h2"]
    assert p.choose(["h1"]) == "h1"  # only running hosts are chosen
    assert p.choose([]) in {"h0", "h1", "h2"}  # none running: any pool host (it waits for its restart)


def test_entries_follow_their_workflow_and_the_load_follows_the_entries():
    p = Placement(["h0", "h1"])
    p.put("a", Entry("h0", "starting"))
    assert p.running("a") is None and p.group(["a", "b"]) == ({}, ["a"], ["b"])
    p.started("a", "h1")  # the host that answered is where it runs
    assert p.running("a").host == "h1" and p.load == {"h0": 0, "h1": 1}
    p.put("a", Entry("h0", "starting"))  # replaced: the old entry's load is released
    assert p.load == {"h0": 1, "h1": 0}
    assert p.on("h0") == ["a"] and p.held() == {"a"}
    assert p.pop("a") is not None and p.pop("a") is None and p.load == {"h0": 0, "h1": 0}


def test_a_batch_answers_once_when_every_part_answered():
    b = Batch("sender", "ref", "start", errors={"x": ("E", "m", None)})
    b.sent_part()
    b.sent_part()
    assert b.reply() is None
    b.part_answered({"a": "h0"}, {})
    assert b.reply() is None
    b.part_answered({"b": "h1"}, {"c": ("E", "m", None)})
    reply = b.reply()
    assert isinstance(reply, ManyStarted) and reply.started == {"a": "h0", "b": "h1"} and set(reply.errors) == {"x", "c"}
    assert b.reply() is None  # once
    empty = Batch("s", "r", "await", done={"w": "idle"})
    assert isinstance(empty.reply(), ManyIdle)  # nothing to wait for: answered at once
