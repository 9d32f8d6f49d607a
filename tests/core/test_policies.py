"""Scheduler policies, matchers and the policy driver (Runic's scheduler policy tests)."""

from __future__ import annotations

import re
import time

import pytest

import runic
from runic import policy as P
from runic.driver import execute_with_policy
from runic.events import RunnableCompleted, RunnableDispatched, RunnableFailed
from runic.nodes import Condition, Join, Step
from runic.runnable import COMPLETED, FAILED, SKIPPED

from .fns import add, add1, double


def runnable_for(fn, value=1, name="s"):
    wf = runic.workflow(steps=[runic.step(fn, name=name)]).plan_eagerly(value)
    [r] = wf.prepared_runnables()
    return wf, r


class Flaky:
    """Fails the first ``failures`` calls, then returns ``x * 10``."""

    def __init__(self, failures):
        self.failures = failures
        self.calls = 0

    def __call__(self, x):
        self.calls += 1
        if self.calls <= self.failures:
            raise RuntimeError(f"failure {self.calls}")
        return x * 10


# ---------------------------------------------------------------- policy values

def test_new_from_dict_and_kwargs_with_defaults():
    p = P.SchedulerPolicy.new({"max_retries": 2}, backoff="linear")
    assert (p.max_retries, p.backoff, p.base_delay_ms, p.max_delay_ms) == (2, "linear", 500, 30000)
    assert p.timeout_ms == "infinity" and p.on_failure == "halt" and p.execution_mode == "sync"
    assert P.default_policy() == P.SchedulerPolicy()


def test_unknown_keys_and_bad_values_are_rejected():
    with pytest.raises(runic.InvalidPolicyError, match="retries"):
        P.SchedulerPolicy.new({"retries": 3})
    with pytest.raises(runic.InvalidPolicyError):
        P.SchedulerPolicy.new(backoff="sometimes")
    with pytest.raises(runic.InvalidPolicyError):
        P.SchedulerPolicy.new(max_retries=-1)


def test_presets_and_merge():
    llm = P.SchedulerPolicy.new(P.llm_policy())
    assert (llm.max_retries, llm.backoff, llm.base_delay_ms, llm.max_delay_ms, llm.timeout_ms) == (3, "exponential", 1000, 30000, 30000)
    io = P.SchedulerPolicy.new(P.io_policy(max_retries=5))
    assert (io.max_retries, io.backoff, io.on_failure, io.timeout_ms) == (5, "linear", "skip", 10000)
    ff = P.SchedulerPolicy.new(P.fast_fail())
    assert (ff.max_retries, ff.timeout_ms, ff.on_failure) == (0, 5000, "halt")
    assert P.merge({"a": 1, "b": 2}, {"b": 3, "c": 4}) == {"a": 1, "b": 3, "c": 4}


@pytest.mark.parametrize("kind, expected", [
    ("none", [0, 0, 0, 0]),
    ("linear", [100, 200, 300, 350]),
    ("exponential", [100, 200, 350, 350]),
])
def test_backoff_formulas(kind, expected):
    p = P.SchedulerPolicy.new(backoff=kind, base_delay_ms=100, max_delay_ms=350)
    assert [P.backoff_delay_ms(p, a) for a in range(4)] == expected


def test_jitter_backoff_stays_in_range():
    p = P.SchedulerPolicy.new(backoff="jitter", base_delay_ms=100, max_delay_ms=350)
    for attempt in range(5):
        for _ in range(20):
            assert 1 <= P.backoff_delay_ms(p, attempt) <= min(100 * 2**attempt, 350)


# ---------------------------------------------------------------- matchers

def test_matchers():
    s = runic.step(add1, name="fetch_user")
    c = runic.condition(lambda x: True, name="check")
    j = Join([1, 2])
    assert P.matches("fetch_user", s) and not P.matches("other", s)
    assert P.matches(("name", r"^fetch_"), s) and P.matches(re.compile("user$"), s)
    assert P.matches(("type", Step), s) and not P.matches(("type", Step), c)
    assert P.matches(("type", [Condition, Join]), c) and P.matches(("type", "join"), j)
    assert P.matches(lambda n: n.name.startswith("fetch"), s) and not P.matches(lambda n: False, s)
    assert P.matches("default", j)
    assert not P.matches("fetch_user", j) and not P.matches(("name", ".*"), j)  # nameless: no crash


def test_first_match_wins_and_defaults_when_nothing_matches():
    s = runic.step(add1, name="fetch")
    policies = [("fetch", {"max_retries": 1}), (("name", "f.*"), {"max_retries": 2}), ("default", {"max_retries": 9})]
    assert P.resolve(s, policies).max_retries == 1
    assert P.resolve(s, policies[1:]).max_retries == 2
    assert P.resolve(runic.step(add1, name="zzz"), policies[:2]).max_retries == 0
    assert P.resolve(s, None) == P.default_policy() == P.resolve(s, [])


def test_merge_policies_modes():
    base = [("a", {"max_retries": 1})]
    over = [("b", {"max_retries": 2})]
    assert P.merge_policies(over, base) == over + base
    assert P.merge_policies(None, base) == base == P.merge_policies([], base)
    assert P.merge_policies(over, base, "replace") == over


def test_workflow_stores_policies_prepend_and_append():
    wf = runic.Workflow(scheduler_policies=[("a", {"max_retries": 1})])
    wf.add_scheduler_policy("b", {"max_retries": 2}).append_scheduler_policy("default", {})
    assert [m for m, _ in wf.scheduler_policies] == ["b", "a", "default"]
    assert runic.Workflow().scheduler_policies == []


# ---------------------------------------------------------------- driver

def test_default_policy_success_and_failure():
    _, r = runnable_for(add1)
    out, events = execute_with_policy(r)
    assert out.status == COMPLETED and out.result.value == 2 and events == []
    _, r = runnable_for(lambda x: 1 / 0)
    out, _ = execute_with_policy(r)
    assert out.status == FAILED and isinstance(out.error, ZeroDivisionError)


def test_timeout_fails_slow_work_and_passes_fast_work():
    _, r = runnable_for(lambda x: time.sleep(0.5) or x)
    out, _ = execute_with_policy(r, P.SchedulerPolicy.new(timeout_ms=20))
    assert out.status == FAILED and out.error == ("timeout", 20)
    _, r = runnable_for(add1)
    assert execute_with_policy(r, P.SchedulerPolicy.new(timeout_ms=2000))[0].status == COMPLETED


@pytest.mark.parametrize("failures, retries, status, calls", [
    (2, 3, COMPLETED, 3), (4, 3, FAILED, 4), (1, 0, FAILED, 1), (0, 5, COMPLETED, 1),
])
def test_retries_run_at_most_one_plus_max_retries_times(failures, retries, status, calls):
    flaky = Flaky(failures)
    _, r = runnable_for(flaky)
    out, _ = execute_with_policy(r, P.SchedulerPolicy.new(max_retries=retries))
    assert out.status == status and flaky.calls == calls


def test_timeout_then_successful_retry():
    calls = []

    def slow_first(x):
        calls.append(x)
        if len(calls) == 1:
            time.sleep(0.3)
        return x

    _, r = runnable_for(slow_first)
    out, _ = execute_with_policy(r, P.SchedulerPolicy.new(timeout_ms=50, max_retries=1))
    assert out.status == COMPLETED and len(calls) == 2


def test_fallback_forms():
    seen = []

    def value_fallback(r, error):
        seen.append(type(error).__name__)
        return ("value", -1)

    flaky = Flaky(10)
    _, r = runnable_for(flaky)
    out, _ = execute_with_policy(r, P.SchedulerPolicy.new(max_retries=2, fallback=value_fallback))
    assert out.status == COMPLETED and out.result.value == -1
    assert flaky.calls == 3 and seen == ["RuntimeError"]  # called once, after all retries
    assert [type(e).__name__ for e in out.events] == ["FactProduced", "ActivationConsumed"]

    flaky = Flaky(1)
    _, r = runnable_for(flaky)
    out, _ = execute_with_policy(r, P.SchedulerPolicy.new(fallback=lambda r, e: ("retry_with", {"hint": 1})))
    assert out.status == COMPLETED and flaky.calls == 2 and out.context.meta_context == {"hint": 1}

    _, r = runnable_for(lambda x: 1 / 0)
    out, _ = execute_with_policy(r, P.SchedulerPolicy.new(fallback=lambda r, e: "nonsense"))
    assert out.status == FAILED and out.error == ("invalid_fallback_return", "nonsense")

    _, r = runnable_for(lambda x: 1 / 0)
    other_wf, other = runnable_for(double, value=21)
    out, _ = execute_with_policy(r, P.SchedulerPolicy.new(fallback=lambda r, e: other))
    assert out.status == COMPLETED and out.result.value == 42


def test_on_failure_halt_and_skip():
    _, r = runnable_for(lambda x: 1 / 0)
    assert execute_with_policy(r, P.SchedulerPolicy.new(on_failure="halt"))[0].status == FAILED
    out, _ = execute_with_policy(r, P.SchedulerPolicy.new(on_failure="skip"))
    assert out.status == SKIPPED and [type(e).__name__ for e in out.events] == ["ActivationConsumed"]


def test_deadline_stops_new_attempts():
    _, r = runnable_for(lambda x: 1 / 0)
    from runic.driver import now_ms

    out, events = execute_with_policy(r, P.SchedulerPolicy.new(max_retries=5), deadline_at=now_ms() - 1,
                                      emit_events=True)
    assert out.status == FAILED and out.error[0] == "deadline_exceeded"
    assert [type(e) for e in events] == [RunnableFailed] and events[0].attempts == 0


# ---------------------------------------------------------------- lifecycle events

def test_lifecycle_events_success():
    _, r = runnable_for(add1, name="inc")
    out, events = execute_with_policy(r, P.SchedulerPolicy.new(execution_mode="durable"), emit_events=True)
    d, c = events
    assert isinstance(d, RunnableDispatched) and isinstance(c, RunnableCompleted)
    assert (d.runnable_id, d.node_name, d.node_hash, d.attempt) == (r.id, "inc", r.node.hash, 0)
    assert d.input_fact.value == 1 and isinstance(d.dispatched_at, int)
    assert d.policy["fallback"] is None and d.policy["idempotency_key"] is None
    assert c.attempt == 0 and c.duration_ms >= 0 and c.result_fact.value == 2


def test_lifecycle_events_failure_retries_and_skip():
    _, r = runnable_for(lambda x: 1 / 0)
    _, events = execute_with_policy(r, P.default_policy(), emit_events=True)
    assert [type(e) for e in events] == [RunnableDispatched, RunnableFailed]
    assert events[-1].attempts == 1 and events[-1].failure_action == "halt"

    _, r = runnable_for(Flaky(2))
    _, events = execute_with_policy(r, P.SchedulerPolicy.new(max_retries=3), emit_events=True)
    assert [getattr(e, "attempt", None) for e in events[:3]] == [0, 1, 2]
    assert isinstance(events[3], RunnableCompleted) and events[3].attempt == 2

    _, r = runnable_for(Flaky(9))
    _, events = execute_with_policy(r, P.SchedulerPolicy.new(max_retries=2), emit_events=True)
    assert events[-1].attempts == 3

    _, r = runnable_for(lambda x: 1 / 0)
    _, events = execute_with_policy(r, P.SchedulerPolicy.new(on_failure="skip"), emit_events=True)
    assert events[-1].failure_action == "skip"

    _, r = runnable_for(lambda x: 1 / 0)
    _, events = execute_with_policy(r, P.SchedulerPolicy.new(fallback=lambda r, e: ("value", 0)), emit_events=True)
    assert isinstance(events[-1], RunnableCompleted)
    _, r = runnable_for(lambda x: 1 / 0)
    _, events = execute_with_policy(r, P.SchedulerPolicy.new(fallback=lambda r, e: 7), emit_events=True)
    assert isinstance(events[-1], RunnableFailed)


# ---------------------------------------------------------------- policies in workflows

def test_retries_make_a_flaky_pipeline_succeed():
    flaky = Flaky(2)
    wf = runic.workflow(steps=[(runic.step(flaky, name="flaky"), [runic.step(add1, name="after")])])
    wf.add_scheduler_policy("flaky", {"max_retries": 3})
    wf.react_until_satisfied(7)
    assert wf.results(["flaky", "after"]) == {"flaky": 70, "after": 71}


def test_timeout_with_skip_prevents_downstream():
    wf = runic.workflow(steps=[(runic.step(lambda x: time.sleep(0.3) or x, name="slow"), [runic.step(add1, name="after")])])
    wf.add_scheduler_policy("slow", {"timeout_ms": 20, "on_failure": "skip"})
    wf.react_until_satisfied(1)
    assert wf.raw_productions() == [] and not wf.is_runnable()


def test_fallback_value_flows_downstream():
    wf = runic.workflow(steps=[(runic.step(lambda x: 1 / 0, name="bad"), [runic.step(add1, name="after")])])
    wf.add_scheduler_policy("bad", {"fallback": lambda r, e: ("value", 100)})
    wf.react_until_satisfied(1)
    assert wf.results(["bad", "after"]) == {"bad": 100, "after": 101}


def test_policies_apply_to_a_rules_reaction():
    flaky = Flaky(1)
    wf = runic.workflow(rules=[runic.rule(lambda x: x > 0, flaky, name="r")])
    wf.add_scheduler_policy("r", {"max_retries": 1})
    wf.react_until_satisfied(2)
    assert wf.results(["r"]) == {"r": 20}


def test_runtime_overrides_merge_and_replace():
    def build():
        flaky = Flaky(1)
        wf = runic.workflow(steps=[runic.step(flaky, name="f")])
        wf.add_scheduler_policy("f", {"max_retries": 0})
        return wf

    assert build().react_until_satisfied(1, scheduler_policies=[("f", {"max_retries": 1})]).results(["f"]) == {"f": 10}
    assert build().react_until_satisfied(1).raw_productions() == []
    replaced = build().react_until_satisfied(1, scheduler_policies=[("other", {})], scheduler_policies_mode="replace")
    assert replaced.raw_productions() == []


def test_type_matcher_distinguishes_steps_from_conditions_and_async_resolution():
    flaky = Flaky(1)
    wf = runic.workflow(steps=[runic.step(flaky, name="f"), runic.step(add1, name="g")],
                        rules=[runic.rule(lambda x: x > 0, double, name="r")])
    wf.add_scheduler_policy(("type", Step), {"max_retries": 1})
    wf.react_until_satisfied(3, parallel=True)
    assert wf.results(["f", "g", "r"]) == {"f": 30, "g": 4, "r": 6}


def test_durable_mode_records_lifecycle_events_and_nothing_pending_after():
    wf = runic.workflow(steps=[(runic.step(add1, name="a"), [runic.step(double, name="b")])],
                        scheduler_policies=[("default", {"execution_mode": "durable"})])
    wf.react_until_satisfied(1)
    names = [e.node_name for e in wf.runnable_events if isinstance(e, RunnableDispatched)]
    assert names == ["a", "b"]
    assert wf.pending_runnables() == []
    plain = runic.workflow(steps=[runic.step(add1, name="a")]).react_until_satisfied(1)
    assert plain.runnable_events == []


def test_pending_runnables():
    from runic.events import RunnableCompleted as C, RunnableDispatched as D, RunnableFailed as F

    def d(i, attempt=0):
        return D(i, "n", 1, None, 0, {}, attempt)

    wf = runic.Workflow()
    assert wf.pending_runnables() == []
    wf.append_runnable_events([d(1), d(2)])
    assert {e.runnable_id for e in wf.pending_runnables()} == {1, 2}
    wf.append_runnable_events([C(1, 1, None, 0, 0, 0), F(2, 1, "x", 0, 1, "halt")])
    assert wf.pending_runnables() == []
    wf.append_runnable_events([d(3, 0), d(3, 1), C(3, 1, None, 0, 1, 0)])
    assert wf.pending_runnables() == []
    wf.append_runnable_events([d(4, 0), d(4, 1)])
    assert sorted(e.attempt for e in wf.pending_runnables()) == [0, 1]


def test_add_with_lambda_and_join_policies_resolve_for_nameless_nodes():
    wf = runic.Workflow()
    wf.add(runic.step(add1, name="a")).add(runic.step(double, name="b"))
    wf.add(runic.step(add, name="s"), to=["a", "b"])
    wf.add_scheduler_policy("default", {"max_retries": 1})
    wf.react_until_satisfied(1)
    assert wf.results(["s"]) == {"s": 4}
