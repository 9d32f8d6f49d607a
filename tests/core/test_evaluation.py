"""Evaluation: planning, reacting, the three phases, joins, rules, accumulators, map/reduce,
hooks and failure propagation."""

from __future__ import annotations

import threading

import pytest

import runic
from runic.events import FactProduced, ActivationConsumed, ConditionSatisfied
from runic.facts import Fact
from runic.runnable import COMPLETED, FAILED, Runnable

from .fns import add, add1, double, is_even, is_positive, minus3, mul, square, total, triple


def branching():
    return runic.workflow(steps=[(runic.step(add1, name="a"), [runic.step(lambda x: x + 2, name="b"),
                                                               runic.step(lambda x: x + 4, name="c")])])


def test_react_until_satisfied_runs_everything():
    wf = branching().react_until_satisfied(2)
    assert sorted(wf.raw_productions()) == [3, 5, 7]
    assert wf.next_runnables() == []
    assert not wf.is_runnable()


def test_react_runs_exactly_one_generation():
    wf = branching()
    wf.react(2)
    assert wf.raw_productions() == [3]
    assert len(wf.next_runnables()) == 2
    wf.react()
    assert sorted(wf.raw_productions()) == [3, 5, 7]


def test_react_accepts_a_fact_as_input():
    wf = runic.workflow(steps=[runic.step(add1, name="a")])
    wf.react_until_satisfied(Fact(10))
    assert wf.raw_productions() == [11]


def test_plan_logs_the_input_and_leaves_rules_unevaluated():
    wf = runic.workflow(rules=[runic.rule(is_positive, add1, name="p"), runic.rule(is_even, double, name="e")])
    wf.plan(2)
    assert wf.raw_productions() == []
    assert len(wf.matches()) == 2  # two pending predicates
    assert all(node.kind == "condition" for node, _ in wf.next_runnables())


@pytest.mark.parametrize("value, runnable", [(2, 2), (-3, 0), (4, 2), (3, 1)])
def test_plan_eagerly_evaluates_every_rule_condition(value, runnable):
    wf = runic.workflow(rules=[runic.rule(is_positive, add1, name="p"), runic.rule(is_even, double, name="e")])
    wf.plan_eagerly(value)
    assert len(wf.prepared_runnables()) == runnable
    assert all(node.kind == "step" for node, _ in wf.next_runnables())
    assert wf.raw_productions() == []


def test_next_runnables_pairs_nodes_with_facts():
    wf = branching().react(2)
    pairs = wf.next_runnables()
    assert sorted(n.name for n, _ in pairs) == ["b", "c"]
    assert {f.value for _, f in pairs} == {3}


def test_rule_at_root_fires_only_when_its_condition_holds():
    wf = runic.workflow(rules=[runic.rule(is_positive, lambda x: "positive", name="pos")])
    wf.react_until_satisfied(5)
    assert wf.results(["pos"]) == {"pos": "positive"}
    wf2 = runic.workflow(rules=[runic.rule(is_positive, lambda x: "positive", name="pos")])
    wf2.react_until_satisfied(-5)
    assert wf2.raw_productions() == []


def test_rules_of_different_shapes_compose():
    wf = runic.workflow(rules=[
        runic.rule(lambda x: x == "potato", lambda x: "potato!", name="potato"),
        runic.rule(lambda x: isinstance(x, int), lambda x: x * 2, name="int"),
    ])
    wf.react_until_satisfied("potato")
    wf.react_until_satisfied(42)
    assert wf.results(["potato", "int"]) == {"potato": "potato!", "int": 84}


def test_truthy_condition_results_activate_and_type_errors_mean_no():
    wf = runic.workflow(rules=[runic.rule(lambda x: x % 3, lambda x: "not divisible", name="r")])
    wf.react_until_satisfied(4)  # 4 % 3 == 1: truthy, not True
    assert wf.raw_productions() == ["not divisible"]
    wf.react_until_satisfied("text")  # TypeError in the predicate: not satisfied, no crash
    assert wf.raw_productions() == ["not divisible"]


def test_a_raising_condition_is_not_satisfied_and_logged(caplog):
    def boom(x):
        raise RuntimeError("predicate bug")

    wf = runic.workflow(rules=[runic.rule(boom, add1, name="r")])
    wf.react_until_satisfied(1)
    assert wf.raw_productions() == []
    assert "predicate bug" in caplog.text


def test_two_parent_join_waits_for_both_parents():
    wf = runic.Workflow()
    wf.add(runic.step(add1, name="a")).add(runic.step(triple, name="b"))
    wf.add(runic.step(mul, name="prod"), to=["a", "b"])
    wf.plan_eagerly(3)
    assert len(wf.next_runnables()) == 2
    wf.react()
    assert len(wf.next_runnables()) == 2  # the join received both facts, one per activation
    wf.react()
    assert wf.results(["prod"]) == {"prod": None}
    wf.react()
    assert wf.results(["prod"]) == {"prod": 36}  # (3+1) * (3*3)
    assert not wf.is_runnable()


def test_join_with_three_dependents():
    wf = runic.Workflow()
    wf.add(runic.step(add1, name="a")).add(runic.step(triple, name="b"))
    wf.add(runic.step(mul, name="prod"), to=["a", "b"])
    wf.add(runic.step(lambda x: x - 14, name="m"), to="prod")
    wf.add(runic.step(lambda x: x // 18, name="d"), to="prod")
    wf.react_until_satisfied(3)
    assert wf.results(["prod", "m", "d"]) == {"prod": 36, "m": 22, "d": 2}


def test_an_incomplete_join_consumes_its_activation():
    wf = runic.Workflow()
    wf.add(runic.step(add1, name="a")).add(runic.step(double, name="b"))
    wf.add(runic.step(add, name="sum"), to=["a", "b"])
    join = wf.get_component("sum")
    wf.plan_eagerly(5)
    _, rs = wf.prepare_for_dispatch()
    a_run = next(r for r in rs if r.node.name == "a")
    wf.apply_runnable(a_run.execute())
    join_runs = [r for r in wf.prepared_runnables() if r.node.kind == "join"]
    assert len(join_runs) == 1
    wf.apply_runnable(join_runs[0].execute())
    # the join's activation by a's fact is consumed; only b is left
    assert sorted(n.name or n.kind for n, _ in wf.next_runnables()) == ["b"]
    wf.react_until_satisfied()
    assert wf.results(["sum"]) == {"sum": 16}
    assert join.name == "sum"


def test_sequential_inputs_give_independent_join_results():
    wf = runic.Workflow()
    wf.add(runic.step(add1, name="a")).add(runic.step(double, name="b"))
    wf.add(runic.step(add, name="sum"), to=["a", "b"])
    wf.react_until_satisfied(5)
    wf.react_until_satisfied(0)
    assert sorted(wf.raw_productions("sum")) == [1, 16]


def test_concurrent_inputs_pair_their_own_join_facts():
    wf = runic.Workflow()
    wf.add(runic.step(add1, name="a")).add(runic.step(double, name="b"))
    wf.add(runic.step(lambda a, b: (a, b), name="pair"), to=["a", "b"])
    wf.plan_eagerly(10).plan_eagerly(20)
    wf.react_until_satisfied()
    assert sorted(wf.raw_productions("pair")) == [(11, 20), (21, 40)]


def test_join_gated_by_a_condition():
    wf = runic.Workflow()
    wf.add(runic.condition(is_positive, name="pos"))
    wf.add(runic.step(lambda x: x + 7, name="plus7"))
    wf.add(runic.step(lambda a, b: {a, b}, name="both"), to=["pos", "plus7"])
    wf.react_until_satisfied(5)
    assert wf.raw_productions("both") == [{5, 12}]


def test_accumulator_yields_its_initial_state_then_each_new_state():
    wf = runic.workflow(steps=[runic.accumulator(0, total, name="sum")])
    wf.react_until_satisfied(5)
    assert wf.raw_productions("sum") == [0, 5]
    wf.react_until_satisfied(3)
    assert wf.raw_productions("sum") == [0, 5, 8]
    assert wf.results(["sum"]) == {"sum": 8}


def test_accumulator_counts_identical_inputs_every_time():
    wf = runic.workflow(steps=[runic.accumulator(0, lambda x, s: s + 1, name="n")])
    for _ in range(4):
        wf.react_until_satisfied("same")
    assert wf.results(["n"]) == {"n": 4}


def test_accumulator_with_downstream_step_and_rule():
    acc = runic.accumulator(lambda: 0, total, name="acc")
    wf = runic.Workflow().add(acc)
    wf.add(runic.step(double, name="dbl"), to="acc")
    wf.add(runic.rule(lambda s: s > 4, lambda s: "big", name="big"), to="acc")
    for v in (2, 3):
        wf.react_until_satisfied(v)
    assert wf.raw_productions("dbl") == [4, 10]  # children get each new state, not the initial one
    assert wf.raw_productions("big") == ["big"]


def test_concurrent_inputs_to_an_accumulator_are_serialised():
    wf = runic.workflow(steps=[runic.accumulator(0, total, name="sum")])
    for v in (1, 2, 3, 4):
        wf.plan_eagerly(v)
    _, rs = wf.prepare_for_dispatch()
    assert len(rs) == 1  # the others wait until this update is applied
    wf.react_until_satisfied(parallel=True, max_concurrency=4)
    assert wf.results(["sum"]) == {"sum": 10}


def test_map_applies_the_body_to_each_element():
    wf = runic.Workflow().add(runic.map(square, name="m"))
    wf.react_until_satisfied([1, 2, 3])
    assert sorted(wf.raw_productions("m")) == [1, 4, 9]


def test_map_over_a_dict_emits_pairs_and_skips_strings():
    wf = runic.Workflow().add(runic.map(lambda kv: f"{kv[0]}={kv[1]}", name="m"))
    wf.react_until_satisfied({"a": 1, "b": 2})
    assert sorted(wf.raw_productions("m")) == ["a=1", "b=2"]
    wf.react_until_satisfied("not a collection")
    assert sorted(wf.raw_productions("m")) == ["a=1", "b=2"]
    assert not wf.is_runnable()


def test_reduce_after_map_folds_in_emission_order():
    wf = runic.workflow(steps=[(runic.map(lambda x: x, name="m"),
                                [runic.reduce([], lambda x, acc: acc + [x], name="r")])])
    wf.react_until_satisfied(["a", "b", "c", "d"])
    assert wf.results(["r"]) == {"r": ["a", "b", "c", "d"]}


def test_reduce_added_to_a_named_map_and_with_map_option():
    wf = runic.Workflow().add(runic.map(double, name="m"))
    wf.add(runic.reduce(0, total, name="sum"), to="m")
    wf.react_until_satisfied([1, 2, 3])
    assert wf.results(["sum"]) == {"sum": 12}

    wf2 = runic.Workflow().add(runic.map((runic.step(double, name="d"), [runic.step(add1, name="i")]), name="m"))
    wf2.add(runic.reduce(0, total, name="sum", map="m"), to="i")
    wf2.react_until_satisfied([1, 2, 3])
    assert wf2.results(["sum"]) == {"sum": 15}


def test_reduce_attached_to_a_step_inside_a_map():
    wf = runic.Workflow().add(runic.map((runic.step(double, name="d"), [runic.step(add1, name="i")]), name="m"))
    wf.add(runic.reduce(0, total, name="sum_d", map="m"), to="d")
    wf.react_until_satisfied([1, 2, 3])
    assert wf.results(["sum_d"]) == {"sum_d": 12}


def test_reducer_protocol_cont_halt_and_plain():
    wf = runic.workflow(steps=[runic.reduce(0, lambda x, acc: runic.Cont(acc + x), name="r")])
    wf.react_until_satisfied([1, 2, 3, 4])
    assert wf.results(["r"]) == {"r": 10}
    halting = runic.reduce(0, lambda x, acc: runic.Halt(acc) if x > 2 else acc + x, name="h")
    wf2 = runic.workflow(steps=[halting]).react_until_satisfied([1, 2, 3, 4, 5])
    assert wf2.results(["h"]) == {"h": 3}
    wf3 = runic.workflow(steps=[runic.reduce(0, total, name="p")]).react_until_satisfied([1, 2, 3])
    assert wf3.results(["p"]) == {"p": 6}


def test_halt_inside_map_reduce_keeps_only_elements_before_it():
    r = runic.reduce([], lambda x, acc: runic.Halt(acc) if x == "stop" else acc + [x], name="r")
    wf = runic.workflow(steps=[(runic.map(lambda x: x, name="m"), [r])])
    wf.react_until_satisfied(["a", "b", "stop", "c"])
    assert wf.results(["r"]) == {"r": ["a", "b"]}


def test_empty_map_completes_its_reduce_with_init():
    wf = runic.workflow(steps=[(runic.map(double, name="m"), [runic.reduce(100, total, name="r")])])
    wf.react_until_satisfied([])
    assert wf.results(["r"]) == {"r": 100}


def test_a_reduce_joined_with_another_step_feeds_a_two_argument_step():
    wf = runic.Workflow()
    wf.add(runic.map(lambda w: w.upper(), name="m"))
    wf.add(runic.reduce("", lambda w, acc: acc + w, name="text"), to="m")
    wf.add(runic.step(lambda ws: {"n": len(ws)}, name="stats"))
    wf.add(runic.step(lambda s, d: f"{s}:{d['n']}", name="report"), to=["text", "stats"])
    wf.react_until_satisfied(["a", "b"])
    assert wf.results(["report"]) == {"report": "AB:2"}


def test_manual_three_phase_loop_equals_react_until_satisfied():
    def build():
        return runic.workflow(steps=[(runic.step(add1, name="a"), [(runic.step(double, name="b"), [runic.step(minus3, name="c")])])])

    expected = build().react_until_satisfied(5).raw_productions()
    wf = build().plan_eagerly(5)
    while wf.is_runnable():
        wf, runnables = wf.prepare_for_dispatch()
        for r in runnables:
            r.execute()
        for r in reversed(runnables):
            wf.apply_runnable(r)
    assert sorted(wf.raw_productions()) == sorted(expected) == [6, 9, 12]


def test_step_prepare_execute_in_isolation():
    wf = runic.workflow(steps=[runic.step(add1, name="a")]).plan_eagerly(20)
    [r] = wf.prepared_runnables()
    assert isinstance(r, Runnable) and r.status == "pending"
    r.execute()  # no workflow access
    assert r.status == COMPLETED and r.result.value == 21
    kinds = [type(e) for e in r.events]
    assert kinds == [FactProduced, ActivationConsumed]
    wf.apply_runnable(r)
    assert wf.raw_productions() == [21]


def test_condition_prepare_and_execute():
    wf = runic.workflow(rules=[runic.rule(is_positive, add1, name="r")])
    wf.plan(5)
    [r] = wf.prepared_runnables()
    r.execute()
    assert r.result is True
    assert [type(e) for e in r.events] == [ConditionSatisfied, ActivationConsumed]
    wf2 = runic.workflow(rules=[runic.rule(is_positive, add1, name="r")]).plan(-5)
    [r2] = wf2.prepared_runnables()
    r2.execute()
    assert r2.result is False and [type(e) for e in r2.events] == [ActivationConsumed]


def test_applying_a_failed_runnable_does_not_raise():
    wf = runic.workflow(steps=[runic.step(lambda x: 1 / 0, name="bad")]).plan_eagerly(1)
    [r] = wf.prepared_runnables()
    r.execute()
    assert r.status == FAILED and isinstance(r.error, ZeroDivisionError)
    wf.apply_runnable(r)
    assert not wf.is_runnable()
    assert wf.failures and wf.failures[0].node_hash == r.node.hash


def test_apply_is_idempotent():
    wf = runic.workflow(steps=[(runic.step(add1, name="a"), [runic.step(double, name="b")])]).plan_eagerly(1)
    [r] = wf.prepared_runnables()
    r.execute()
    wf.apply_runnable(r).apply_runnable(r)
    assert len(wf.next_runnables()) == 1
    wf.react_until_satisfied()
    assert wf.raw_productions("b") == [4]


def test_ancestry_depth_grows_by_one_per_step():
    wf = runic.workflow(steps=[(runic.step(add1, name="a"), [(runic.step(double, name="b"), [runic.step(add1, name="c")])])])
    wf.react_until_satisfied(1)
    depths = {f.value: wf.ancestry_depth(f) for f in wf.facts()}
    assert depths == {1: 0, 2: 1, 4: 2, 5: 3}
    leaf = [f for f in wf.facts() if f.value == 5][0]
    assert wf.root_ancestor_hash(leaf) == [f for f in wf.facts() if f.value == 1][0].hash


def test_parallel_react_matches_serial_and_honours_max_concurrency():
    active, peak = 0, 0
    lock = threading.Lock()

    def slow(x):
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        threading.Event().wait(0.05)
        with lock:
            active -= 1
        return x * 2

    def build():
        return runic.workflow(steps=[(runic.step(add1, name="a"), [runic.step(slow, name=f"s{i}") for i in range(4)])])

    serial = build().react_until_satisfied(1).raw_productions()
    par = build().react_until_satisfied(1, parallel=True, max_concurrency=2).raw_productions()
    assert sorted(serial) == sorted(par)
    assert peak == 2


def test_a_failing_step_skips_everything_downstream_but_not_other_branches():
    wf = runic.Workflow()
    wf.add(runic.step(add1, name="a"))
    wf.add(runic.step(lambda x: 1 / 0, name="bad"), to="a")
    wf.add(runic.step(double, name="ok"), to="a")
    wf.add(runic.step(add, name="joined"), to=["bad", "ok"])
    wf.add(runic.step(add1, name="after"), to="joined")
    wf.add(runic.step(triple, name="other"), to="ok")
    wf.react_until_satisfied(1, max_cycles=20)
    assert not wf.is_runnable()
    assert wf.raw_productions("joined") == [] and wf.raw_productions("after") == []
    assert wf.results(["ok", "other"]) == {"ok": 4, "other": 12}


def test_fan_out_join_dag_completes_three_ways():
    def build():
        wf = runic.Workflow()
        wf.add(runic.step(add1, name="a"))
        for n in ("b", "c", "d"):
            wf.add(runic.step(double, name=n), to="a")
        wf.add(runic.step(lambda x, y, z: x + y + z, name="j3"), to=["b", "c", "d"])
        wf.add(runic.step(add1, name="e"), to="a")
        wf.add(runic.step(add, name="j2"), to=["j3", "e"])
        return wf

    assert build().react_until_satisfied(1).results(["j2"]) == {"j2": 15}
    wf = build().plan_eagerly(1)
    for _ in range(50):
        if not wf.is_runnable():
            break
        _, rs = wf.prepare_for_dispatch()
        for r in rs:
            r.execute()
        for r in rs:
            wf.apply_runnable(r)
    assert not wf.is_runnable()
    assert wf.results(["j2"]) == {"j2": 15}


def test_hooks_fire_before_and_after_in_order():
    seen = []

    def before(event, ctx):
        seen.append(("before", event.timing, ctx.ancestry_depth))

    def after(event, ctx):
        seen.append(("after", event.result.value))

    def after2(event, ctx):
        seen.append(("after2", event.result.value))

    wf = runic.workflow(steps=[runic.step(double, name="d")])
    wf.attach_before_hook("d", before).attach_after_hook("d", after).attach_after_hook("d", after2)
    wf.react_until_satisfied(5)
    assert seen == [("before", "before", 0), ("after", 10), ("after2", 10)]
    assert wf.get_hooks("d")[0] == [before]


def test_hooks_declared_in_the_workflow_builder_and_on_rule_parts():
    seen = []
    wf = runic.workflow(rules=[runic.rule(is_positive, add1, name="r")],
                        before_hooks={"r": [lambda e, c: seen.append(e.node.kind)]})
    wf.react_until_satisfied(3)
    assert seen == ["condition", "step"]


def test_an_after_hook_can_extend_the_run():
    def grow(event, ctx):
        return runic.Apply(lambda wf: wf.add(runic.step(lambda x: x * 10, name="added"), to="a"))

    wf = runic.workflow(steps=[runic.step(add1, name="a")])
    wf.attach_after_hook("a", grow)
    wf.react_until_satisfied(1)
    assert wf.results(["a", "added"]) == {"a": 2, "added": 20}


def test_a_hook_error_fails_the_runnable():
    wf = runic.workflow(steps=[runic.step(add1, name="a")])
    wf.attach_before_hook("a", lambda e, c: ("error", "not allowed"))
    wf.plan_eagerly(1)
    [r] = wf.prepared_runnables()
    r.execute()
    assert r.status == FAILED and r.error == ("hook_error", "not allowed")
    wf.attach_before_hook("a", lambda e, c: 42)
    wf2 = runic.workflow(steps=[runic.step(add1, name="a")])
    wf2.attach_before_hook("a", lambda e, c: 42)
    wf2.react_until_satisfied(1)
    assert wf2.raw_productions() == []


def test_state_machine_reactors_fire_on_matching_state():
    sm = runic.state_machine(
        "door", "closed",
        lambda event, state: {"open": "opened", "close": "closed"}.get(event, state),
        reactors={"alarm": (lambda s: s == "opened", lambda s: "ALARM")},
    )
    wf = runic.Workflow().add(sm)
    wf.react_until_satisfied("close")
    assert wf.raw_productions("alarm") == []
    wf.react_until_satisfied("open")
    assert wf.raw_productions("alarm") == ["ALARM"]
    assert wf.results(["door_accumulator"]) == {"door_accumulator": "opened"}
    assert [k for k, _ in wf.sub_components("door")][:2] == ["accumulator", "reactor"]


def test_state_machine_without_reactors_and_with_several():
    sm = runic.state_machine("acc", lambda: 0, total, reactors=[lambda s: s * 10, (lambda s: s > 3, lambda s: "gt3")])
    wf = runic.Workflow().add(sm)
    for v in (1, 2, 3):
        wf.react_until_satisfied(v)
    assert wf.raw_productions("acc_reactor_0") == [10, 30, 60]
    assert wf.raw_productions("acc_reactor_1") == ["gt3"]
    plain = runic.Workflow().add(runic.state_machine("s", 0, total))
    plain.react_until_satisfied(4)
    assert plain.results(["s_accumulator"]) == {"s_accumulator": 4}


def test_state_machine_hash_is_deterministic():
    a = runic.state_machine("m", 0, total)
    b = runic.state_machine("m", 0, total)
    c = runic.state_machine("m", 0, mul)
    assert a.hash == b.hash != c.hash
