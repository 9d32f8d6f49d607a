"""Building workflows: builders, wiring, registration and lookup (Runic's workflow_test cases)."""

from __future__ import annotations

import pytest

import runic
from runic.nodes import FanOut, Join

from .fns import add, add1, count, double, first, is_positive, last, label_positive, tokenize, triple


def test_workflow_from_steps_trees_and_rules():
    wf = runic.workflow(
        "w",
        steps=[(runic.step(add1, name="a"), [runic.step(double, name="b"), runic.step(triple, name="c")])],
        rules=[runic.rule(is_positive, label_positive, name="pos")],
    )
    assert set(wf.components) == {"a", "b", "c", "pos"}
    assert [n.name for n in wf.next_steps("a")] == ["b", "c"]
    assert wf.next_steps("b") == []


def test_plain_function_becomes_a_named_step():
    wf = runic.Workflow().add(add1)
    assert "add1" in wf
    assert wf["add1"].kind == "step"


def test_add_to_root_to_name_and_to_sub_component():
    wf = runic.Workflow("w")
    wf.add(runic.rule(is_positive, add1, name="r"))
    wf.add(runic.step(double, name="d"), to="r")  # attaches under the rule's reaction
    wf.add(runic.step(triple, name="t"), to=("r", "condition"))
    wf.react_until_satisfied(3)
    assert wf.results(["r", "d", "t"]) == {"r": 4, "d": 8, "t": 9}


def test_names_usable_as_parents_in_later_adds():
    wf = runic.Workflow().add(runic.step(add1, name="a")).add(runic.step(double, name="b"), to="a")
    wf.add(runic.step(add1, name="c"), to="b")
    wf.react_until_satisfied(3)
    assert wf.results(["c"]) == {"c": 9}


def test_adding_without_log_skips_the_build_log():
    wf = runic.Workflow()
    wf.add(runic.step(add1, name="a"))
    wf.add(runic.step(double, name="b"), to="a", log=False)
    added = [e for e in wf.build_log() if type(e).__name__ == "ComponentAdded"]
    assert [e.name for e in added] == ["a"]


def test_lookup_by_name_and_missing_names():
    wf = runic.workflow(steps=[runic.step(add1, name="a")])
    assert wf.get_component("a").name == "a"
    assert wf.get_component("nope") is None
    with pytest.raises(LookupError) as exc:
        wf["nope"]
    assert isinstance(exc.value, runic.RunicError)
    assert "nope" in str(exc.value)
    with pytest.raises(LookupError):
        wf.raw_productions("nope")


def test_components_and_sub_components_of_a_rule():
    wf = runic.workflow(rules=[runic.rule(is_positive, label_positive, name="pos")])
    kinds = [k for k, _ in wf.sub_components("pos")]
    assert kinds == ["condition", "reaction"]
    assert wf.get_component(("pos", "condition"))[0].kind == "condition"


def test_adding_a_step_to_two_parents_creates_a_join():
    wf = runic.Workflow()
    wf.add(runic.step(add1, name="a")).add(runic.step(double, name="b"))
    wf.add(runic.step(add, name="sum"), to=["a", "b"])
    joins = [n for n in wf.nodes() if isinstance(n, Join)]
    assert len(joins) == 1
    assert joins[0].joins == [wf["a"].hash, wf["b"].hash]
    wf.react_until_satisfied(5)
    assert wf.results(["sum"]) == {"sum": 16}


def test_a_join_is_logged_as_one_event_with_every_parent():
    wf = runic.Workflow()
    wf.add(runic.step(add1, name="a")).add(runic.step(double, name="b"))
    wf.add(runic.step(add, name="sum"), to=["a", "b"])
    added = [e for e in wf.build_log() if e.__class__.__name__ == "ComponentAdded" and e.name == "sum"]
    assert len(added) == 1 and added[0].to == ["a", "b"]


def test_adding_to_two_reduces_joins_their_fan_ins():
    wf = runic.workflow(steps=[
        (runic.map(double, name="m1"), [runic.reduce(0, runic.components.step(add).work, name="r1")]),
    ])
    wf.add(runic.map(triple, name="m2"))
    wf.add(runic.reduce(0, add, name="r2"), to="m2")
    wf.add(runic.step(add, name="both"), to=["r1", "r2"])
    join = [n for n in wf.nodes() if isinstance(n, Join)][0]
    assert join.joins == [wf["r1"].fan_in.hash, wf["r2"].fan_in.hash]
    wf.react_until_satisfied([1, 2])
    assert wf.results(["r1", "r2", "both"]) == {"r1": 6, "r2": 9, "both": 15}


def test_map_registers_its_fan_out_and_inner_names():
    m = runic.map((runic.step(add1, name="inc"), [runic.step(double, name="dbl")]), name="m")
    wf = runic.Workflow().add(m)
    assert isinstance(wf.get_component(("m", "fan_out"))[0], FanOut)
    assert {"m", "inc", "dbl"} <= set(wf.components)


def test_nested_maps_build_two_fan_outs():
    inner = runic.map(double, name="inner")
    wf = runic.Workflow().add(runic.map(inner, name="outer"))
    assert len([n for n in wf.nodes() if isinstance(n, FanOut)]) == 2
    wf.react_until_satisfied([[1, 2], [3, 4]])
    assert sorted(wf.raw_productions("inner")) == [2, 4, 6, 8]


def test_list_of_steps_inside_a_map():
    wf = runic.Workflow().add(runic.map([runic.step(add1, name="i"), runic.step(double, name="d")], name="m"))
    fan_out = wf.get_component(("m", "fan_out"))[0]
    assert len(wf.next_steps(fan_out)) == 2
    wf.react_until_satisfied([1, 2])
    assert sorted(wf.raw_productions("i")) == [2, 3]
    assert sorted(wf.raw_productions("d")) == [2, 4]


def test_text_processing_example():
    wf = runic.workflow("text", steps=[(runic.step(tokenize), [runic.step(count), runic.step(first), runic.step(last)])])
    wf.react_until_satisfied("anybody want a peanut")
    assert wf.results(["count", "first", "last"]) == {"count": 4, "first": "anybody", "last": "peanut"}


def test_a_different_component_under_a_taken_name_is_refused():
    wf = runic.Workflow("w").add(runic.step(add1, name="a"))
    with pytest.raises(runic.DuplicateComponentError, match="'a'"):
        wf.add(runic.step(double, name="a"))


def test_generated_names_are_made_unique():
    wf = runic.Workflow().add((runic.step(add1), [runic.step(add1)]))
    names = sorted(wf.components)
    assert len(names) == 2 and names[0] == "add1"
    wf.react_until_satisfied(1)
    assert sorted(wf.raw_productions()) == [2, 3]


def test_the_same_component_added_under_another_parent_gets_another_flow_edge():
    s = runic.step(double, name="d")
    wf = runic.Workflow().add(runic.step(add1, name="a")).add(runic.step(triple, name="t"))
    wf.add(s, to="a").add(s, to="t")
    wf.react_until_satisfied(1)
    assert sorted(wf.raw_productions("d")) == [4, 6]


def test_unknown_parent_raises_a_lookup_error():
    with pytest.raises(LookupError, match="ghost"):
        runic.Workflow().add(runic.step(add1), to="ghost")


def test_bad_values_are_refused_with_a_clear_error():
    with pytest.raises(runic.WorkflowDefinitionError):
        runic.Workflow().add(42)
    with pytest.raises(runic.WorkflowDefinitionError):
        runic.step("not callable")
    with pytest.raises(runic.WorkflowDefinitionError):
        runic.state_machine("", 0, add)


def test_merge_one_workflow_into_another():
    w1 = runic.workflow("one", steps=[runic.step(add1, name="a")])
    w2 = runic.workflow("two", steps=[runic.step(double, name="b")])
    w1.merge(w2)
    assert w1.name == "one"
    assert {"a", "b"} <= set(w1.components)
    w1.react_until_satisfied(5)
    assert w1.results(["a", "b"]) == {"a": 6, "b": 10}


def test_merge_combines_memory_of_two_branches_of_one_run():
    base = runic.workflow(steps=[(runic.step(add1, name="a"), [runic.step(double, name="b"), runic.step(triple, name="c")])])
    base.plan_eagerly(1).react()  # a ran; b and c pending
    left, right = base.copy(), base.copy()
    left.react()
    right.react()
    left.merge(right)
    assert sorted(left.raw_productions()) == [2, 4, 6]
    assert not left.is_runnable()


def test_copy_is_independent():
    wf = runic.workflow(steps=[runic.step(add1, name="a")])
    twin = wf.copy()
    wf.react_until_satisfied(1)
    assert wf.raw_productions() == [2]
    assert twin.raw_productions() == []


def test_purge_memory_removes_all_facts():
    wf = runic.workflow(steps=[runic.step(add1, name="a")]).react_until_satisfied(1)
    assert wf.facts()
    wf.purge_memory()
    assert wf.facts() == []
    assert "a" in wf
    wf.react_until_satisfied(2)
    assert wf.raw_productions() == [3]


def test_rule_check_and_run():
    r = runic.rule(is_positive, add1, name="r")
    assert r.check(3) and not r.check(-3)
    assert r.run(3) == 4
    with pytest.raises(LookupError):
        r.run(-1)


def _three(a, b, c, *, context=None):  # noqa: ANN001, ANN202
    return (a, b, c, context is not None)


def test_partials_of_one_function_are_called_by_their_own_shape():
    """A partial's call shape is cached under its function, keyed by how many positional
    arguments it binds and which keywords: partials of one function binding different ones
    (built in an order where a coarser key would hand one the shape of another) each get the
    shape ``inspect.signature`` gives them, and run so."""
    import functools

    from runic.functions import _call_shape, call_shape

    partials = [
        functools.partial(_three, 1, 2),  # one required positional: the input is c
        functools.partial(_three, 1),  # two: the input (a pair) is spread into b, c
        functools.partial(_three, 1, 2, 3),  # none
        functools.partial(_three, 1, c=3),  # one (b); c is bound by keyword
        functools.partial(_three, 9, 8),  # the first one's binding again, other values
    ]
    for p in partials:
        assert call_shape(p) == _call_shape(p, 1), p
    def run(p: functools.partial, value: object) -> list:  # type: ignore[type-arg]
        return runic.Workflow("partial").add(runic.step(p, name="s")).react_until_satisfied(value).raw_productions("s")

    # (a step whose function takes ``context`` is given one)
    assert run(partials[0], 7) == [(1, 2, 7, True)]
    assert run(partials[1], (5, 6)) == [(1, 5, 6, True)]
    assert run(partials[3], 4) == [(1, 4, 3, True)]
