"""The policy driver: run one runnable under a scheduler policy.

:func:`execute_with_policy` runs the work up to ``1 + max_retries`` times with backoff between
attempts — only while the error is retryable (``retry_on``/``give_up_on``) and the runnable's
deadline (``deadline_ms``, or the caller's ``deadline_at``) has not passed — enforces
``timeout_ms``, then applies ``on_failure`` or the ``fallback``. When asked
(``emit_events=True``, which callers pass for ``execution_mode="durable"``) it returns
lifecycle events in chronological order: ``RunnableDispatched`` for each attempt, then one
``RunnableCompleted`` (``fallback=True`` when the fallback produced it) or ``RunnableFailed``.

Whatever the mode, every failed attempt becomes a :class:`runic.Failure` on the returned
runnable's ``failures`` (oldest first): ``action="retry"`` for attempts followed by another,
then one final record whose action is ``halt``, ``skip`` or ``fallback``; when the fallback
itself fails, a last record says why (``kind="fallback"`` or the retried attempt's error).
:meth:`runic.Workflow.apply_runnable` records them as ``FailureRecorded`` events.

Timeouts here run the attempt on a separate daemon thread and stop waiting when the time is up:
a Python thread cannot be killed, so the abandoned attempt keeps running in the background and
its late result is discarded (each attempt works on its own copy of the runnable). Use the
Runner's process executor when a timed-out step must really be stopped.

Fallback return forms: a :class:`~runic.runnable.Runnable` (executed once without retries),
``("retry_with", overrides)`` (merged into the runnable's ``meta_context`` and executed once),
``("value", v)`` (completes with ``v``; downstream steps run with it); anything else fails the
runnable with ``("invalid_fallback_return", x)``.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

from .coroutines import awaited
from .events import ActivationConsumed, FactProduced, RunnableCompleted, RunnableDispatched, RunnableFailed
from .facts import Fact
from .failures import Failure, failure_for
from .policy import SchedulerPolicy, backoff_delay_ms, default_policy
from .runnable import COMPLETED, FAILED, SKIPPED, Runnable

__all__ = ["execute_with_policy", "run_with_timeout", "now_ms", "wall_ms"]

_NO_RETRY = SchedulerPolicy()


def now_ms() -> int:
    """Monotonic milliseconds (durations, deadlines)."""
    return time.monotonic_ns() // 1_000_000


def wall_ms() -> int:
    """Wall-clock milliseconds since the epoch (timestamps recorded in lifecycle events)."""
    return time.time_ns() // 1_000_000


def run_with_timeout(runnable: Runnable, timeout_s: float | None) -> Runnable:
    """Execute a fresh copy of ``runnable``; with a timeout, give up waiting after it."""
    attempt = runnable.reset()
    if timeout_s is None:
        return attempt.execute_tracked()
    done = threading.Event()

    def work() -> None:
        try:
            attempt.execute_tracked()
        except BaseException as exc:  # noqa: BLE001 - reported as the attempt's failure
            attempt.fail(exc)
        finally:
            done.set()

    t = threading.Thread(target=work, name=f"runic-attempt-{runnable.id:x}", daemon=True)
    t.start()
    if done.wait(max(timeout_s, 0.0)):
        return attempt
    return runnable.reset().fail(("timeout", int(timeout_s * 1000)))


def _skip(r: Runnable) -> Runnable:
    node = r.node
    label = getattr(node, "activation_label", "runnable")
    return r.reset().skip([ActivationConsumed(r.input_fact.hash, node.hash, label)])


def _dispatched(r: Runnable, policy: SchedulerPolicy, attempt: int) -> RunnableDispatched:
    return RunnableDispatched(r.id, r.node_name, r.node.hash, r.input_fact, wall_ms(), policy.for_event(), attempt)


def _completed(r: Runnable, attempt: int, t0: int, fallback: bool = False) -> RunnableCompleted:
    return RunnableCompleted(r.id, r.node.hash, r.result if isinstance(r.result, Fact) else None,
                             wall_ms(), attempt, max(0, now_ms() - t0), fallback)


def _failed(r: Runnable, attempts: int, action: str) -> RunnableFailed:
    return RunnableFailed(r.id, r.node.hash, r.error, wall_ms(), attempts, action)


def _record(r: Runnable, attempts: int, final: bool, action: str) -> Failure:
    """The failure record of the failed attempt ``r`` (number ``attempts``, 1-based)."""
    return failure_for(r.node, r.input_fact.hash, r.error, attempts=attempts, final=final, action=action,
                       at=wall_ms(), traceback=r.traceback or None)


def _fallback(r: Runnable, policy: SchedulerPolicy,
              attempt_runner: Callable[[Runnable, float | None], Runnable]) -> Runnable:
    try:
        res = awaited(policy.fallback(r, r.error))  # type: ignore[misc]
    except Exception as exc:
        return r.reset().fail(("fallback_exception", exc))
    if isinstance(res, Runnable):
        return run_with_timeout(res, None)
    if isinstance(res, tuple) and len(res) == 2 and res[0] == "retry_with" and isinstance(res[1], dict):
        return attempt_runner(r.with_meta(res[1]), policy.timeout_s)
    if isinstance(res, tuple) and len(res) == 2 and res[0] == "value":
        v = res[1]
        node, inp = r.node, r.input_fact
        fact = Fact(v, (node.hash, inp.hash))
        return r.reset().complete(fact, [
            FactProduced(fact.hash, v, fact.ancestry, "produced", r.context.ancestry_depth + 1),
            ActivationConsumed(inp.hash, node.hash, getattr(node, "activation_label", "runnable")),
        ])
    return r.reset().fail(("invalid_fallback_return", res))


def _finish(r: Runnable, failures: list[Any], events: list[Any]) -> tuple[Runnable, list[Any]]:
    r.failures = tuple(failures)
    return r, events


def execute_with_policy(
    runnable: Runnable,
    policy: SchedulerPolicy | None = None,
    *,
    deadline_at: int | None = None,
    emit_events: bool = False,
    sleep: Callable[[float], Any] = time.sleep,
    attempt_runner: Callable[[Runnable, float | None], Runnable] = run_with_timeout,
) -> tuple[Runnable, list[Any]]:
    """Run ``runnable`` under ``policy``; return the final runnable and lifecycle events.

    ``deadline_at`` is an absolute :func:`now_ms` value (the policy's ``deadline_ms``, counted
    from this call, tightens it); past it no new attempt starts (the runnable fails with
    ``("deadline_exceeded", remaining_ms)``, which ``on_failure`` and the fallback then handle
    like any final failure), a backoff that would end after it is not slept, and timeouts are
    capped by it. Exactly ``1 + max_retries`` executions at most, fewer when the error is not
    retryable; the fallback is called once, after them. ``attempt_runner(runnable, timeout_s)``
    runs one attempt on a fresh copy (default: in this process, a timeout abandons a thread;
    the Runner's process executor kills a process). The returned runnable's ``failures`` holds
    a :class:`runic.Failure` per failed attempt (see the module docs).
    """
    policy = policy or default_policy()
    if policy.deadline_ms is not None:
        own = now_ms() + int(policy.deadline_ms)
        deadline_at = own if deadline_at is None else min(deadline_at, own)
    events: list[Any] = []
    failures: list[Failure] = []
    attempt = 0
    t0 = now_ms()
    while True:
        timeout_s = policy.timeout_s
        if deadline_at is not None:
            remaining = deadline_at - now_ms()
            if remaining <= 0:
                r = runnable.reset().fail(("deadline_exceeded", remaining))
                break
            timeout_s = remaining / 1000.0 if timeout_s is None else min(timeout_s, remaining / 1000.0)
        if emit_events:
            events.append(_dispatched(runnable, policy, attempt))
        t0 = now_ms()
        r = attempt_runner(runnable, timeout_s)
        if r.status == COMPLETED:
            if emit_events:
                events.append(_completed(r, attempt, t0))
            return _finish(r, failures, events)
        if r.status == SKIPPED:
            return _finish(r, failures, events)
        attempt += 1  # attempts made so far
        if attempt <= policy.max_retries and policy.should_retry(r.error):
            delay = backoff_delay_ms(policy, attempt - 1)
            if deadline_at is not None and now_ms() + delay >= deadline_at:
                # the retry would start after the deadline: say so instead of sleeping for nothing
                failures.append(_record(r, attempt, False, "retry"))
                r = runnable.reset().fail(("deadline_exceeded", deadline_at - now_ms()))
                break
            failures.append(_record(r, attempt, False, "retry"))
            if delay > 0:
                sleep(delay / 1000.0)
            continue
        break
    # r failed for good (attempt = attempts made; a deadline may have stopped a new one)
    if r.error is not None and r.error.__class__ is tuple and r.error and r.error[0] == "deadline_exceeded":
        attempts_no = max(attempt, 1)
    else:
        attempts_no = attempt
    if policy.fallback is None:
        failures.append(_record(r, attempts_no, True, policy.on_failure))
        final = _skip(r) if policy.on_failure == "skip" else r
        if emit_events:
            events.append(_failed(r, attempt, policy.on_failure))  # attempts made
        return _finish(final, failures, events)
    failures.append(_record(r, attempts_no, True, "fallback"))
    fb = _fallback(r, policy, attempt_runner)
    if fb.status == COMPLETED:
        if emit_events:
            events.append(_completed(fb, max(attempt - 1, 0), t0, fallback=True))
    elif fb.status == FAILED:
        ran_again = not (fb.error.__class__ is tuple and fb.error
                         and fb.error[0] in ("fallback_exception", "invalid_fallback_return"))
        failures.append(_record(fb, attempts_no + 1 if ran_again else attempts_no, True, "halt"))
        if emit_events:
            events.append(_failed(fb, attempt, "halt"))
    return _finish(fb, failures, events)
