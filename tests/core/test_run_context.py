"""Run context: runtime values kept outside the graph (Runic's run_context_test)."""

from __future__ import annotations

import pytest

import runic
from runic import codec
from runic.runnable import CausalContext


def test_put_and_get_run_context():
    wf = runic.Workflow()
    wf.put_run_context({"_global": {"tenant": "t1"}, "fetch": {"key": "k", "tenant": "t2"}})
    wf.put_run_context({"other": {"x": 1}})
    assert wf.get_run_context()["other"] == {"x": 1}
    assert wf.get_run_context("fetch") == {"tenant": "t2", "key": "k"}  # component wins over _global
    assert wf.get_run_context("nobody") == {"tenant": "t1"}
    wf.put_run_context({"fetch": {"key": "new"}})  # a component's entry is replaced whole
    assert wf.get_run_context("fetch") == {"tenant": "t1", "key": "new"}


def test_merging_workflows_merges_contexts_one_level_deep():
    a = runic.Workflow().put_run_context({"_global": {"a": 1}, "s": {"x": 1}})
    b = runic.Workflow().put_run_context({"_global": {"b": 2}})
    a.merge(b)
    assert a.get_run_context() == {"_global": {"a": 1, "b": 2}, "s": {"x": 1}}


def test_causal_context_defaults():
    ctx = CausalContext(1, None)
    assert (ctx.ancestry_depth, ctx.hooks, ctx.last_known_state, ctx.is_state_initialized) == (0, ((), ()), None, False)
    assert (ctx.join_context, ctx.fan_out_context, ctx.fan_in_context, ctx.mergeable) == (None, None, None, False)
    assert ctx.meta_context == {} and ctx.run_context == {}
    with pytest.raises(AttributeError):
        ctx.ancestry_depth = 5
    assert ctx.replace(ancestry_depth=3).ancestry_depth == 3


def test_steps_receive_context_only_when_they_ask_for_it():
    def plain(a, b):
        return a + b

    def with_ctx(x, *, context):
        return f"{x}-{context['api_key']}"

    wf = runic.Workflow()
    wf.add(runic.step(lambda x: [x, 1], name="pair"))
    wf.add(runic.step(plain, name="plain"), to="pair")  # two positional params: a list is spread
    wf.add(runic.step(with_ctx, name="call"))
    wf.react_until_satisfied(5, run_context={"_global": {"api_key": "secret"}})
    assert wf.results(["plain", "call"]) == {"plain": 6, "call": "5-secret"}


def test_context_in_conditions_rules_and_accumulators():
    def allowed(x, context):
        return x in context["allowed"]

    def react(x, *, context):
        return f"{context['prefix']}{x}"

    def decay(x, state, context):
        return state * context["factor"] + x

    wf = runic.Workflow()
    wf.add(runic.rule(allowed, react, name="gate"))
    wf.add(runic.accumulator(0, decay, name="acc"))
    wf.put_run_context({"_global": {"allowed": {1, 2}}, "gate": {"prefix": "ok:"}, "acc": {"factor": 10}})
    for v in (1, 3, 2):
        wf.react_until_satisfied(v)
    assert wf.raw_productions("gate") == ["ok:1", "ok:2"]
    assert wf.results(["acc"]) == {"acc": 132}  # ((0*10+1)*10+3)*10+2


def test_context_reaches_reduces_maps_and_state_machines():
    def add_offset(x, acc, context):
        return acc + x + context["offset"]

    def scale(x, *, context):
        return x * context["k"]

    wf = runic.Workflow()
    wf.add(runic.reduce(0, add_offset, name="simple"))
    wf.add(runic.map(runic.step(scale, name="scale"), name="m"))
    wf.add(runic.reduce(0, add_offset, name="mr"), to="m")
    wf.add(runic.state_machine("sm", 0, lambda e, s: s + 1, reactors=[(lambda s: True, lambda s: s)]))
    wf.put_run_context({"_global": {"offset": 100}, "m": {"k": 3}})
    wf.react_until_satisfied([1, 2])
    assert wf.results(["simple"]) == {"simple": 203}
    assert sorted(wf.raw_productions("scale")) == [3, 6]  # inner step scoped by its map's name
    assert wf.results(["mr"]) == {"mr": 209}


def test_values_never_reach_facts_or_logs():
    def use(x, *, context):
        return x + 1

    wf = runic.workflow(steps=[runic.step(use, name="use")]).enable_event_emission()
    wf.react_until_satisfied(1, run_context={"_global": {"password": "hunter2"}})
    blob = codec.dumps(wf.build_log() + wf.drain_events() + wf.event_log())
    assert b"hunter2" not in blob
    assert all("hunter2" not in repr(f.value) for f in wf.facts())


def test_context_persists_across_cycles_and_merges_with_existing():
    seen = []

    def use(x, *, context):
        seen.append(dict(context))
        return x

    wf = runic.workflow(steps=[runic.step(use, name="use")])
    wf.react_until_satisfied(1, run_context={"_global": {"a": 1}})
    wf.react_until_satisfied(2, run_context={"use": {"b": 2}})
    wf.react_until_satisfied(3)
    assert seen == [{"a": 1}, {"a": 1, "b": 2}, {"a": 1, "b": 2}]


def test_declared_keys_defaults_and_required():
    calls = []

    def lazy_region():
        calls.append(1)
        return "eu"

    def use(x, *, context):
        return (context["api_key"], context["region"], context["retries"])

    s = runic.step(use, name="use", context={"api_key": runic.REQUIRED, "region": lazy_region, "retries": 3})
    wf = runic.workflow(steps=[s])
    assert sorted(wf.required_context_keys()["use"], key=lambda kv: kv[0])[0] == ("api_key", "required")
    with pytest.raises(runic.RunContextError, match="api_key"):
        wf.validate_run_context()
    wf.validate_run_context({"_global": {"api_key": "k"}})  # _global satisfies any component
    wf.react_until_satisfied(1)  # missing key without default -> None
    assert wf.raw_productions() == [(None, "eu", 3)] and calls == [1]
    wf.react_until_satisfied(2, run_context={"use": {"api_key": "k", "region": "us"}})
    assert wf.raw_productions()[-1] == ("k", "us", 3) and calls == [1]  # default not called when provided


def test_different_defaults_give_different_hashes():
    def use(x, *, context):
        return x

    a = runic.step(use, name="s", context={"k": 1})
    b = runic.step(use, name="s", context={"k": 2})
    c = runic.step(use, name="s")
    assert len({a.hash, b.hash, c.hash}) == 3
