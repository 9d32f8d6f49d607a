"""Policies are validated when added; retry_on/give_up_on, priority and deadline_ms work;
settings runic does not support are refused; policies for names that do not exist are caught."""

from __future__ import annotations

import logging
import re
import threading

import pytest

import runic
from runic import codec
from runic import policy as P
from runic.events import WorkflowDefined
from runic.nodes import Step

from . import fns


def one_step(fn, name="s"):
    return runic.workflow("w", steps=[runic.step(fn, name=name)])


class Failing:
    """Raises ``errors[i]`` on call ``i`` (the last one for later calls); counts calls."""

    def __init__(self, *errors):
        self.errors = errors
        self.calls = 0

    def __call__(self, x):
        self.calls += 1
        raise self.errors[min(self.calls, len(self.errors)) - 1]


# ---------------------------------------------------------------- validated when added

@pytest.mark.parametrize("add", [
    lambda wf, p: wf.add_scheduler_policy("s", p),
    lambda wf, p: wf.append_scheduler_policy("s", p),
    lambda wf, p: wf.set_scheduler_policies([("s", p)]),
    lambda wf, p: runic.Workflow("w", scheduler_policies=[("s", p)]),
    lambda wf, p: runic.workflow("w", steps=[runic.step(fns.add1, name="s")], scheduler_policies=[("s", p)]),
    lambda wf, p: wf.react(1, scheduler_policies=[("s", p)]),
    lambda wf, p: wf.react_until_satisfied(1, scheduler_policies=[("s", p)]),
])
def test_an_unknown_key_is_refused_where_the_policy_is_given(add):
    wf = one_step(fns.add1)
    with pytest.raises(runic.InvalidPolicyError) as info:
        add(wf, {"retries": 3})
    text = str(info.value)
    assert "'retries'" in text and "did you mean 'max_retries'?" in text and "valid keys are" in text
    assert "give_up_on" in text and "timeout_ms" in text
    assert wf.scheduler_policies == [] and not wf.facts() and not wf.graph.pending


@pytest.mark.parametrize("spec, key", [
    ({"max_retries": -1}, "max_retries"), ({"max_retries": True}, "max_retries"),
    ({"backoff": "sometimes"}, "backoff"), ({"timeout_ms": float("nan")}, "timeout_ms"),
    ({"on_failure": "ignore"}, "on_failure"), ({"priority": "urgent"}, "priority"),
    ({"deadline_ms": 0}, "deadline_ms"), ({"fallback": 3}, "fallback"),
    ({"retry_on": [3]}, "retry_on"), ({"give_up_on": "  "[:0]}, "give_up_on"),
])
def test_bad_values_are_refused_naming_the_key(spec, key):
    with pytest.raises(runic.InvalidPolicyError, match=key):
        one_step(fns.add1).add_scheduler_policy("s", spec)
    with pytest.raises(runic.InvalidPolicyError, match=key):
        P.SchedulerPolicy(**spec)


def test_malformed_policy_lists_and_matchers_are_refused():
    wf = one_step(fns.add1)
    for bad in ({"s": {}}, [("s",)], ["s"], [("s", "fast")]):
        with pytest.raises(runic.InvalidPolicyError):
            wf.set_scheduler_policies(bad)
    for matcher in (42, ("name", "("), ("type", 3), ("kind", "step")):
        with pytest.raises(runic.InvalidPolicyError, match="matcher"):
            wf.add_scheduler_policy(matcher, {})


@pytest.mark.parametrize("spec, words", [
    ({"circuit_breaker": {"threshold": 5}}, "not supported"),
    ({"execution_mode": "async"}, "not supported"),
    ({"idempotency_key": "k"}, "current_runnable().idempotency_key"),
])
def test_settings_runic_does_not_implement_are_refused_with_the_reason(spec, words):
    with pytest.raises(runic.InvalidPolicyError) as info:
        one_step(fns.add1).add_scheduler_policy("s", spec)
    assert words in str(info.value)


def test_policies_recorded_with_retired_settings_still_replay(caplog):
    wf = one_step(fns.add1)
    head = WorkflowDefined("w", None, [[{"name": "s"}, {"execution_mode": "async", "circuit_breaker": {"n": 1},
                                                          "max_retries": 2}]])
    log = [head, *wf.build_log()[1:]]
    with caplog.at_level(logging.WARNING, logger="runic.replay"):
        rebuilt = runic.Workflow.from_events(codec.loads(codec.dumps(log)))
    assert rebuilt.scheduler_policies == [("s", {"execution_mode": "sync", "max_retries": 2})]
    assert "execution_mode='async'" in caplog.text and "circuit_breaker" in caplog.text
    assert rebuilt.react_until_satisfied(1).results() == {"s": 2}


def test_a_component_can_be_the_matcher():
    step = runic.step(fns.decline, name="charge")
    wf = runic.workflow("w", steps=[step]).add_scheduler_policy(step, {"max_retries": 1})
    assert wf.scheduler_policies == [("charge", {"max_retries": 1})]
    assert len(wf.react_until_satisfied(1).failures) == 2


# ---------------------------------------------------------------- retry_on / give_up_on

@pytest.mark.parametrize("retry_on", [[ConnectionError], ["ConnectionError"], [OSError], ["OSError"]])
def test_retry_on_retries_only_matching_errors(retry_on):
    lost = Failing(ConnectionResetError("reset"), ConnectionResetError("reset"), ValueError("bad reply"))
    wf = one_step(lost).add_scheduler_policy("s", {"max_retries": 5, "retry_on": retry_on})
    wf.react_until_satisfied(1)
    assert lost.calls == 3  # two connection errors retried, the ValueError is not
    assert [(f.error_type, f.action) for f in wf.failures] == [
        ("ConnectionResetError", "retry"), ("ConnectionResetError", "retry"), ("ValueError", "halt")]


@pytest.mark.parametrize("name", ["tests.core.fns.PaymentDeclined", "PaymentDeclined", fns.PaymentDeclined])
def test_give_up_on_matches_qualified_and_bare_names_and_wins(name):
    declined = Failing(fns.PaymentDeclined("no funds"))
    wf = one_step(declined).add_scheduler_policy("s", {"max_retries": 3, "retry_on": [Exception], "give_up_on": [name]})
    wf.react_until_satisfied(1)
    assert declined.calls == 1 and wf.failures[-1].halted and wf.failures[-1].attempts == 1


def test_timeouts_match_timeout_error():
    release = threading.Event()
    calls = []

    def slow(x):
        calls.append(x)
        release.wait(10)

    wf = one_step(slow).add_scheduler_policy("s", {"timeout_ms": 20, "max_retries": 3, "give_up_on": [TimeoutError]})
    try:
        wf.react_until_satisfied(1)
    finally:
        release.set()
    assert len(calls) == 1 and wf.failures[-1].kind == "timeout" and wf.failures[-1].halted


def test_classes_are_stored_as_names_so_policies_persist():
    wf = one_step(fns.add1).add_scheduler_policy("s", {"retry_on": [ConnectionError, fns.PaymentDeclined]})
    [(_, recorded)] = codec.loads(codec.dumps(wf.build_log()))[0].policies
    assert recorded["retry_on"] == ["ConnectionError", "tests.core.fns.PaymentDeclined"]
    assert P.SchedulerPolicy.new(retry_on=ConnectionError).retry_on == ("ConnectionError",)


# ---------------------------------------------------------------- priority

def test_priority_orders_dispatch_of_ready_runnables():
    order = []

    def record(tag):
        def work(x):
            order.append(tag)
            return x

        return work

    wf = runic.workflow("p", steps=[runic.step(record(n), name=n) for n in ("low", "plain", "urgent", "high")])
    wf.add_scheduler_policy("low", {"priority": "low"})
    wf.add_scheduler_policy("urgent", {"priority": "critical"})
    wf.add_scheduler_policy("high", {"priority": "high"})
    wf.plan_eagerly(1)
    _, top2 = wf.prepare_for_dispatch(limit=2)
    assert [r.node.name for r in top2] == ["urgent", "high"]
    wf.react_until_satisfied()
    assert order == ["urgent", "high", "plain", "low"]
    order.clear()
    runic.workflow("p", steps=[runic.step(record(n), name=n) for n in ("a", "b")]).react_until_satisfied(
        1, scheduler_policies=[("b", {"priority": "high"})])
    assert order == ["b", "a"]


def test_without_priorities_dispatch_keeps_activation_order():
    wf = runic.workflow("p", steps=[runic.step(fns.add1, name=n) for n in ("c", "a", "b")]).plan_eagerly(1)
    assert [r.node.name for r in wf.prepared_runnables()] == ["c", "a", "b"]


# ---------------------------------------------------------------- deadline_ms

def test_deadline_ms_stops_retries_that_would_start_after_it():
    failing = Failing(OSError("down"))
    wf = one_step(failing).add_scheduler_policy("s", {"max_retries": 5, "backoff": "linear", "base_delay_ms": 60_000,
                                                      "deadline_ms": 30_000})
    wf.react_until_satisfied(1)  # the first backoff (60 s) would end after the deadline (30 s)
    assert failing.calls == 1
    assert [(f.kind, f.action, f.final) for f in wf.failures] == [("exception", "retry", False),
                                                                  ("deadline", "halt", True)]
    assert "deadline" in wf.failures[-1].summary() and wf.failures[-1].attempts == 1


def test_deadline_ms_caps_a_running_attempt():
    release = threading.Event()
    wf = one_step(lambda x: release.wait(30)).add_scheduler_policy("s", {"deadline_ms": 50, "max_retries": 100})
    try:
        wf.react_until_satisfied(1)
    finally:
        release.set()
    assert wf.failures[-1].halted and wf.failures[-1].kind in ("timeout", "deadline")
    assert wf.failures[0].kind == "timeout" and wf.failures[0].message == "timed out after 50 ms"


# ---------------------------------------------------------------- policy targets

def test_check_policy_targets_refuses_a_name_that_is_not_in_the_workflow():
    wf = runic.workflow("orders", steps=[runic.step(fns.add1, name="charge"), runic.step(fns.double, name="ship")],
                        rules=[runic.rule(fns.is_positive, fns.label_positive, name="vip")])
    wf.add_scheduler_policy("chrage", {"max_retries": 3})
    with pytest.raises(runic.InvalidPolicyError) as info:
        wf.check_policy_targets()
    text = str(info.value)
    assert "'chrage'" in text and "did you mean 'charge'?" in text and "'ship'" in text and "orders" in text
    ok = runic.workflow("orders", steps=[runic.step(fns.add1, name="charge")],
                        rules=[runic.rule(fns.is_positive, fns.label_positive, name="vip")])
    for matcher in ("default", "charge", "vip", "vip.condition", re.compile("nothing"), ("type", Step),
                    ("name", "^x"), lambda node: False):
        ok.add_scheduler_policy(matcher, {})
    assert ok.check_policy_targets() is ok
    with pytest.raises(runic.InvalidPolicyError, match="'nope'"):
        ok.check_policy_targets([("nope", {})])
