"""Failures as first-class outcomes: a record per failed attempt, with tracebacks, replayed exactly."""

from __future__ import annotations

import pickle
import threading

import cloudpickle
import msgpack
import pytest

import runic
from runic import codec
from runic import policy as P
from runic.driver import execute_with_policy, run_with_timeout
from runic.errors import ErrorInfo
from runic.events import FailureRecorded, RunnableCompleted, UpstreamFailed

from . import fns


def roundtrip(events):
    return codec.loads(codec.dumps(events))


class Flaky:
    """Fails the first ``failures`` calls with ``error``, then returns ``x * 10``."""

    def __init__(self, failures, error=RuntimeError):
        self.failures = failures
        self.error = error
        self.calls = 0

    def __call__(self, x):
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error(f"failure {self.calls}")
        return x * 10


def one_step(fn, name="s", **policy):
    wf = runic.workflow("w", steps=[runic.step(fn, name=name)])
    if policy:
        wf.add_scheduler_policy(name, policy)
    return wf


# ---------------------------------------------------------------- records

def test_every_failed_attempt_is_recorded_and_a_success_after_retries_is_not_a_failure():
    flaky = Flaky(2)
    wf = one_step(flaky, max_retries=3).react_until_satisfied(4)
    assert wf.results() == {"s": 40}
    assert [(f.attempts, f.final, f.action) for f in wf.failures] == [(1, False, "retry"), (2, False, "retry")]
    assert [f.message for f in wf.failures] == ["failure 1", "failure 2"]
    assert all(f.error_type == "RuntimeError" and f.component == "s" and f.kind == "exception" for f in wf.failures)
    assert wf.halted_failures() == []
    wf.raise_for_failures()  # nothing halted: no exception


def test_a_step_that_fails_for_good_gives_final_failures_with_tracebacks():
    wf = one_step(fns.decline, name="charge", max_retries=2).react_until_satisfied(7)
    assert [(f.attempts, f.final, f.action) for f in wf.failures] == [(1, False, "retry"), (2, False, "retry"),
                                                                      (3, True, "halt")]
    last = wf.failures[-1]
    assert last.error_type == "tests.core.fns.PaymentDeclined" and last.message.startswith("card expired")
    assert "in decline" in last.traceback and "PaymentDeclined: card expired" in last.traceback
    assert last.component_kind == "step" and last.node_hash == wf["charge"].hash and last.at > 0
    assert wf.halted_failures() == [last]
    with pytest.raises(runic.WorkflowFailedError) as info:
        wf.raise_for_failures(workflow_id="order-7")
    assert str(info.value) == ("workflow 'order-7' failed: step 'charge' raised PaymentDeclined: card expired "
                               "(after 3 attempts)")
    assert info.value.failures == [last] and isinstance(info.value, runic.RunicError)


def test_without_policies_a_failure_is_recorded_once_with_its_traceback():
    wf = one_step(lambda x: {}[x], name="lookup").react_until_satisfied("k")
    [f] = wf.failures
    assert (f.error_type, f.message, f.attempts, f.final, f.action) == ("KeyError", "'k'", 1, True, "halt")
    assert "KeyError" in f.traceback and "lambda" in f.traceback


def test_skip_is_final_but_does_not_fail_the_workflow():
    wf = one_step(fns.decline, name="charge", on_failure="skip").react_until_satisfied(1)
    [f] = wf.failures
    assert (f.final, f.action) == (True, "skip") and not f.halted and wf.halted_failures() == []


def test_retry_records_survive_the_trip_to_another_process():
    """The process executor pickles the attempt: the traceback is captured before that."""

    def pickled_attempt(r, timeout_s):
        return cloudpickle.loads(cloudpickle.dumps(run_with_timeout(r, timeout_s)))

    wf = one_step(fns.decline, name="charge").plan_eagerly(1)
    [r] = wf.prepared_runnables()
    out, _ = execute_with_policy(r, P.SchedulerPolicy.new(max_retries=1), attempt_runner=pickled_attempt)
    assert out.error.__traceback__ is None  # what a pickled exception looks like
    assert [f.attempts for f in out.failures] == [1, 2]
    assert all("in decline" in f.traceback for f in out.failures)
    wf.apply_runnable(out)
    assert len(wf.failures) == 2 and wf.failures[-1].halted


def test_a_timeout_answered_by_a_fallback_is_recorded_as_such():
    release = threading.Event()

    def slow(x):
        release.wait(10)
        return x

    wf = one_step(slow, name="fetch", timeout_ms=50, execution_mode="durable",
                  fallback=lambda r, err: ("value", "cached"))
    try:
        wf.react_until_satisfied(1)
    finally:
        release.set()
    assert wf.results() == {"fetch": "cached"}
    [f] = wf.failures
    assert (f.kind, f.action, f.final, f.error_type) == ("timeout", "fallback", True, "runic.errors.StepTimeoutError")
    assert f.message == "timed out after 50 ms" and not f.halted
    [done] = [e for e in wf.runnable_events if isinstance(e, RunnableCompleted)]
    assert done.fallback is True


def test_plain_completions_are_not_marked_as_fallbacks():
    wf = one_step(fns.add1, name="a", execution_mode="durable").react_until_satisfied(1)
    [done] = [e for e in wf.runnable_events if isinstance(e, RunnableCompleted)]
    assert done.fallback is False


def test_a_failing_fallback_halts_with_its_own_traceback():
    def broken_fallback(r, err):
        raise LookupError("no cached value")

    wf = one_step(fns.decline, name="charge", fallback=broken_fallback).react_until_satisfied(1)
    assert [(f.action, f.kind, f.error_type) for f in wf.failures] == [
        ("fallback", "exception", "tests.core.fns.PaymentDeclined"), ("halt", "fallback", "LookupError")]
    assert "in broken_fallback" in wf.failures[-1].traceback
    assert "(in its fallback)" in wf.failures[-1].summary()


def test_an_invalid_fallback_return_says_what_a_fallback_returns():
    wf = one_step(fns.decline, name="charge", fallback=lambda r, err: 42).react_until_satisfied(1)
    last = wf.failures[-1]
    assert last.halted and last.kind == "fallback" and "returned 42" in last.message
    assert "('value', v)" in last.message


def test_hook_errors_are_failures_with_the_hooks_traceback():
    def audit(event, ctx):
        raise PermissionError("audit log is read-only")

    wf = runic.workflow("h", steps=[runic.step(fns.add1, name="a")])
    wf.attach_before_hook("a", audit)
    wf.react_until_satisfied(1)
    [f] = wf.failures
    assert (f.kind, f.error_type, f.message) == ("hook", "PermissionError", "audit log is read-only")
    assert "in audit" in f.traceback and "(in a hook)" in f.summary()


def test_a_hook_reporting_an_error_value_is_a_hook_error():
    wf = runic.workflow("h", steps=[runic.step(fns.add1, name="a")])
    wf.attach_after_hook("a", lambda event, ctx: ("error", "quota exceeded"))
    wf.react_until_satisfied(1)
    [f] = wf.failures
    assert (f.kind, f.error_type) == ("hook", "runic.errors.HookError") and "quota exceeded" in f.message


def test_a_condition_that_raises_fails_its_rule_and_a_type_error_still_means_no():
    def needs_amount(order):
        return order["amount"] > 100

    reactions = []
    wf = runic.workflow("r", rules=[runic.rule(needs_amount, lambda o: reactions.append(o), name="big")])
    wf.react_until_satisfied({"id": 1})  # KeyError: a bug, not a "no"
    [f] = wf.failures
    assert (f.component, f.component_kind, f.error_type) == ("big", "rule", "KeyError")
    assert "in needs_amount" in f.traceback and reactions == []
    assert f.summary() == "rule 'big' raised KeyError: 'amount'"
    wf.react_until_satisfied(5)  # TypeError (5["amount"]): the input does not fit, so "no"
    assert len(wf.failures) == 1 and reactions == []


def test_a_reducer_failing_when_the_map_completes_is_recorded_with_its_traceback():
    def bad_total(x, acc):
        if x == 4:
            raise ArithmeticError("overflow at 4")
        return x + acc

    wf = runic.workflow("mr", steps=[(runic.map(fns.double, name="m"), [runic.reduce(0, bad_total, name="sum")])])
    wf.react_until_satisfied([1, 2, 3])
    [f] = wf.failures
    assert (f.component, f.component_kind, f.error_type, f.final) == ("sum", "reduce", "ArithmeticError", True)
    assert "in bad_total" in f.traceback and wf.results(["sum"]) == {"sum": None}


def test_an_accumulator_reducer_failure_is_recorded():
    def reducer(x, state):
        raise ValueError(f"cannot add {x}")

    wf = runic.workflow("acc", steps=[runic.accumulator(0, reducer, name="running")]).react_until_satisfied(3)
    [f] = wf.failures
    assert (f.component, f.component_kind, f.message) == ("running", "accumulator", "cannot add 3")


def test_failures_are_recorded_as_events_in_every_execution_mode():
    wf = one_step(Flaky(1), max_retries=1).enable_event_emission()
    wf.react_until_satisfied(2)
    recorded = [e.failure for e in wf.drain_events() if isinstance(e, FailureRecorded)]
    assert recorded == wf.failures and len(recorded) == 1
    assert wf.runnable_events == []  # sync mode: no lifecycle events, yet the failure is there


def test_failures_list_is_append_only_and_can_be_read_since_an_input():
    wf = one_step(lambda x: 1 / x, name="inv")
    wf.react_until_satisfied(0)
    mark = len(wf.failures)
    wf.react_until_satisfied(2)
    assert mark == 1 and len(wf.failures) == 1 and wf.halted_failures(since=mark) == []
    wf.react_until_satisfied(0.0)
    assert len(wf.halted_failures(since=mark)) == 1 and len(wf.halted_failures()) == 2


# ---------------------------------------------------------------- replay

def failing_workflow():
    wf = runic.workflow("replayed", steps=[runic.step(Flaky(1), name="flaky"),
                                           runic.step(fns.decline, name="charge")])
    wf.add_scheduler_policy("flaky", {"max_retries": 2})
    wf.add_scheduler_policy("charge", {"max_retries": 1, "execution_mode": "durable"})
    return wf


def test_streams_and_snapshots_rebuild_failures_exactly_through_the_codec():
    wf = failing_workflow().enable_event_emission()
    wf.react_until_satisfied(3)
    assert len(wf.failures) == 3 and len(wf.halted_failures()) == 1
    stream = roundtrip(wf.build_log() + wf.drain_events())
    functions = {"flaky": Flaky(0)}
    assert runic.Workflow.from_events(stream, functions=functions).failures == wf.failures
    snapshot = roundtrip(wf.event_log())
    again = runic.Workflow.from_events(snapshot, functions=functions)
    assert again.failures == wf.failures
    assert runic.Workflow.from_events(roundtrip(again.event_log()), functions=functions).failures == wf.failures


def test_old_logs_with_only_upstream_failed_give_final_failures_without_tracebacks():
    wf = failing_workflow().enable_event_emission()
    wf.react_until_satisfied(3)
    old = [e for e in wf.build_log() + wf.drain_events() if not isinstance(e, FailureRecorded)]
    old = [UpstreamFailed(e.fact_hash, e.node_hash, e.from_label, ErrorInfo.from_exception(e.error))
           if isinstance(e, UpstreamFailed) and e.error is not None else e for e in old]
    rebuilt = runic.Workflow.from_events(roundtrip(old), functions={"flaky": Flaky(0)})
    [f] = rebuilt.failures
    assert (f.component, f.error_type, f.final, f.action, f.traceback) == (
        "charge", "tests.core.fns.PaymentDeclined", True, "halt", "")
    assert rebuilt.halted_failures() == [f]


def test_version_1_completions_decode_as_plain_completions():
    record = msgpack.ExtType(4, msgpack.packb(["runic.RunnableCompleted", 1, [7, 8, None, 1_700_000_000_000, 0, 12]]))
    done = codec.loads(msgpack.packb(record))
    assert isinstance(done, RunnableCompleted) and done.fallback is False and done.duration_ms == 12


def test_failure_records_and_the_error_round_trip():
    f = runic.Failure("charge", "ValueError", "bad", "Traceback...", 2, 1_700_000_000_000, False, "retry",
                      node_hash=5, fact_hash=6)
    assert codec.loads(codec.dumps(f)) == f
    err = runic.WorkflowFailedError("w", [f])
    assert pickle.loads(pickle.dumps(err)).failures == [f] and str(pickle.loads(pickle.dumps(err))) == str(err)
    with pytest.raises(AttributeError):
        f.message = "changed"  # type: ignore[misc]


def test_a_failure_found_outside_execution_can_be_recorded():
    from runic.failures import failure_for

    wf = runic.workflow("r", rules=[runic.rule(fns.is_positive, fns.label_positive, name="vip")])
    wf.enable_event_emission().react_until_satisfied(1)
    node = wf.get_component(("vip", "reaction"))[0]
    f = failure_for(node, 123, runic.codec.EncodeError("cannot encode a value of type Order; register it"))
    wf.record_failure(f)
    [recorded] = wf.failures
    assert (recorded.component, recorded.component_kind, recorded.error_type) == ("vip", "rule", "runic.codec.EncodeError")
    assert [e.failure for e in wf.drain_events() if isinstance(e, FailureRecorded)] == [recorded]
    with pytest.raises(runic.WorkflowDefinitionError):
        wf.record_failure("boom")  # type: ignore[arg-type]
