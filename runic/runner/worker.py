"""The Worker: one workflow's state machine and dispatch loop (spec §5).

A Worker lives inside a worker host's execution loop (:mod:`runic.runner.loop`) and is only
touched from that loop's thread, one message at a time. It owns the workflow value, prepares
work, hands runnables to an executor, applies results, persists, and reports.

Statuses (spec §5.3): ``idle`` and ``running``. ``run`` plans the input (predicates evaluated
here, without policies) and dispatches; after every applied result the Worker checkpoints per
its strategy, dispatches again and checks whether it is idle (nothing in flight and nothing
runnable). On running → idle it persists, calls ``on_complete(workflow_id, workflow)`` and the
``on_idle`` hook, and answers everyone waiting in ``await_idle``. The store also records the
status (``running``/``idle``/``stopped``/``failed``) so unfinished work is found on restart.

Persistence (spec §5.9-§5.10): the workflow buffers every runtime event; after each applied
result the buffer is drained, ``FactProduced`` values are moved to the fact table (the events
keep :data:`~runic.STRIPPED`), and at checkpoint moments the pending events and fact values go
to the store in **one** ``append`` transaction, fenced by the Worker's ownership epoch. A
stale owner (an orphaned host after a crash) gets :class:`~runic.store.FencedError` and stops.

Decisions on spec quirks: ``on_complete`` and every hook are exception-guarded (21); the
inline executor uses an explicit work queue and emits durable lifecycle events (6, 7); the
planning events of ``run`` are persisted even when no step completes (17); on resume the
restored pending activations are dispatched at once (22); runtime ``scheduler_policies`` are
prepended to the workflow's once (repeating the same list does not stack it again) (18).
"""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from typing import TYPE_CHECKING, Any, Callable

from .. import telemetry
from ..driver import execute_with_policy, now_ms
from ..errors import ArgumentError
from ..events import FactProduced
from ..facts import NOTHING, STRIPPED, Fact
from ..policy import merge_policies, resolve
from ..rehydration import FactResolver, resolve_pending
from ..runnable import COMPLETED, FAILED, Runnable
from ..store import FencedError, supports_stream

if TYPE_CHECKING:  # pragma: no cover
    from ..core import Workflow
    from .loop import HostLoop

__all__ = ["Worker", "CHECKPOINT_STRATEGIES", "HOOKS", "parse_checkpoint_strategy"]

log = logging.getLogger("runic.runner")

HOOKS = ("on_dispatch", "on_complete", "on_failed", "on_idle", "transform_runnables")
CHECKPOINT_STRATEGIES = ("every_cycle", "on_complete", "manual", "every_n")
_T = ("runic", "runner")


def parse_checkpoint_strategy(value: Any) -> tuple[str, int]:
    """``"every_cycle"`` | ``"on_complete"`` | ``"manual"`` | ``("every_n", n)`` -> (kind, n)."""
    if isinstance(value, (tuple, list)) and len(value) == 2 and value[0] == "every_n":
        n = int(value[1])
        if n < 1:
            raise ArgumentError("('every_n', n) needs n >= 1")
        return "every_n", n
    if value in ("every_cycle", "on_complete", "manual"):
        return value, 1
    raise ArgumentError(
        f"unknown checkpoint_strategy {value!r}; use 'every_cycle', 'on_complete', ('every_n', n) or 'manual'"
    )


class Worker:
    """One workflow under a worker host (see the module docs)."""

    def __init__(self, loop: "HostLoop", workflow_id: Any, workflow: "Workflow", options: dict,
                 callbacks: dict | None, epoch: int | None, *, resumed: bool = False,
                 resolver: FactResolver | None = None, lazy: bool = False, first_input: Any = NOTHING) -> None:
        self.loop = loop
        self.id = workflow_id
        self.workflow = workflow
        self.store = loop.store
        self.options = dict(options or {})
        self.epoch = epoch
        self.resolver = resolver
        self.lazy = lazy
        self.status = "idle"
        self.stored_status: str | None = None  # the status last written to the store
        self.stopped = False
        self.started_at = now_ms()
        self.cycle_count = 0
        self.event_cursor = 0
        #: activation key (fact_hash, node_hash) -> (runnable, dispatch time ms)
        self.active: dict[tuple[int, int], tuple[Runnable, int]] = {}
        self.dispatch_times: dict[int, int] = {}
        self.awaiters: list[Callable[["Worker"], None]] = []  # called once the workflow settles
        self.pending_events: list = []
        self.pending_facts: dict[int, Any] = {}
        self._inline: deque = deque()
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
        self.executor = loop.executor(self.executor_name)
        self.streams = supports_stream(self.store)
        self.saves_facts = hasattr(self.store, "save_fact")
        if self.streams:
            workflow.enable_event_emission()
        telemetry.execute(_T + ("workflow", "start"), {"system_time": time.time_ns()},
                          {"id": workflow_id, "workflow_name": workflow.name})
        if not resumed:
            if self.streams:
                workflow.annotate("runner.options", self._plain_options())
                events = workflow.build_log()
                self.pending_events.extend(events)
                self.event_cursor = len(events)
            if first_input is not NOTHING:  # started with an input: plan it into the first write
                self._plan(first_input, None, None)
            self.checkpoint(None, status=self.status)  # build log (+ input) and status, one write (no span, as Runic)
        elif self.streams:
            self.event_cursor = self.store.cursor(workflow_id)  # quirk 23: continue from the store's cursor

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
        self.stored_status = status

    def state(self) -> dict:
        """An inspectable snapshot (spec §5.2: tests read these fields)."""
        return {
            "id": self.id, "status": self.status, "active_tasks": len(self.active),
            "active_runnables": [r.id for r, _ in self.active.values()],
            "dispatch_times": dict(self.dispatch_times), "executor": self.executor_name,
            "max_concurrency": self.max_concurrency, "checkpoint_strategy": self.strategy,
            "cycle_count": self.cycle_count, "event_cursor": self.event_cursor, "epoch": self.epoch,
            "hooks": {k: (v is not None) for k, v in self.hooks.items()},
            "resolver": self.resolver is not None, "pid": os.getpid(), "host": self.loop.host_id,
            "store": type(self.store).__name__, "uncommitted": len(self.pending_events),
        }

    # ------------------------------------------------------------------ run
    def run(self, value: Any, run_context: dict | None = None, policies: list | None = None) -> None:
        """Feed an input: plan it (predicates evaluated here), make the input and the status
        ``running`` durable in one write, then dispatch (spec §5.5)."""
        self._plan(value, run_context, policies)
        self.checkpoint("checkpoint", status="running")
        self.pump()

    def _plan(self, value: Any, run_context: dict | None, policies: list | None) -> None:
        wf = self.workflow
        if policies:
            merged = merge_policies(policies, wf.scheduler_policies)
            if wf.scheduler_policies[: len(policies)] != list(policies):
                wf.set_scheduler_policies(merged)
        if run_context:
            wf.put_run_context(run_context)
        wf.plan_eagerly(value)
        self._drain()
        self.status = "running"

    def resume_dispatch(self) -> None:
        """After a resume: run whatever was pending when the workflow was persisted."""
        if self.workflow.is_runnable() or self.workflow.pending_runnables():
            if self.workflow.pending_runnables():
                log.info("workflow %r: %d runnables were in flight; dispatching pending work again",
                         self.id, len(self.workflow.pending_runnables()))
            self.status = "running"
            self._set_status("running")
            self.pump()
        else:
            self._set_status("idle")

    # ------------------------------------------------------------------ dispatch
    def pump(self) -> None:
        """Dispatch what fits, running inline work through an explicit queue, then check idle."""
        if self.stopped:
            return
        while True:
            self.dispatch()
            if not self._inline or self.stopped:
                break
            r, policy, key = self._inline.popleft()
            t0 = now_ms()
            try:
                result, lifecycle = execute_with_policy(r, policy, emit_events=policy.execution_mode == "durable",
                                                        attempt_runner=self.executor.attempt_runner)
            except Exception as exc:  # noqa: BLE001 - a driver bug: treat as a crash
                self.on_crash(key, exc)
                continue
            self.on_result(key, result, lifecycle, now_ms() - t0, dispatch=False)
        self.maybe_idle()

    def dispatch(self) -> None:
        """Prepare pending work not in flight and hand it to executors (spec §5.6)."""
        wf = self.workflow
        free = self.max_concurrency - len(self.active)
        if free <= 0 or not wf.graph.pending or self.loop.draining:
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
            self.dispatch_times[r.id] = t0
            if telemetry.enabled():
                telemetry.execute(_T + ("runnable", "start"), {"system_time": time.time_ns()},
                                  {"workflow_id": self.id, "node_name": r.node_name, "runnable_id": r.id,
                                   "policy": policy})
            executor = self.executor
            if policy.executor is not None and policy.executor != self.executor_name:
                executor = self.loop.executor(policy.executor)
            if executor.inline:
                self._inline.append((r, policy, key))
            else:
                self.loop.submit_work(self, key, r, policy, executor)

    # ------------------------------------------------------------------ results
    def on_result(self, key: tuple, r: Runnable, lifecycle: list, duration_ms: int, *, dispatch: bool = True) -> None:
        """Apply one executed runnable (spec §5.9)."""
        entry = self.active.pop(key, None)
        if entry is None or self.stopped:
            return
        self.dispatch_times.pop(entry[0].id, None)
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
                if e.__class__ is FactProduced and e.value is not STRIPPED:
                    facts[e.hash] = e.value
                    e = FactProduced(e.hash, STRIPPED, e.ancestry, e.producer_label, e.weight)
                out.append(e)
            events = out
        self.pending_events.extend(events)
        self.event_cursor += len(events)

    def maybe_checkpoint(self) -> None:
        if self.strategy == "every_cycle":
            settling = not self.active and not self._inline and not self.workflow.is_runnable()
            self.checkpoint("checkpoint", status="idle" if settling else None)
        elif self.strategy == "every_n":
            self.cycle_count += 1
            if self.cycle_count % self.every_n == 0:
                self.checkpoint("checkpoint")

    def checkpoint(self, operation: str | None = "checkpoint", status: str | None = None) -> None:
        """Write the buffered events and fact values, and ``status`` if it changed: one fenced
        transaction, inside a ``store`` telemetry span named by ``operation`` (None: no span)."""
        self._drain()
        if status == self.stored_status:
            status = None
        if not self.streams:
            self._save_snapshot(operation or "save")
            if status is not None:
                self._set_status(status)
            return
        if not self.pending_events and not self.pending_facts:
            if status is not None:
                self._set_status(status)
            return
        events, facts = self.pending_events, self.pending_facts

        def write() -> int:
            return self.store.append(self.id, events, epoch=self.epoch, facts=facts or None, status=status)

        try:
            if operation is not None and telemetry.enabled():
                telemetry.span(_T + ("store",), {"workflow_id": self.id, "operation": operation}, write)
            else:
                write()
        except FencedError:
            self._fenced("persisting")
            return
        self.pending_events = []
        self.pending_facts = {}
        if status is not None:
            self.stored_status = status

    def _save_snapshot(self, operation: str) -> None:
        log_ = self.workflow.event_log()
        fn = getattr(self.store, "checkpoint", None) if operation == "checkpoint" else None
        (fn or self.store.save)(self.id, log_)

    def persist(self) -> None:
        self.checkpoint("save")

    def _fenced(self, doing: str) -> None:
        owner = None
        try:
            owner = self.store.owner(self.id)
        except Exception:  # noqa: BLE001
            pass
        log.error("workflow %r: fenced while %s: another owner took it over (%r, our epoch %s); "
                  "stopping this worker", self.id, doing, owner, self.epoch)
        self.stop(persist=False, status=None, reason="fenced")

    # ------------------------------------------------------------------ idle and stop
    def maybe_idle(self) -> None:
        if self.stopped or self.active or self._inline or self.workflow.is_runnable():
            return
        if self.status == "running":
            telemetry.execute(_T + ("workflow", "stop"), {"duration": max(0, now_ms() - self.started_at)},
                              {"id": self.id, "workflow_name": self.workflow.name})
            self.persist()
            if self.stopped:
                return
            if self.on_complete is not None:
                try:
                    self.on_complete(self.id, self.workflow)
                except Exception:  # noqa: BLE001 - quirk 21: guarded
                    log.exception("workflow %r: on_complete raised; ignoring it", self.id)
            self._safe("on_idle", self)
            self.status = "idle"
            self._set_status("idle")
        waiting, self.awaiters = self.awaiters, []
        for notify in waiting:
            notify(self)

    def await_idle(self, notify: Callable[["Worker"], None]) -> bool:
        """True if idle now; otherwise call ``notify(worker)`` once it is (or once it stops)."""
        if not self.active and not self._inline and not self.workflow.is_runnable():
            self.maybe_idle()  # a result applied just now may not have been followed by the idle check
            return True
        self.awaiters.append(notify)
        return False

    def stop(self, persist: bool = True, status: str | None = "stopped", reason: str = "stopped") -> None:
        """Stop: persist (unless told not to), record the status, forget in-flight work."""
        if self.stopped:
            return
        if persist:
            self.persist()
        self.stopped = True
        if status is not None:
            try:
                self.store.set_status(self.id, status, epoch=self.epoch)
            except FencedError:
                pass
        self.active.clear()
        self._inline.clear()
        self.loop.worker_stopped(self, reason)
