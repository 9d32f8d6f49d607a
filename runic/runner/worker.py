"""The Worker: one workflow's state machine and dispatch loop.

A Worker lives inside a worker host's execution loop (:mod:`runic.runner.loop`). **Thread
territory:** every method runs with the host's ``HostLoop.lock`` held — on the loop thread, or
on a step thread that has just finished a step and applies its result — so a Worker sees one
thing at a time. It owns the workflow value, prepares work, hands runnables to an executor,
applies results, persists, and reports.

Statuses: ``running`` (work in flight or queued), ``idle`` (settled, no failure), ``failed``
(settled, and a runnable failed for good since the last input: see :mod:`runic.runner.outcome`),
``stopped`` (by ``stop``; resumable) and ``cancelled`` (by ``cancel``). The store records each
status change, in the same transaction as the events that caused it where there are any.

Accepting an input (:meth:`Worker.accept`) plans it (conditions are evaluated here, without
policies) and makes the input and the status ``running`` durable in **one** write *before* the
caller is answered: an acknowledged input survives a SIGKILL of the host right after the answer.
Dispatch (:meth:`Worker.pump`) comes after, so the answer never waits for the work.

Persistence: the workflow buffers every runtime event; after each applied result the buffer is
drained, and at checkpoint moments the pending events and fact values go to the store in one
``append`` transaction, fenced by the Worker's ownership epoch. A ``FactProduced`` value stays
in its event when it is small (at most :data:`INLINE_FACT_BYTES` encoded: scalars, short
strings, small containers — encoded once, the bytes reused by the store's row); a larger one
moves to the fact table and its event keeps :data:`~runic.STRIPPED`, so lazy and hybrid resumes
load it only when needed. Decision: one fact-table row per step cost a second B-tree page per
commit at a random key (~40% of a durable step's SQL); a 512-byte value inline costs less than
that row.

* A stale owner (another process took the workflow over) gets
  :class:`~runic.store.FencedError`: the Worker stops at once, and everyone waiting on it gets a
  :class:`~runic.runner.errors.WorkflowTakenOverError` naming the new owner.
* Any other store error (disk full, database unreachable): the Worker keeps what it could not
  persist, stops dispatching, and retries with backoff (``persistence_status`` in
  :meth:`Worker.state` says so). After ``store_retry_s`` seconds its waiters get a
  :class:`~runic.runner.errors.PersistenceError`; it keeps retrying, and once a write succeeds it
  dispatches again and the workflow completes. Nothing acknowledged is lost and nothing is
  dispatched twice: while a write is failing no new step starts.

A step result that cannot be encoded (a type the codec does not know) fails that runnable, with
a failure record that says how to allow the type — it never wedges the workflow.

Decisions: ``on_complete`` and every hook are exception-guarded (a raising hook is logged and
ignored); the inline executor uses an explicit work queue on the loop thread and emits durable
lifecycle events; the planning events of an input are persisted even when no step completes; on
resume the restored pending activations are dispatched at once; runtime ``scheduler_policies``
are prepended to the workflow's once (repeating the same list does not stack it again).
"""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from typing import TYPE_CHECKING, Any, Callable

from .. import codec, telemetry
from ..driver import execute_with_policy, now_ms
from ..errors import ArgumentError
from ..events import FactProduced
from ..facts import HASH_VERSION_KEY, LATEST_HASH_VERSION, NOTHING, STRIPPED, Fact, set_hash_version
from ..nodes import ROOT_HASH
from ..policy import merge_policies, resolve
from ..rehydration import FactResolver, resolve_pending
from ..runnable import COMPLETED, FAILED, Runnable
from ..store import FencedError, StoreError
from .errors import PersistenceError, WorkflowTakenOverError
from .executors import attempts_of, kill_attempts
from .inbox import MARK as INBOX_MARK
from .outcome import failed_error, halting
from .port import DEBUG_LOCKS

if TYPE_CHECKING:  # pragma: no cover
    from ..core import Workflow
    from .port import HostPort

__all__ = ["Worker", "CHECKPOINT_STRATEGIES", "HOOKS", "parse_checkpoint_strategy", "STORE_RETRY_S"]

log = logging.getLogger("runic.runner")

HOOKS = ("on_dispatch", "on_complete", "on_failed", "on_idle", "transform_runnables")
CHECKPOINT_STRATEGIES = ("every_cycle", "on_complete", "manual", "every_n")
INLINE_FACT_BYTES = 512
"""Fact values whose encoding is at most this long stay inline in their ``FactProduced`` event."""
_SCALAR_VALUES = frozenset({type(None), bool, int, float})
#: values the codec always encodes: a step returning one needs no trial encoding
_ENCODABLE = frozenset({type(None), bool, int, float, str, bytes})
STORE_RETRY_S = 30.0
"""Default time a Worker keeps retrying a failing store before its waiters get an exception."""
_MARK = "runner.failure_mark"
_RUN = "runner.run"  # {"mark": failures before this input, "trace": the caller's trace context}
_RETRY_FIRST_S = 0.05
_RETRY_MAX_S = 2.0
_T = ("runic", "runner")


def parse_checkpoint_strategy(value: Any) -> tuple[str, int]:
    """``"every_cycle"`` | ``"on_complete"`` | ``"manual"`` | ``("every_n", n)`` -> (kind, n)."""
    if isinstance(value, (tuple, list)) and len(value) == 2 and value[0] == "every_n":
        try:
            n = int(value[1])
        except (TypeError, ValueError):
            n = 0
        if n < 1 or isinstance(value[1], bool):
            raise ArgumentError(f"('every_n', n) needs an int n >= 1, got {value[1]!r}")
        return "every_n", n
    if value in ("every_cycle", "on_complete", "manual"):
        return value, 1
    raise ArgumentError(
        f"unknown checkpoint_strategy {value!r}; use 'every_cycle', 'on_complete', ('every_n', n) or 'manual'"
    )


def unencodable(r: Runnable) -> Runnable:
    """``r`` itself, or — when a value it produced cannot be encoded — ``r`` failed with the
    :class:`~runic.codec.EncodeError` (whose message says how to allow the type).

    Runs on the step thread right after the step, so the check costs the loop nothing."""
    if r.status != COMPLETED:
        return r
    result = r.result
    if result.__class__ is Fact and result.value.__class__ not in _ENCODABLE:
        try:
            codec.dumps(result.value)
        except codec.EncodeError as exc:
            failed = r.reset().fail(codec.EncodeError(
                f"step {r.node_name!r} returned a value that cannot be persisted: {exc}"), traceback="")
            failed.failures = r.failures  # earlier failed attempts stay recorded
            return failed
    return r


class Worker:
    """One workflow under a worker host (see the module docs)."""

    def __init__(self, port: "HostPort", workflow_id: Any, workflow: "Workflow", options: dict,
                 callbacks: dict | None, epoch: int | None, *, resumed: bool = False,
                 resolver: FactResolver | None = None, lazy: bool = False, first_input: Any = NOTHING,
                 trace: dict[str, str] | None = None, defer_write: bool = False) -> None:
        self.port = port
        self.id = workflow_id
        self.workflow = workflow
        self.store = port.store
        self.options = dict(options or {})
        self.epoch = epoch
        self.resolver = resolver
        self.lazy = lazy
        self.status = "idle"
        self.stored_status: str | None = None  # the status last written to the store
        self.stopped = False
        self.end_error: BaseException | None = None  # why the Worker ended, for its waiters
        self.started_at = now_ms()
        self.cycle_count = 0
        self.event_cursor = 0
        # failures before this index belong to earlier inputs (persisted with each input: a
        # resumed Worker judges the input it resumes, not only what fails after the resume)
        run = workflow.annotations.get(_RUN) or {}
        self.failure_mark = int(run.get("mark", workflow.annotations.get(_MARK, 0))) if resumed \
            else len(workflow.failures)
        #: the trace context of the current run (the caller's, carried into this host)
        self.trace: dict[str, str] | None = run.get("trace") if resumed else None
        self._labels: dict[int, str] = {}
        #: activation key (fact_hash, node_hash) -> (runnable, dispatch time ms); the dispatch
        #: times by runnable id that state() shows come from here (a runnable's id is a hash:
        #: computed only when asked, not on every dispatch)
        self.active: dict[tuple[int, int], tuple[Runnable, int]] = {}
        self.awaiters: list[Callable[["Worker"], None]] = []  # called once the workflow settles
        self.pending_events: list = []
        self.pending_facts: dict[int, Any] = {}
        self._inline: deque = deque()
        # persistence failures
        self.persist_error: BaseException | None = None
        self.persist_failing_since: float | None = None
        self._persist_attempts = 0
        self._retry_armed = False
        self.store_retry_s = float(self.options.get("store_retry_s") or STORE_RETRY_S)
        cb = callbacks or {}
        self.on_complete: Callable | None = cb.get("on_complete")
        hooks = cb.get("hooks") or {}
        unknown = set(hooks) - set(HOOKS)
        if unknown:
            raise ArgumentError(f"unknown hooks {sorted(unknown)}; valid hooks are {HOOKS}")
        self.hooks: dict[str, Callable | None] = {h: hooks.get(h) for h in HOOKS}
        self.max_concurrency = int(self.options.get("max_concurrency") or (os.cpu_count() or 1))
        if self.max_concurrency < 1:
            raise ArgumentError("max_concurrency must be >= 1")
        self.strategy, self.every_n = parse_checkpoint_strategy(self.options.get("checkpoint_strategy", "every_cycle"))
        self.executor_name = self.options.get("executor") or "thread"
        self.executor = port.executor(self.executor_name)
        self._gate = getattr(port, "gate", None)  # the node's lease gate (runic.runner.gate), if any
        self.streams = bool(getattr(self.store, "streams", False))  # the store's declared capability
        self.saves_facts = self.streams
        #: group commit (see the module docs): the port's ``want_step``/``want_commit``, when it
        #: runs rounds of Workers and the store streams
        self._want_step: Callable[["Worker"], None] | None = getattr(port, "want_step", None) if self.streams else None
        self._want_commit: Callable[["Worker"], None] | None = getattr(port, "want_commit", None) \
            if self._want_step is not None else None
        self.commit_wanted = False  # a checkpoint waits for the port's commit round
        self._deferred_status: str | None = None
        if self.streams:
            workflow.enable_event_emission()
        #: the fact hash version of this workflow: recorded in its log when it starts, read back
        #: when it resumes (a log without one: version 1, BLAKE2b), set on every thread that
        #: makes its facts (see runic.facts)
        self.hash_version = int(workflow.annotations.get(HASH_VERSION_KEY, 1)) if resumed else LATEST_HASH_VERSION
        set_hash_version(self.hash_version)  # fails here, naming the version, if unknown
        if not resumed:
            if self.streams:
                workflow.annotate("runner.options", self._plain_options())
                workflow.annotate(HASH_VERSION_KEY, self.hash_version)
                events = workflow.build_log()
                self.pending_events.extend(events)
                self.event_cursor = len(events)
            if first_input is not NOTHING:  # started with an input: plan it into the first write
                self._plan(first_input, None, None, trace)
            if defer_write and self.streams:  # the caller writes it (commit_item/committed), batched
                self._deferred_status = self.status
                self.commit_wanted = True
            else:
                # build log (+ input) and status in one write; raises if it cannot be made durable
                self._write(None, self.status)
        elif self.streams:
            self.event_cursor = self.store.cursor(workflow_id)  # continue from the store's cursor

    # ------------------------------------------------------------------ helpers
    def _plain_options(self) -> dict:
        return {"max_concurrency": self.options.get("max_concurrency"),
                "checkpoint_strategy": list(self.options["checkpoint_strategy"])
                if isinstance(self.options.get("checkpoint_strategy"), tuple)
                else self.options.get("checkpoint_strategy", "every_cycle"),
                "executor": self.executor_name}

    def _safe(self, hook: str, *args: Any, default: Any = None) -> Any:
        fn = self.hooks.get(hook)
        if fn is None:
            return default
        try:
            return fn(*args)
        except Exception:  # noqa: BLE001 - a hook never crashes the Worker
            log.exception("workflow %r: hook %s raised; ignoring it", self.id, hook)
            return default

    def _set_status(self, status: str) -> None:
        if status == self.stored_status:
            return
        try:
            self.store.set_status(self.id, status, epoch=self.epoch)
        except FencedError:
            self._fenced("recording its status")
            return
        except StoreError as exc:
            self._persist_failed(exc)
            return
        self.stored_status = status

    def state(self) -> dict:
        """An inspectable snapshot of the Worker (tests and tools read these fields)."""
        persistence: dict[str, Any] = {"status": "ok"}
        if self.persist_error is not None:
            persistence = {"status": "failing", "since_s": round(time.monotonic() - (self.persist_failing_since or 0), 3),
                           "attempts": self._persist_attempts, "error": f"{type(self.persist_error).__name__}: "
                                                                        f"{self.persist_error}"}
        return {
            "id": self.id, "status": self.status, "active_tasks": len(self.active),
            "active_runnables": [r.id for r, _ in self.active.values()],
            "dispatch_times": {r.id: t for r, t in self.active.values()}, "executor": self.executor_name,
            "max_concurrency": self.max_concurrency, "checkpoint_strategy": self.strategy,
            "cycle_count": self.cycle_count, "event_cursor": self.event_cursor, "epoch": self.epoch,
            "hooks": {k: (v is not None) for k, v in self.hooks.items()},
            "resolver": self.resolver is not None, "pid": os.getpid(), "host": self.port.host_id,
            "store": type(self.store).__name__, "uncommitted": len(self.pending_events),
            "persistence_status": persistence, "awaiters": len(self.awaiters),
        }

    # ------------------------------------------------------------------ run
    def accept(self, value: Any, run_context: dict | None = None, policies: list | None = None,
               trace: dict[str, str] | None = None, inbox: int | None = None) -> None:
        """Take an input: plan it, then make the input and the status ``running`` durable in one
        write. Returns only once it is durable (the caller may then be told "accepted"); raises
        if it cannot be made durable. Dispatch is the caller's next step (:meth:`pump`).
        ``inbox``: the input is inbox request ``inbox``, marked applied in that same write
        (:mod:`runic.runner.inbox`)."""
        if DEBUG_LOCKS:
            self.port.assert_locked()
        if self.persist_error is not None:
            raise PersistenceError(
                f"workflow {self.id!r} cannot persist (failing since "
                f"{time.monotonic() - (self.persist_failing_since or 0):.1f} s: {self.persist_error}); "
                "the input was not accepted. Fix the store, then run it again", self.id)
        self._plan(value, run_context, policies, trace)
        if inbox is not None:
            self.workflow.annotate(INBOX_MARK, inbox)
        self._write("checkpoint", "running")

    def run(self, value: Any, run_context: dict | None = None, policies: list | None = None) -> None:
        """:meth:`accept` then :meth:`pump` (in-process callers and tests)."""
        self.accept(value, run_context, policies)
        self.pump()

    def _plan(self, value: Any, run_context: dict | None, policies: list | None,
              trace: dict[str, str] | None = None) -> None:
        set_hash_version(self.hash_version)
        wf = self.workflow
        if policies:
            wf.check_policy_targets(policies)  # a misspelled component is refused, not ignored
            merged = merge_policies(policies, wf.scheduler_policies)
            if wf.scheduler_policies[: len(policies)] != list(policies):
                wf.set_scheduler_policies(merged)
        if run_context:
            wf.put_run_context(run_context)
        if self.status != "running":  # a new run: its failures are judged on their own, its trace begins
            self.failure_mark = len(wf.failures)
            self.trace = trace
            self.started_at = now_ms()
            if self.failure_mark or trace:
                wf.annotate(_RUN, {"mark": self.failure_mark, "trace": trace})
            self._run_started()
        wf.plan_eagerly(value)
        self._drain()
        self.status = "running"

    def apply_options(self, run_context: dict | None, policies: list | None) -> None:
        """Before a resumed workflow runs again: its run context (never persisted) and runtime
        scheduler policies."""
        wf = self.workflow
        if policies:
            wf.set_scheduler_policies(merge_policies(policies, wf.scheduler_policies))
        if run_context:
            wf.put_run_context(run_context)

    def resumed(self) -> bool:
        """After a resume, before the caller is answered: record the status (``running`` when
        work was pending when it was persisted, else its settled status). True if there is work
        to dispatch (the caller's next step: :meth:`pump`)."""
        if self.workflow.is_runnable() or self.workflow.pending_runnables():
            if self.workflow.pending_runnables():
                log.info("workflow %r: %d runnables were in flight; dispatching pending work again",
                         self.id, len(self.workflow.pending_runnables()))
            self.status = "running"
            self._set_status("running")
            self._run_started()  # the run goes on here, in the trace it began in
            return True
        self._set_status(self._settled_status())
        return False

    def resume_dispatch(self) -> None:
        """After a resume: run whatever was pending when the workflow was persisted."""
        if self.resumed():
            self.pump()

    def _run_started(self) -> None:
        meta: dict[str, Any] = {"id": self.id, "workflow_name": self.workflow.name}
        if self.trace:
            meta["trace_context"] = self.trace
        telemetry.execute(_T + ("workflow", "start"), {"system_time": time.time_ns()}, meta)

    def label(self, node: Any) -> str:
        """A node's name for people (spans, logs): its component's name; a join or a reduce
        without one is named after what it joins (``join(a, b)``)."""
        h = node.hash
        name = self._labels.get(h)
        if name is None:
            name = getattr(node, "name", None)
            if not isinstance(name, str):
                owner = self.workflow.component_of(h, node)[0]
                if isinstance(owner, str):
                    name = f"{getattr(node, 'kind', 'node')} {owner}"
                else:
                    g = self.workflow.graph
                    parents = [self.label(g.vertices[p]) for p in g.predecessors(h, "flow")
                               if p != ROOT_HASH and p in g.vertices]
                    name = f"{getattr(node, 'kind', 'node')}({', '.join(parents)})"
            self._labels[h] = name
        return name

    # ------------------------------------------------------------------ dispatch
    def pump(self) -> None:
        """Dispatch what fits, running inline work through an explicit queue, then check idle.

        Inline work runs only on the loop thread: called on a step thread, the inline queue is
        left to a pump posted to the loop."""
        if DEBUG_LOCKS:
            self.port.assert_locked()
        if self.stopped:
            return
        on_loop = self.port.on_loop_thread()
        if on_loop and self._want_step is not None:  # group commit: the loop's round runs the work
            self.dispatch()
            if self._inline and not self.stopped:
                self._want_step(self)
            else:
                self.maybe_idle()
            return
        while True:
            self.dispatch()
            if not self._inline or self.stopped:
                break
            if not on_loop:
                self.port.post(self.pump)
                return
            set_hash_version(self.hash_version)
            self._run_inline(*self._inline.popleft())
        self.maybe_idle()

    def _run_inline(self, r: Any, policy: Any, key: Any, executor: Any) -> None:
        """One inline runnable under its policy, on the loop thread, and its result applied
        (not dispatching: the caller's loop or round does)."""
        t0 = now_ms()
        try:
            with attempts_of(self.id):
                result, lifecycle = execute_with_policy(r, policy, emit_events=policy.execution_mode == "durable",
                                                        attempt_runner=executor.attempt_runner)
            result = unencodable(result)
        except Exception as exc:  # noqa: BLE001 - a driver bug: treat as a crash
            self.on_crash(key, exc)
            return
        self.on_result(key, result, lifecycle, now_ms() - t0, dispatch=False)

    def step_inline(self) -> None:
        """Group commit, on the loop thread: run the inline work dispatched so far and apply its
        results; their checkpoint waits for the round's commit (:meth:`committed`)."""
        if DEBUG_LOCKS:
            self.port.assert_locked()
        set_hash_version(self.hash_version)
        while self._inline and not self.stopped:
            self._run_inline(*self._inline.popleft())
        if not self.commit_wanted and not self.stopped:
            self.pump()  # nothing to persist (a result that changed nothing): go on

    def dispatch(self) -> None:
        """Prepare pending work not in flight and hand it to executors."""
        wf = self.workflow
        free = self.max_concurrency - len(self.active)
        if free <= 0 or not wf.graph.pending or self.port.draining or self.persist_error is not None \
                or self.commit_wanted:
            return
        if self._gate is not None and not self._gate.open():  # self-fenced (runic.runner.gate)
            return
        if self.lazy and self.resolver is not None:
            resolve_pending(wf, self.resolver)
        transform = self.hooks.get("transform_runnables")
        _, candidates = wf.prepare_for_dispatch(skip=self.active, limit=None if transform else free)
        self._drain()
        if transform is not None:
            candidates = self._safe("transform_runnables", candidates, wf, default=candidates)
        for r in candidates:
            if self.max_concurrency - len(self.active) <= 0:
                break
            key = (r.input_fact.hash, r.node.hash)
            if key in self.active:
                continue
            if self.resolver is not None and r.input_fact.__class__ is not Fact:
                r.input_fact = self.resolver.try_resolve(r.input_fact)
            policy = resolve(r, wf.scheduler_policies)
            self._safe("on_dispatch", r, self)
            t0 = now_ms()
            self.active[key] = (r, t0)
            if telemetry.enabled():
                telemetry.execute(_T + ("runnable", "start"), {"system_time": time.time_ns()},
                                  {"workflow_id": self.id, "node_name": r.node_name, "runnable_id": r.id,
                                   "policy": policy, "label": self.label(r.node)})
            executor = self.executor
            if policy.executor is not None and policy.executor != self.executor_name:
                executor = self.port.executor(policy.executor)
            if executor.inline:
                self._inline.append((r, policy, key, executor))
            else:
                self.port.submit_work(self, key, r, policy, executor)

    # ------------------------------------------------------------------ results
    def on_result(self, key: tuple, r: Runnable, lifecycle: list, duration_ms: int, *, dispatch: bool = True) -> None:
        """Apply one executed runnable."""
        if DEBUG_LOCKS:
            self.port.assert_locked()
        entry = self.active.pop(key, None)
        if entry is None or self.stopped:
            return
        duration = max(0, int(duration_ms))
        if telemetry.enabled():
            name = r.node_name
            if r.status == FAILED:
                telemetry.execute(_T + ("runnable", "exception"), {},
                                  {"workflow_id": self.id, "node_name": name, "runnable_id": r.id, "error": r.error})
            else:
                telemetry.execute(_T + ("runnable", "stop"), {"duration": duration},
                                  {"workflow_id": self.id, "node_name": name, "runnable_id": r.id, "status": r.status})
        if r.status == COMPLETED:
            self._safe("on_complete", r, duration, self)
        elif r.status == FAILED:
            self._safe("on_failed", r, r.error, self)
        wf = self.workflow
        set_hash_version(self.hash_version)  # applying may make facts (a join, a reduce)
        wf.apply_runnable(r)
        if lifecycle:
            wf.append_runnable_events(lifecycle)
        self._drain()
        self.maybe_checkpoint()
        if dispatch:
            self.pump()

    def on_crash(self, key: tuple, reason: Any) -> None:
        """The executor lost a runnable (its task crashed): fail it so nothing waits for ever."""
        entry = self.active.get(key)
        if entry is None:
            return
        r = entry[0].reset().fail(("task_crashed", reason))
        log.warning("workflow %r: the task running %r crashed: %r", self.id, r.node_name, reason)
        self.on_result(key, r, [], now_ms() - entry[1])

    # ------------------------------------------------------------------ persistence
    def _drain(self) -> None:
        """Move the workflow's buffered events into the store buffer (values to facts)."""
        wf = self.workflow
        if not wf.uncommitted_events:
            return
        events = wf.drain_events()
        if self.saves_facts:
            facts = self.pending_facts
            out = []
            for e in events:
                if e.__class__ is FactProduced:
                    v = e.value
                    if v.__class__ not in _SCALAR_VALUES and v is not STRIPPED:
                        try:
                            packed, size = codec.pack(v)
                        except codec.EncodeError:  # the store's own error names the value
                            packed, size = v, INLINE_FACT_BYTES + 1
                        if size <= INLINE_FACT_BYTES:
                            e = FactProduced(e.hash, packed, e.ancestry, e.producer_label, e.weight)
                        else:
                            facts[e.hash] = v
                            e = FactProduced(e.hash, STRIPPED, e.ancestry, e.producer_label, e.weight)
                out.append(e)
            events = out
        self.pending_events.extend(events)
        self.event_cursor += len(events)

    def maybe_checkpoint(self) -> None:
        if self.strategy == "every_cycle":
            settling = not self.active and not self._inline and not self.workflow.is_runnable()
            status = self._settled_status() if settling else None
            if self._want_commit is not None and self.port.on_loop_thread():
                if status is not None:
                    self._deferred_status = status
                if not self.commit_wanted:
                    self.commit_wanted = True
                    self._want_commit(self)
                return
            self.checkpoint("checkpoint", status=status)
        elif self.strategy == "every_n":
            self.cycle_count += 1
            if self.cycle_count % self.every_n == 0:
                self.checkpoint("checkpoint")

    def _write(self, operation: str | None, status: str | None) -> None:
        """One fenced write of the buffered events, fact values and ``status``; raises."""
        self._drain()
        if status == self.stored_status:
            status = None
        if not self.streams:
            self._save_snapshot(operation or "save")
            if status is not None:
                self.store.set_status(self.id, status, epoch=self.epoch)
                self.stored_status = status
            return
        if not self.pending_events and not self.pending_facts:
            if status is not None:
                self.store.set_status(self.id, status, epoch=self.epoch)
                self.stored_status = status
            return
        events, facts = self.pending_events, self.pending_facts

        def write() -> int:
            return self.store.append(self.id, events, epoch=self.epoch, facts=facts or None, status=status)

        if operation is not None and telemetry.enabled():
            telemetry.span(_T + ("store",), {"workflow_id": self.id, "operation": operation}, write)
        else:
            write()
        self.pending_events = []
        self.pending_facts = {}
        if status is not None:
            self.stored_status = status

    def commit_item(self) -> tuple[Any, list, int | None, dict | None, str | None]:
        """Group commit: what the deferred checkpoint writes, as an item of
        :meth:`~runic.store.BaseStore.append_many` (the port's round calls it, then
        :meth:`committed` with its result)."""
        self._drain()
        status = self._deferred_status
        if status == self.stored_status:
            status = None
        return (self.id, self.pending_events, self.epoch, self.pending_facts or None, status)

    def committed(self, result: Any) -> None:
        """Group commit: the round wrote this Worker's item (``result``: the new cursor) or
        refused it (``result``: the exception). Written: forget it, dispatch what follows.
        Fenced: stop, as a direct write would. Any other error: keep the events and start the
        retry cycle (see the module docs)."""
        self.commit_wanted = False
        status, self._deferred_status = self._deferred_status, None
        if isinstance(result, FencedError):
            self._fenced("persisting")
            return
        if isinstance(result, BaseException):
            self._persist_failed(result)
            return
        self.pending_events = []
        self.pending_facts = {}
        if status is not None:
            self.stored_status = status
        if self.persist_error is not None:
            self._persist_recovered()
        self.pump()

    def checkpoint(self, operation: str | None = "checkpoint", status: str | None = None) -> bool:
        """Write the buffered events and fact values, and ``status`` if it changed: one fenced
        transaction, inside a ``store`` telemetry span named by ``operation`` (None: no span).

        Returns True once written. A fenced write stops the Worker; any other store error starts
        the retry cycle (see the module docs) and returns False."""
        try:
            self._write(operation, status)
        except FencedError:
            self._fenced("persisting")
            return False
        except StoreError as exc:
            self._persist_failed(exc)
            return False
        if self.persist_error is not None:
            self._persist_recovered()
        return True

    def _persist_failed(self, exc: BaseException) -> None:
        now = time.monotonic()
        if self.persist_error is None:
            self.persist_failing_since = now
            log.error("workflow %r: cannot persist (%s); no new step starts until the store works "
                      "again (retrying)", self.id, exc)
        self.persist_error = exc
        self._persist_attempts += 1
        failing_for = now - (self.persist_failing_since or now)
        if failing_for >= self.store_retry_s and self.awaiters:
            waiting, self.awaiters = self.awaiters, []
            self.end_error = PersistenceError(
                f"workflow {self.id!r} could not be persisted for {failing_for:.1f} s: {exc}. Its events "
                "are kept in memory and written as soon as the store works again (the Worker keeps "
                "retrying); fix the store, then await it again", self.id)
            for notify in waiting:
                notify(self)
            self.end_error = None
        if not self._retry_armed and not self.stopped:
            self._retry_armed = True
            delay = min(_RETRY_MAX_S, _RETRY_FIRST_S * (2 ** min(self._persist_attempts - 1, 10)))
            self.port.call_later(delay, self._retry_persist)

    def _retry_persist(self) -> None:
        self._retry_armed = False
        if self.stopped or self.persist_error is None:
            return
        settling = not self.active and not self._inline and not self.workflow.is_runnable()
        status = self._settled_status() if settling and self.status == "running" else self.status
        if self.checkpoint("checkpoint", status=status if status != self.stored_status else None):
            self.pump()

    def _persist_recovered(self) -> None:
        log.warning("workflow %r: the store works again after %d failed attempts; resuming dispatch",
                    self.id, self._persist_attempts)
        self.persist_error = None
        self.persist_failing_since = None
        self._persist_attempts = 0

    def _save_snapshot(self, operation: str) -> None:
        log_ = self.workflow.event_log()
        fn = getattr(self.store, "checkpoint", None) if operation == "checkpoint" else None
        (fn or self.store.save)(self.id, log_)

    def persist(self) -> bool:
        return self.checkpoint("save")

    def _fenced(self, doing: str) -> None:
        owner = None
        try:
            owner = self.store.owner(self.id)
        except Exception:  # noqa: BLE001
            pass
        log.error("workflow %r: fenced while %s: another owner took it over (%r, our epoch %s); "
                  "stopping this worker", self.id, doing, owner, self.epoch)
        who = owner[0] if isinstance(owner, tuple) and owner else owner
        self.end_error = WorkflowTakenOverError(
            f"workflow {self.id!r} was taken over by another owner ({who}) while this Runner was "
            f"{doing}; it continues there. Ask that Runner, or read it from the store", self.id, who)
        self.stop(persist=False, status=None, reason="fenced")

    # ------------------------------------------------------------------ idle and stop
    def _settled_status(self) -> str:
        return "failed" if halting(self.workflow.failures, self.failure_mark) else "idle"

    def failure_error(self) -> Exception | None:
        """The :class:`WorkflowFailedError` for the current outcome, if it failed."""
        bad = halting(self.workflow.failures, self.failure_mark)
        return failed_error(self.id, bad) if bad else None

    def maybe_idle(self) -> None:
        if self.stopped or self.active or self._inline or self.workflow.is_runnable():
            return
        if self.status == "running":
            if self.persist_error is not None or not self.persist():
                return  # settles once the store takes the last events
            if self.stopped:
                return
            telemetry.execute(_T + ("workflow", "stop"), {"duration": max(0, now_ms() - self.started_at)},
                              {"id": self.id, "workflow_name": self.workflow.name})
            if self.on_complete is not None:
                try:
                    self.on_complete(self.id, self.workflow)
                except Exception:  # noqa: BLE001 - guarded
                    log.exception("workflow %r: on_complete raised; ignoring it", self.id)
            self._safe("on_idle", self)
            self.status = self._settled_status()
            self._set_status(self.status)
        waiting, self.awaiters = self.awaiters, []
        for notify in waiting:
            notify(self)

    def settled(self) -> bool:
        return not self.active and not self._inline and not self.workflow.is_runnable() \
            and self.persist_error is None and self.status != "running"

    def await_idle(self, notify: Callable[["Worker"], None]) -> bool:
        """True if settled now; otherwise call ``notify(worker)`` once it is (or once it ends)."""
        if not self.active and not self._inline and not self.workflow.is_runnable():
            self.maybe_idle()  # a result applied just now may not have been followed by the idle check
            if self.status != "running":
                return True
        self.awaiters.append(notify)
        return False

    def stop(self, persist: bool = True, status: str | None = "stopped", reason: str = "stopped") -> None:
        """Stop: persist (unless told not to), record the status, end in-flight work.

        In-flight ``process`` attempts are killed; thread attempts are abandoned (their results
        are discarded when they arrive)."""
        if DEBUG_LOCKS:
            self.port.assert_locked()
        if self.stopped:
            return
        if persist:
            self.persist()
        self.stopped = True
        if status is not None:
            self.status = status
            try:
                self.store.set_status(self.id, status, epoch=self.epoch)
            except StoreError as exc:  # fenced, or the store fails: the status stays as it was
                log.warning("workflow %r: could not record status %r: %s", self.id, status, exc)
        killed = kill_attempts(self.id)
        if killed:
            log.info("workflow %r: killed %d in-flight attempt process(es): %s", self.id, len(killed), killed)
        self.active.clear()
        self._inline.clear()
        self.port.worker_stopped(self, reason)

    def cancel(self) -> None:
        """Cancel: keep what completed (persisted), kill or abandon what is in flight, run
        nothing more; status ``cancelled``."""
        self.stop(persist=True, status="cancelled", reason="cancelled")
