"""The core's hot path: the FIFO fast path of ``react_until_satisfied`` against the three-phase
generations, the lazy walk of pending work in dispatch, and deep pipelines.

The property test builds random workflows (steps, failing steps, rules, joins, accumulators,
maps with reduces, fan-outs over non-collections), runs the same inputs with the fast path on
and off, and requires the same outcome: every component's results, the emitted event stream (in
order), the failures, and the graph's edges."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import runic
from runic import evaluation
from runic.events import FactProduced, FailureRecorded


def inc(x: Any) -> Any:
    return x + 1 if isinstance(x, int) else 0


def double(x: Any) -> Any:
    return x * 2 if isinstance(x, int) else 1


def boom(x: Any) -> Any:
    if isinstance(x, int) and x % 3 == 1:
        raise ValueError(f"boom on {x}")
    return x


def spread(x: Any) -> Any:
    return [x, x, 5] if isinstance(x, int) else x


def add2(a: Any, b: Any) -> Any:
    return [a, b]


def is_even(x: Any) -> bool:
    return isinstance(x, int) and x % 2 == 0


def total(x: Any, acc: Any) -> Any:
    return acc + (x if isinstance(x, int) else 1)


KINDS = ["inc", "double", "boom", "spread", "rule", "join", "acc", "map", "cond"]


def build(plan: list[tuple[str, int, int]]) -> runic.Workflow:
    """A workflow from ``(kind, parent, other_parent)`` entries; parents index the components
    added before (or Root)."""
    wf = runic.Workflow("random")
    names: list[str | None] = [None]
    for i, (kind, p, q) in enumerate(plan):
        parent = names[p % len(names)]
        name = f"{kind}{i}"
        if kind in ("inc", "double", "boom", "spread"):
            wf.add(runic.step({"inc": inc, "double": double, "boom": boom, "spread": spread}[kind], name=name),
                   to=parent)
        elif kind == "rule":
            wf.add(runic.rule(is_even, inc, name=name), to=parent)
        elif kind == "cond":
            wf.add(runic.condition(is_even, name=name), to=parent)
        elif kind == "join":
            other = names[q % len(names)]
            if other == parent or other is None or parent is None:
                wf.add(runic.step(inc, name=name), to=parent)
            else:
                wf.add(runic.step(add2, name=name), to=[parent, other])
        elif kind == "acc":
            wf.add(runic.accumulator(0, total, name=name), to=parent)
        elif kind == "map":
            wf.add(runic.map(inc, name=name), to=parent)
            wf.add(runic.reduce(0, total, name=f"{name}r"), to=name)
            names.append(f"{name}r")
        names.append(name)
    return wf


def run(plan: list[tuple[str, int, int]], inputs: list[int], fast: bool) -> runic.Workflow:
    previous = evaluation.FIFO_FAST_PATH
    evaluation.FIFO_FAST_PATH = fast
    try:
        wf = build(plan).enable_event_emission()
        for x in inputs:
            wf.react_until_satisfied(x)
        return wf
    finally:
        evaluation.FIFO_FAST_PATH = previous


def outcome(wf: runic.Workflow) -> dict[str, Any]:
    """Everything the two paths must agree on (failure timestamps aside)."""
    g = wf.graph
    timeless = [e for e in wf.drain_events() if not isinstance(e, FailureRecorded)]
    return {
        "results": {name: wf.results([name], all=True)[name] for name in wf.components},
        "events": [repr(e) for e in timeless],
        "snapshot": [repr(e) for e in wf.event_log() if not isinstance(e, FailureRecorded)],
        "failures": [(f.component, f.node_hash, f.fact_hash, f.error_type, f.message, f.final, f.action)
                     for f in wf.failures],
        "edges": {label: sorted(g.edges(label)) for label in g.labels()},
        "productions": [f.hash for f in wf.productions()],
        "pending": list(g.pending),
    }


plans = st.lists(st.tuples(st.sampled_from(KINDS), st.integers(0, 30), st.integers(0, 30)),
                 min_size=1, max_size=12)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plans, st.lists(st.integers(-4, 12), min_size=1, max_size=3))
def test_fast_path_equals_three_phase_generations(plan: list[tuple[str, int, int]], inputs: list[int]) -> None:
    fast = outcome(run(plan, inputs, True))
    slow = outcome(run(plan, inputs, False))
    assert fast == slow


def test_the_fast_path_is_taken_and_the_property_can_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    """A linear pipeline runs without building a Runnable (the fast path is live), and the
    comparison above sees a difference when the fast path records a different depth."""
    built = []
    original = runic.Runnable.__init__

    def counting(self: Any, *args: Any, **kwargs: Any) -> None:
        built.append(1)
        original(self, *args, **kwargs)

    monkeypatch.setattr(runic.Runnable, "__init__", counting)
    plan = [("inc", 0, 0), ("double", 1, 0), ("inc", 2, 0)]
    wf = run(plan, [3], True)
    assert wf.raw_productions() == [4, 8, 9]
    assert len(built) == 1  # only Root's runnable
    run(plan, [3], False)
    assert len(built) > 4

    monkeypatch.setattr(runic.Runnable, "__init__", original)
    wf_fast = run(plan, [3], True)
    wf_slow = run(plan, [3], False)
    assert outcome(wf_fast.copy()) == outcome(wf_slow.copy())
    wf_fast._depth[wf_fast.productions()[-1].hash] += 1  # what a wrong inlined update would do
    assert outcome(wf_fast) != outcome(wf_slow)


def test_a_failure_cancels_downstream_work_on_both_paths() -> None:
    plan = [("boom", 0, 0), ("inc", 1, 0), ("inc", 2, 0)]
    for fast in (True, False):
        wf = run(plan, [4], fast)  # boom(4) raises
        assert wf.raw_productions() == []
        assert [f.component for f in wf.halted_failures()] == ["boom0"]
        assert not wf.is_runnable()


def test_a_pipeline_nested_2000_levels_deep_builds_runs_and_replays() -> None:
    n = 2_000
    tree: Any = (runic.step(inc, name=f"s{n - 1}"), [])
    for i in range(n - 2, -1, -1):
        tree = (runic.step(inc, name=f"s{i}"), [tree])
    wf = runic.workflow("deep", steps=[tree])
    assert [e.name for e in wf.build_events[:3]] == ["s0", "s1", "s2"]
    assert wf.build_events[1].to == "s0"
    wf.react_until_satisfied(0)
    assert wf.results([f"s{n - 1}"])[f"s{n - 1}"] == n
    again = runic.Workflow.from_events(wf.build_log())
    assert [c for c in again.components] == [f"s{i}" for i in range(n)]


def test_dispatch_takes_work_from_the_head_without_walking_it_all() -> None:
    """``prepare_for_dispatch(limit=...)`` prepares only what it returns (no walk over every
    pending activation), in activation order, and the pending index is compacted as work is
    taken from its head."""
    wf = runic.Workflow("map")
    wf.add(runic.map(inc, name="m"))
    wf.plan_eagerly(list(range(500)))
    prepared = []
    original = runic.components.Step.prepare

    def counting(self: Any, host: Any, fact: Any) -> Any:
        prepared.append(fact.value)
        return original(self, host, fact)

    runic.components.Step.prepare = counting  # type: ignore[method-assign]
    try:
        done = 0
        while wf.is_runnable():
            _, runnables = wf.prepare_for_dispatch(limit=2)
            assert len(runnables) <= 2
            for r in runnables:
                r.execute()
                wf.apply_runnable(r)
            done += len(runnables)
            assert wf.graph.pending_deleted <= max(32, len(wf.graph.pending) + 2) + 2  # compacted
    finally:
        runic.components.Step.prepare = original  # type: ignore[method-assign]
    assert prepared == list(range(500))  # each item prepared once, in order
    assert sorted(wf.raw_productions("m")) == list(range(1, 501))


def test_dispatch_applies_a_skip_in_the_middle_and_goes_on() -> None:
    """A fan-out over a non-collection is a Skip found while walking pending work: it is
    applied, and the walk resumes without preparing anything twice."""
    wf = runic.Workflow("skips")
    wf.add(runic.step(inc, name="a"))
    wf.add(runic.map(inc, name="m"))  # 7 is no collection: skipped
    wf.add(runic.step(double, name="b"))
    wf.plan_eagerly(7)
    _, runnables = wf.prepare_for_dispatch()
    assert [r.node.name for r in runnables] == ["a", "b"]
    for r in runnables:
        r.execute()
        wf.apply_runnable(r)
    assert not wf.is_runnable()
    assert wf.results(["a", "b"]) == {"a": 8, "b": 14}


def test_emitted_stream_replays_to_the_same_state() -> None:
    wf = run([("inc", 0, 0), ("double", 1, 0), ("spread", 2, 0), ("map", 3, 0)], [2], True)
    stream = wf.build_log() + wf.drain_events()
    again = runic.Workflow.from_events(stream)
    assert again.results(all=True) == wf.results(all=True)
    assert sum(isinstance(e, FactProduced) for e in stream) >= 3
