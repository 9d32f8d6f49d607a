"""Property-based tests: random pipeline/join/map-reduce workflows give the same productions
via ``react_until_satisfied``, via prepare/execute/apply with results applied in random order,
and after a codec + log round trip at a random point mid-run."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import runic
from runic import codec

from . import fns

UNARY = ["add1", "double", "triple", "minus3", "square"]
BINARY = ["add", "mul"]


def to_range(x):
    return list(range(abs(x) % 5))


@st.composite
def plans(draw):
    """A list of instructions, each attaching to earlier components only (a DAG)."""
    n = draw(st.integers(min_value=1, max_value=9))
    plan = []
    for i in range(n):
        kind = draw(st.sampled_from(["step", "step", "join", "mapreduce", "rule"] if i else ["step", "mapreduce", "rule"]))
        parent = draw(st.one_of(st.none(), st.integers(0, i - 1))) if i else None
        if kind == "join" and i >= 2:
            a, b = draw(st.lists(st.integers(0, i - 1), min_size=2, max_size=2, unique=True))
            plan.append(("join", draw(st.sampled_from(BINARY)), [a, b]))
        elif kind == "mapreduce":
            plan.append(("mapreduce", draw(st.sampled_from(UNARY)), parent))
        elif kind == "rule":
            plan.append(("rule", draw(st.sampled_from(UNARY)), parent))
        else:
            plan.append(("step", draw(st.sampled_from(UNARY)), parent))
    return plan


def build(plan):
    wf = runic.Workflow("prop")
    names = []
    for i, (kind, fn, parent) in enumerate(plan):
        name = f"c{i}"
        if kind == "join":
            wf.add(runic.step(getattr(fns, fn), name=name), to=[names[p] for p in parent])
        elif kind == "mapreduce":
            to = names[parent] if parent is not None else None
            wf.add(runic.step(to_range, name=f"{name}_src"), to=to)
            wf.add(runic.map(runic.step(getattr(fns, fn), name=f"{name}_body"), name=f"{name}_map"), to=f"{name}_src")
            wf.add(runic.reduce(0, fns.total, name=name), to=f"{name}_map")
        elif kind == "rule":
            to = names[parent] if parent is not None else None
            wf.add(runic.rule(fns.is_even, getattr(fns, fn), name=name), to=to)
        else:
            to = names[parent] if parent is not None else None
            wf.add(runic.step(getattr(fns, fn), name=name), to=to)
        names.append(name)
    return wf


def outcome(wf):
    return {k: sorted(map(repr, v)) for k, v in wf.raw_productions_by_component().items()}


SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(plan=plans(), value=st.integers(-6, 6), data=st.data())
def test_three_phase_in_random_order_equals_react_until_satisfied(plan, value, data):
    expected = outcome(build(plan).react_until_satisfied(value, max_cycles=500))
    wf = build(plan).plan_eagerly(value)
    for _ in range(500):
        if not wf.is_runnable():
            break
        _, runnables = wf.prepare_for_dispatch()
        for r in runnables:
            r.execute()
        for r in data.draw(st.permutations(runnables)):
            wf.apply_runnable(r)
    assert not wf.is_runnable()
    assert outcome(wf) == expected


@SETTINGS
@given(plan=plans(), value=st.integers(-6, 6), cut=st.integers(0, 12))
def test_log_round_trip_at_a_random_point_mid_run(plan, value, cut):
    expected = outcome(build(plan).react_until_satisfied(value, max_cycles=500))
    wf = build(plan).enable_event_emission()
    wf.react(value)
    for _ in range(cut):
        if not wf.is_runnable():
            break
        wf.react()
    stream = codec.loads(codec.dumps(wf.build_log() + wf.drain_events()))
    resumed = runic.Workflow.from_events(stream)
    assert resumed.is_runnable() == wf.is_runnable()
    assert outcome(resumed) == outcome(wf)
    resumed.react_until_satisfied(max_cycles=500)
    assert outcome(resumed) == expected
    snapshot = runic.Workflow.from_log(codec.loads(codec.dumps(wf.event_log())))
    assert snapshot.is_runnable() == wf.is_runnable()
    assert outcome(snapshot.react_until_satisfied(max_cycles=500)) == expected
