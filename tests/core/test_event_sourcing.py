"""Events, folds, logs and replay (Runic's event_sourced_test and friends)."""

from __future__ import annotations

import functools

import pytest

import runic
from runic import codec
from runic import events as ev
from runic.facts import Fact
from runic.events import WorkflowDefined

from .fns import add, add1, double, is_positive, make_multiplier, mul, total, triple


def roundtrip(events):
    """Through the codec, as a store would keep them."""
    return codec.loads(codec.dumps(events))


def types(events):
    return [type(e).__name__ for e in events]


# ---------------------------------------------------------------- what execution emits

def test_root_emits_one_input_fact():
    wf = runic.workflow(steps=[runic.step(add1, name="a")]).enable_event_emission()
    wf.plan(5)
    [produced, activated] = wf.drain_events()
    assert isinstance(produced, ev.FactProduced) and produced.producer_label == "input"
    assert produced.value == 5 and produced.hash == Fact(5).hash
    assert isinstance(activated, ev.RunnableActivated) and activated.activation_kind == "runnable"


def test_steps_after_a_map_emit_map_reduce_tracked():
    wf = runic.workflow(steps=[(runic.map(double, name="m"), [runic.reduce(0, total, name="r")])])
    wf.plan_eagerly([1]).react()  # the fan-out
    [r] = wf.prepared_runnables()
    r.execute()
    tracked = [e for e in r.events if isinstance(e, ev.MapReduceTracked)]
    assert len(tracked) == 1 and tracked[0].step_hash == r.node.hash


def test_join_execute_and_fan_out_and_fan_in_execute():
    wf = runic.Workflow().add(runic.step(add1, name="a")).add(runic.step(double, name="b"))
    wf.add(runic.step(add, name="s"), to=["a", "b"])
    wf.react(1)  # a and b run; both activate the join
    join_runs = [r for r in wf.prepared_runnables() if r.node.kind == "join"]
    assert len(join_runs) == 2
    r = join_runs[0].execute()
    assert r.result == "waiting" and types(r.events) == ["JoinFactReceived", "ActivationConsumed"]

    m = runic.Workflow().add(runic.map(double, name="m")).plan_eagerly([1, 2, 3])
    [fo] = m.prepared_runnables()
    fo.execute()
    assert types(fo.events) == ["FanOutFactEmitted"] * 3 + ["ActivationConsumed"]
    assert [f.value for f in fo.result] == [1, 2, 3]
    assert [e.emitted_fact_hash for e in fo.events[:3]] == [f.hash for f in fo.result]

    simple = runic.workflow(steps=[runic.reduce(0, total, name="r")]).plan_eagerly([1, 2, 3])
    [fi] = simple.prepared_runnables()
    fi.execute()
    assert types(fi.events) == ["FactProduced", "ActivationConsumed"] and fi.result.value == 6


# ---------------------------------------------------------------- folds

def test_folds_draw_the_expected_edges():
    wf = runic.workflow(rules=[runic.rule(is_positive, add1, name="r")])
    cond = wf.get_component(("r", "condition"))[0]
    f = Fact(3)
    wf.apply_event(ev.FactProduced(f.hash, 3, None, "input", 0))
    assert f.hash in wf.graph.vertices
    wf.apply_event(ev.ConditionSatisfied(f.hash, cond.hash, 1))
    assert wf.graph.has_edge(f.hash, cond.hash, "satisfied")

    acc = runic.accumulator(0, total, name="acc")
    w2 = runic.Workflow().add(acc)
    init = Fact(0, (acc.hash, 123))
    w2.apply_event(ev.StateInitiated(acc.hash, init.hash, 0, init.ancestry, 1))
    assert w2.graph.has_edge(acc.hash, init.hash, "state_initiated")


def test_join_and_fan_in_folds():
    wf = runic.Workflow().add(runic.step(add1, name="a")).add(runic.step(double, name="b"))
    wf.add(runic.step(add, name="s"), to=["a", "b"])
    join = next(n for n in wf.nodes() if n.kind == "join")
    fa = Fact(2, (wf["a"].hash, 1))
    wf.apply_event(ev.FactProduced(fa.hash, 2, fa.ancestry, "produced", 1))
    wf.apply_event(ev.JoinFactReceived(fa.hash, join.hash, wf["a"].hash, 2))
    assert wf.graph.has_edge(fa.hash, join.hash, "joined")
    res = Fact([2, 4], (join.hash, fa.hash))
    wf.apply_event(ev.JoinCompleted(join.hash, res.hash, [2, 4], res.ancestry, 2))
    assert wf.graph.has_edge(join.hash, res.hash, "produced")
    wf.apply_event(ev.JoinEdgeRelabeled(fa.hash, join.hash, "joined", "join_satisfied"))
    assert wf.graph.has_edge(fa.hash, join.hash, "join_satisfied") and not wf.graph.has_edge(fa.hash, join.hash, "joined")

    m = runic.workflow(steps=[(runic.map(double, name="m"), [runic.reduce(0, total, name="r")])])
    fo, fi = m["m"].fan_out, m["r"].fan_in
    src = Fact([1])
    item = Fact(1, (fo.hash, src.hash))
    m.apply_event(ev.FactProduced(src.hash, [1], None, "input", 0))
    m.apply_event(ev.FanOutFactEmitted(fo.hash, src.hash, item.hash, 1, item.ancestry, 1))
    assert m.mapped[(src.hash, fo.hash)] == [item.hash] and item.hash in m.graph.vertices
    res = Fact(2, (fi.hash, src.hash))
    m.apply_event(ev.FanInCompleted(fi.hash, src.hash, res.hash, 2, res.ancestry, (src.hash, fo.hash), (src.hash, 9), 3))
    assert m.graph.has_edge(fi.hash, res.hash, "reduced")
    assert m.mapped[("fan_in_completed", src.hash, fi.hash)] is True
    assert (src.hash, fo.hash) not in m.mapped


def test_unknown_events_cannot_be_folded():
    class Strange(ev.Event):
        pass

    with pytest.raises(runic.RunicError, match="Strange"):
        runic.Workflow().apply_event(Strange())


# ---------------------------------------------------------------- the buffer

def test_emission_buffers_runtime_events():
    wf = runic.workflow(steps=[(runic.step(add1, name="a"), [runic.step(double, name="b")])])
    wf.react_until_satisfied(1)
    assert wf.uncommitted_events == []  # off by default
    wf = runic.workflow(steps=[(runic.step(add1, name="a"), [runic.step(double, name="b")])]).enable_event_emission()
    wf.react_until_satisfied(1)
    t = types(wf.drain_events())
    assert t == ["FactProduced", "RunnableActivated", "FactProduced", "ActivationConsumed", "RunnableActivated",
                 "FactProduced", "ActivationConsumed"]
    assert wf.uncommitted_events == []


def test_buffers_accumulator_join_fan_out_and_fan_in_events():
    acc = runic.workflow(steps=[runic.accumulator(0, total, name="acc")]).enable_event_emission()
    acc.react_until_satisfied(1)
    assert "StateInitiated" in types(acc.drain_events())

    j = runic.Workflow().add(runic.step(add1, name="a")).add(runic.step(double, name="b"))
    j.add(runic.step(add, name="s"), to=["a", "b"]).enable_event_emission()
    j.react_until_satisfied(5)
    t = types(j.drain_events())
    assert {"JoinFactReceived", "JoinCompleted", "JoinEdgeRelabeled"} <= set(t)
    assert j.results(["s"]) == {"s": 16}

    m = runic.workflow(steps=[(runic.map(lambda x: x, name="m"), [runic.reduce(0, total, name="r")])]).enable_event_emission()
    m.react_until_satisfied([1, 1 + 0, 1 - 0 + 0] and [0, 1, 2])
    t = m.drain_events()
    assert types(t).count("FanOutFactEmitted") == 3
    [done] = [e for e in t if isinstance(e, ev.FanInCompleted)]
    assert done.result_value == 3


def test_buffers_activation_of_a_conditions_guarded_step():
    wf = runic.workflow(rules=[runic.rule(is_positive, add1, name="r")]).enable_event_emission()
    wf.react_until_satisfied(2)
    acts = [e for e in wf.drain_events() if isinstance(e, ev.RunnableActivated)]
    reaction = wf.get_component(("r", "reaction"))[0]
    assert any(e.node_hash == reaction.hash for e in acts)


def test_skipped_runnable_events_are_buffered_and_downstream_stops():
    wf = runic.workflow(steps=[(runic.step(lambda x: 1 / 0, name="bad"), [runic.step(add1, name="after")])])
    wf.add_scheduler_policy("bad", {"on_failure": "skip"}).enable_event_emission()
    wf.react_until_satisfied(1)
    t = types(wf.drain_events())
    assert "ActivationConsumed" in t and "UpstreamFailed" in t
    assert not wf.is_runnable()


# ---------------------------------------------------------------- logs and replay

def test_build_log_and_from_log_rebuild_structure_without_facts():
    wf = runic.workflow("w", steps=[(runic.step(add1, name="a"), [runic.step(double, name="b")])])
    wf.react_until_satisfied(1)
    log = wf.build_log()
    assert isinstance(log[0], WorkflowDefined) and log[0].name == "w"
    assert isinstance(log[1], ev.ComponentAdded) and log[1].name == "a"
    rebuilt = runic.Workflow.from_log(roundtrip(log))
    assert rebuilt.name == "w" and set(rebuilt.components) == {"a", "b"} and rebuilt.facts() == []
    assert rebuilt.react_until_satisfied(1).raw_productions() == [2, 4]


def test_event_log_contains_reactions_and_restores_every_edge_label():
    wf = runic.Workflow().add(runic.step(add1, name="a")).add(runic.step(double, name="b"))
    wf.add(runic.step(add, name="s"), to=["a", "b"])
    wf.add(runic.rule(is_positive, triple, name="r"))
    wf.add(runic.step(lambda x: 1 / 0, name="bad"), to="a")
    wf.add(runic.step(add1, name="never"), to="bad")
    wf.react_until_satisfied(3)
    log = wf.event_log()
    assert any(isinstance(e, ev.ReactionOccurred) for e in log)
    rebuilt = runic.Workflow.from_events(roundtrip(log), functions={"bad": lambda x: 1 / 0})
    for label in ("ran", "produced", "satisfied", "join_satisfied"):
        assert sorted(rebuilt.graph.edges(label)) == sorted(wf.graph.edges(label)), label
    assert rebuilt.raw_productions() == wf.raw_productions()
    assert rebuilt.results() == wf.results()


def test_event_log_keeps_lifecycle_events_in_order():
    wf = runic.workflow(steps=[(runic.step(add1, name="a"), [runic.step(double, name="b")])],
                        scheduler_policies=[("default", {"execution_mode": "durable"})])
    wf.react_until_satisfied(1)
    life = [e for e in wf.event_log() if isinstance(e, ev.LIFECYCLE_EVENTS)]
    assert life == wf.runnable_events and len(life) == 4
    rebuilt = runic.Workflow.from_log(roundtrip(wf.event_log()))
    assert types(rebuilt.runnable_events) == types(life)
    only = runic.Workflow.from_log(roundtrip(life))
    assert len(only.runnable_events) == 4 and only.pending_runnables() == []


def test_mid_run_replay_reproduces_pending_work():
    wf = runic.workflow(steps=[(runic.step(add1, name="a"), [(runic.step(double, name="b"), [runic.step(add1, name="c")])])])
    wf.enable_event_emission()
    wf.plan_eagerly(5).react()
    stream = wf.build_log() + wf.drain_events()
    rebuilt = runic.Workflow.from_events(roundtrip(stream))
    assert rebuilt.is_runnable() and [n.name for n, _ in rebuilt.next_runnables()] == ["b"]
    assert rebuilt.raw_productions() == [6]
    rebuilt.react_until_satisfied()
    assert rebuilt.raw_productions() == [6, 12, 13]


def test_from_events_on_a_base_workflow():
    base = runic.workflow(steps=[runic.step(lambda x: x * 3, name="t")])
    run = base.copy().enable_event_emission().react_until_satisfied(5)
    events = run.drain_events()
    rebuilt = runic.Workflow.from_events(roundtrip(events), base=base)
    assert rebuilt.raw_productions() == [15]
    assert runic.Workflow.from_events([], base=base).raw_productions() == []


def test_replay_of_accumulator_and_condition_workflows():
    wf = runic.workflow(steps=[runic.accumulator(0, total, name="acc")], rules=[runic.rule(is_positive, add1, name="r")])
    wf.enable_event_emission()
    for v in (1, 2, -3):
        wf.react_until_satisfied(v)
    stream = wf.build_log() + wf.drain_events()
    rebuilt = runic.Workflow.from_events(roundtrip(stream))
    assert rebuilt.raw_productions("acc") == wf.raw_productions("acc") == [0, 1, 3, 0]
    assert rebuilt.raw_productions("r") == [2, 3]
    rebuilt.react_until_satisfied(10)
    assert rebuilt.results(["acc"]) == {"acc": 10}


def test_replay_of_a_failure_does_not_retry_the_step():
    calls = []

    def bad(x):
        calls.append(x)
        raise ValueError("nope")

    wf = runic.workflow(steps=[(runic.step(bad, name="bad"), [runic.step(add1, name="after")])]).enable_event_emission()
    wf.react_until_satisfied(1)
    stream = wf.build_log() + wf.drain_events()
    rebuilt = runic.Workflow.from_events(roundtrip(stream), functions={"bad": bad})
    assert not rebuilt.is_runnable()
    assert len(calls) == 1 and rebuilt.failures and rebuilt.failures[0].error_type == "ValueError"


def test_rebuilt_components_keep_their_logged_hashes():
    wf = runic.workflow(steps=[(runic.step(add1, name="a"), [runic.map(double, name="m")])],
                        rules=[runic.rule(is_positive, triple, name="r")])
    wf.add(runic.state_machine("sm", 0, total))
    wf.add(runic.reduce(0, total, name="red"), to="m")
    rebuilt = runic.Workflow.from_log(roundtrip(wf.build_log()))
    for name in wf.components:
        assert rebuilt[name].hash == wf[name].hash, name
    assert sorted(n.hash for n in rebuilt.nodes()) == sorted(n.hash for n in wf.nodes())


@pytest.mark.parametrize("component", [
    lambda: runic.step(add1, name="c"),
    lambda: runic.rule(is_positive, triple, name="c"),
    lambda: runic.state_machine("c", 0, total, reactors=[(is_positive, add1)]),
    lambda: runic.map(double, name="c"),
    lambda: runic.reduce(0, total, name="c"),
    lambda: runic.accumulator(1, mul, name="c"),
])
def test_every_component_kind_is_one_add_event_that_rebuilds_it(component):
    wf = runic.Workflow().add(component())
    added = [e for e in wf.build_log() if isinstance(e, ev.ComponentAdded)]
    assert len(added) == 1 and added[0].recipe and added[0].to is None
    rebuilt = runic.Workflow.from_log(roundtrip(wf.build_log()))
    for v in ([1, 2], [3]):
        a = wf.copy().react_until_satisfied(v).raw_productions()
        b = rebuilt.copy().react_until_satisfied(v).raw_productions()
        assert sorted(map(repr, a)) == sorted(map(repr, b))
    twice = runic.Workflow.from_log(roundtrip(wf.build_log()))
    assert sorted(twice.components) == sorted(rebuilt.components)


def test_to_is_recorded():
    wf = runic.Workflow().add(runic.step(add1, name="a")).add(runic.step(double, name="b"), to="a")
    added = [e for e in wf.build_log() if isinstance(e, ev.ComponentAdded)]
    assert [e.to for e in added] == [None, "a"]


def test_codec_round_trips_events_and_rejects_garbage():
    wf = runic.workflow(steps=[(runic.map(double, name="m"), [runic.reduce(0, total, name="r")])])
    wf.enable_event_emission().react_until_satisfied([1, 2])
    events = wf.build_log() + wf.drain_events()
    assert roundtrip(events) == events
    with pytest.raises(codec.DecodeError):
        codec.loads(b"\xc1\x00garbage")
    with pytest.raises(codec.DecodeError):
        codec.loads(b"")


def test_component_removed_is_structural_in_replay():
    wf = runic.Workflow().add(runic.step(add1, name="a")).add(runic.step(double, name="b"), to="a")
    wf.remove_component("b")
    assert "b" not in wf
    rebuilt = runic.Workflow.from_log(roundtrip(wf.build_log()))
    assert "b" not in rebuilt and "a" in rebuilt
    assert rebuilt.react_until_satisfied(1).raw_productions() == [2]


def test_policies_survive_the_log():
    wf = runic.workflow(steps=[runic.step(add1, name="a")],
                        scheduler_policies=[("a", {"max_retries": 2, "backoff": "linear"}),
                                            (("type", "condition"), {"max_retries": 1})])
    rebuilt = runic.Workflow.from_log(roundtrip(wf.build_log()))
    assert rebuilt.scheduler_policies[0] == ("a", {"max_retries": 2, "backoff": "linear"})
    assert rebuilt.scheduler_policies[1] == ("type", ["condition"]) or rebuilt.scheduler_policies[1][1] == {"max_retries": 1}


# ---------------------------------------------------------------- functions in logs

def test_lambdas_restore_from_functions_and_fail_clearly_without():
    wf = runic.workflow(steps=[runic.step(lambda x: x + 100, name="plus")], rules=[runic.rule(lambda x: x > 0, lambda x: "p", name="r")])
    log = roundtrip(wf.build_log())
    with pytest.raises(runic.FunctionRestoreError) as exc:
        runic.Workflow.from_log(log)
    msg = str(exc.value)
    assert "'plus'" in msg and "functions=" in msg
    by_definition = runic.Workflow.from_log(log, functions=wf)
    assert by_definition.react_until_satisfied(1).results(["plus", "r"]) == {"plus": 101, "r": "p"}
    by_mapping = runic.Workflow.from_log(log, functions={"plus": lambda x: x + 100,
                                                         "r": {"condition": lambda x: x > 0, "reaction": lambda x: "p"}})
    assert by_mapping.react_until_satisfied(1).results(["plus", "r"]) == {"plus": 101, "r": "p"}


def test_changed_code_warns_and_keeps_the_logged_identity(caplog):
    wf = runic.workflow(steps=[runic.step(lambda x: x + 1, name="s")])
    log = roundtrip(wf.build_log())
    rebuilt = runic.Workflow.from_log(log, functions={"s": lambda x: x + 2})
    assert "changed since it was logged" in caplog.text
    assert rebuilt["s"].hash == wf["s"].hash
    assert rebuilt.react_until_satisfied(1).raw_productions() == [3]


def test_partials_of_importable_functions_restore_by_themselves():
    wf = runic.workflow(steps=[runic.step(functools.partial(mul, 7), name="times7")])
    rebuilt = runic.Workflow.from_log(roundtrip(wf.build_log()))
    assert rebuilt.react_until_satisfied(3).raw_productions() == [21]


def test_content_addressing_of_captured_values():
    m2a, m2b, m3 = make_multiplier(2), make_multiplier(2), make_multiplier(3)
    s2a, s2b, s3 = (runic.step(f, name="m") for f in (m2a, m2b, m3))
    assert s2a.work_hash == s2b.work_hash and s2a.hash == s2b.hash
    assert s3.work_hash != s2a.work_hash and s3.hash != s2a.hash


def test_ten_branches_with_captured_multipliers_all_run():
    wf = runic.Workflow()
    for n in range(1, 11):
        wf.add(runic.step(make_multiplier(n)))
    wf.react_until_satisfied(10)
    assert sorted(wf.raw_productions()) == list(range(10, 101, 10))


def test_hashes_ignore_where_code_is_defined_and_run_context():
    def f(x):
        return x + 1

    def g(x):
        return x + 1

    g.__qualname__ = f.__qualname__
    assert runic.step(f, name="s").hash == runic.step(g, name="s").hash
    wf = runic.workflow(steps=[runic.step(add1, name="a")])
    before = [n.hash for n in wf.nodes()]
    wf.put_run_context({"_global": {"k": 1}})
    assert [n.hash for n in wf.nodes()] == before


def test_inspection_rebuild_stands_in_for_missing_functions():
    wf = runic.workflow("i", steps=[runic.step(lambda x: x + 1, name="a")])
    wf.react_until_satisfied(1)
    log = roundtrip(wf.event_log())
    with pytest.raises(runic.FunctionRestoreError):
        runic.Workflow.from_events(log)
    seen = runic.Workflow.from_events(log, stub_missing=True)
    assert seen.raw_productions() == [2] and "step: a" in seen.to_mermaid()
    seen.react_until_satisfied(5)  # running a stand-in fails that step, with the restore error
    assert seen.raw_productions() == [2]
    assert seen.failures[-1].error_type == "runic.errors.FunctionRestoreError"
