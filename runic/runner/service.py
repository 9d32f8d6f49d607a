"""A worker host's request handlers: what each request does to the host's Workers.

:class:`HostService` holds one handler per request of :mod:`runic.runner.messages`
(:data:`HANDLERS`). **Thread territory:** every handler runs on the host loop thread, with
``HostLoop.lock`` held (the :class:`~runic.runner.host.WorkerHost` actor hands each request to
the loop with :meth:`~runic.runner.loop.HostLoop.call`); a handler returns its reply, or ``None``
when the reply is sent later (an await: the Worker calls back, with the lock held), and an
exception it raises is answered as an error reply. Nothing here blocks on another process except
the store.

Decisions: ``start`` refuses an id the store already holds (resume it, or delete it); ``run``
answers ``Accepted`` only once the input is durable, and dispatch is posted after the reply so the
caller never waits for the work; ``resume`` takes ownership before it reads (a previous owner's
later appends are then refused instead of lost to us) and applies the run context and runtime
policies before any recovered work runs; a stored workflow whose events cannot be decoded fails
(status ``failed``) instead of taking the host down; reads of workflows no Worker holds come from
the store.
"""

from __future__ import annotations

import gc
import logging
from typing import Any

from .. import telemetry
from ..codec import DecodeError
from ..core import Workflow
from ..errors import ArgumentError, RunicError
from ..events import FactProduced
from ..facts import NOTHING, STRIPPED
from ..rehydration import FactResolver, classify, resolve_all, resolve_hot
from ..remote import describe
from ..store import CorruptStoreError, NotFoundError, StoreDecodeError
from ..supervisor.messages import Done, ErrorReply
from . import inbox, stored
from .errors import (
    AlreadyStartedError,
    PersistenceError,
    WorkflowCancelledError,
    WorkflowFailedError,
    WorkflowNotFoundError,
    WorkflowTakenOverError,
)
from .loop import HostLoop
from .messages import (
    Accepted,
    AwaitIdle,
    AwaitMany,
    CancelWorkflow,
    Checkpoint,
    FailureList,
    GetFailures,
    GetResults,
    GetStatus,
    GetWorkflow,
    Idle,
    ManyIdle,
    ManyStarted,
    NodeFenced,
    Results,
    ResumeWorkflow,
    Run,
    StartMany,
    StartWorkflow,
    StatusReply,
    StopWorkflow,
    StoreAnswer,
    StoreQuery,
    WorkerState,
    WorkerStateReply,
    WorkflowStarted,
    WorkflowValue,
    pack,
    unpack,
)
from .worker import Worker

__all__ = ["HostService", "HANDLERS", "REHYDRATION_MODES", "settled_reply", "error_entry", "store_answer"]

log = logging.getLogger("runic.runner")

REHYDRATION_MODES = ("full", "hybrid", "lazy")

#: a resume of at least this many events freezes what it built (see :func:`_allocation_burst`)
_FREEZE_AFTER_EVENTS = 10_000


class _allocation_burst:  # noqa: N801 - used as a context manager, like a function
    """Garbage collection off while a resume decodes and rebuilds a workflow; on again after.

    A resume allocates tens of thousands of objects that all stay alive, so the collections
    they trigger find nothing to free and only cost time (measured: ~40% of decoding 10,000
    events in a host with a large heap). If the resume was large (``large`` set inside), what
    it built goes to the permanent generation (``gc.freeze()``), out of later collections.
    Runs on the loop thread; collection is process-wide, so other threads skip it for those
    few milliseconds too."""

    def __init__(self) -> None:
        self.large = False
        self.was_enabled = gc.isenabled()

    def __enter__(self) -> "_allocation_burst":
        gc.disable()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.was_enabled:
            gc.enable()
        if self.large and exc[0] is None:
            gc.freeze()


class HostService:
    """The request handlers of a host; every method runs on the host loop thread (with
    ``HostLoop.lock`` held). A handler returns its reply, or ``None`` when the reply is sent later
    (an await); an exception it raises is answered as an error reply."""

    def __init__(self, loop: HostLoop, owner: str, node: str | None = None, generation: int | None = None) -> None:
        self.loop = loop
        self.owner = owner
        self.node = node
        self.generation = generation

    def _acquire_many(self, wids: list[Any]) -> list[int]:
        """:meth:`_acquire` of every id, in one transaction."""
        if not wids:
            return []
        if not callable(getattr(self.store, "acquire_many", None)):  # a store of the plain protocol
            return [self._acquire(w) for w in wids]
        if self.node is None:
            return list(self.store.acquire_many(wids, self.owner))
        return list(self.store.acquire_many(wids, self.owner, node=self.node, generation=self.generation))

    def _acquire(self, wid: Any) -> int:
        """Ownership of ``wid`` for this host, recorded under this Runner's node and generation."""
        if self.node is None:
            return self.store.acquire(wid, self.owner)
        return self.store.acquire(wid, self.owner, node=self.node, generation=self.generation)

    @property
    def store(self) -> Any:
        return self.loop.store

    def _worker(self, workflow_id: Any) -> Worker:
        w = self.loop.workers.get(workflow_id)
        if w is None:
            raise WorkflowNotFoundError(f"workflow {workflow_id!r} is not running on host {self.loop.host_id}",
                                        workflow_id)
        return w

    def _refuse_stored(self, wid: Any) -> None:
        """``start`` of an id the store already holds is refused: nothing is appended."""
        if self.store.exists(wid):
            status = self.store.status(wid)
            raise AlreadyStartedError(
                f"workflow {wid!r} is already stored (status {status or 'unknown'}): resume it with "
                f"runner.resume({wid!r}) (or `runic resume`), read it with get_results/status, or "
                f"delete it (`runic delete`) before starting it again")

    def _new_worker(self, wid: Any, workflow: Any, options: dict, callbacks: Any, input_blob: bytes | None,
                    trace: dict[str, str] | None = None) -> Worker:
        self._refuse_stored(wid)
        epoch = self._acquire(wid)
        first = unpack(input_blob) if input_blob is not None else NOTHING
        worker = Worker(self.loop, wid, workflow, options, callbacks, epoch, first_input=first, trace=trace)
        self.loop.workers[wid] = worker
        if first is not NOTHING:
            self.loop.post(worker.pump)  # after the reply: the caller never waits for the work
        return worker

    def start(self, msg: StartWorkflow) -> WorkflowStarted:
        wid = msg.workflow_id
        if wid in self.loop.workers:
            raise AlreadyStartedError(f"workflow {wid!r} is already running on host {self.loop.host_id}")
        workflow = unpack(msg.workflow_blob)
        if not isinstance(workflow, Workflow):
            raise RunicError(f"start_workflow({wid!r}) needs a runic.Workflow, got {type(workflow).__name__}")
        self._new_worker(wid, workflow, msg.options, unpack(msg.callbacks_blob), msg.input_blob, msg.trace)
        return WorkflowStarted(wid, self.loop.host_id, msg.ref)

    def resume(self, msg: ResumeWorkflow) -> WorkflowStarted:
        wid = msg.workflow_id
        if wid in self.loop.workers:
            raise AlreadyStartedError(f"workflow {wid!r} is already running on host {self.loop.host_id}")
        mode = msg.rehydration
        if mode not in REHYDRATION_MODES:
            raise ArgumentError(f"rehydration must be one of {REHYDRATION_MODES}, got {mode!r}")
        functions = unpack(msg.functions_blob)
        store = self.store
        if store.status(wid) == "cancelled":
            raise WorkflowCancelledError(
                f"workflow {wid!r} was cancelled; a cancelled workflow is not resumed (start a new id, "
                "or delete it)", wid)
        # take ownership BEFORE reading: a previous owner's later appends are then refused
        # (fenced) instead of landing after what we read and being lost to us
        epoch = self._acquire(wid)
        try:
            with _allocation_burst() as burst:
                events, wf, resolver = self._rebuild(wid, store, mode, functions)
                burst.large = len(events) >= _FREEZE_AFTER_EVENTS
        except (StoreDecodeError, CorruptStoreError, DecodeError) as exc:
            # a value that cannot be read back: the workflow fails, the host lives on
            log.error("workflow %r cannot be resumed: its stored events cannot be read back: %s", wid, exc)
            try:
                store.set_status(wid, "failed", epoch=epoch)
            except Exception:  # noqa: BLE001 - the error below says what happened
                log.exception("workflow %r: recording status failed", wid)
            raise WorkflowFailedError(wid, [stored.damage_failure(wid, exc)]) from exc
        options = msg.options if msg.options is not None else dict(wf.annotations.get("runner.options") or {})
        cs = options.get("checkpoint_strategy")
        if isinstance(cs, list):
            options["checkpoint_strategy"] = tuple(cs)
        worker = Worker(self.loop, wid, wf, options, unpack(msg.callbacks_blob), epoch, resumed=True,
                        resolver=resolver, lazy=mode == "lazy")
        worker.apply_options(unpack(msg.run_context_blob), unpack(msg.policies_blob))
        self.loop.workers[wid] = worker
        if telemetry.enabled():
            telemetry.execute(("runic", "runner", "rehydration", "complete"), {},
                              {"id": wid, "mode": mode, "events": len(events)})
        if worker.resumed():
            self.loop.post(worker.pump)  # after the reply
        return WorkflowStarted(wid, self.loop.host_id, msg.ref)

    @staticmethod
    def _rebuild(wid: Any, store: Any, mode: str, functions: Any) -> tuple[list, Workflow, FactResolver | None]:
        """Read ``wid``'s events (or saved log) and rebuild the workflow in rehydration ``mode``."""
        try:
            events = list(store.stream(wid))
        except NotFoundError:
            try:
                events = store.load(wid)
            except NotFoundError:
                raise WorkflowNotFoundError(
                    f"nothing is stored for workflow {wid!r}; start it with start_workflow", wid) from None
        stripped = any(e.__class__ is FactProduced and e.value is STRIPPED for e in events)
        resolver: FactResolver | None = None
        if mode == "full":
            wf = Workflow.from_events(events, functions, fact_mode="ref" if stripped else "full")
            if stripped:
                resolve_all(wf, FactResolver(store))
        else:
            wf = Workflow.from_events(events, functions, fact_mode="ref")
            resolver = FactResolver(store)
            if mode == "hybrid":
                hot, _cold = classify(wf)
                resolve_hot(wf, hot, resolver)
        return events, wf, resolver

    def run(self, msg: Run) -> Any:
        """Accepted once the input is durable; dispatch follows the reply. An inbox request
        (``msg.inbox``) already applied is answered without applying it again."""
        worker = self._worker(msg.workflow_id)
        if msg.inbox is not None and inbox.applied(worker.workflow, msg.inbox):
            return self._already_applied(worker, msg)
        worker.accept(unpack(msg.input_blob), unpack(msg.run_context_blob), unpack(msg.policies_blob), msg.trace,
                      inbox=msg.inbox)
        self.loop.post(worker.pump)
        if msg.await_idle:
            return self.await_idle(AwaitIdle(msg.workflow_id, ref=msg.ref, reply_to=msg.reply_to))
        return Accepted(msg.workflow_id, msg.ref)

    def await_idle(self, msg: AwaitIdle) -> Any:
        worker = self.loop.workers.get(msg.workflow_id)
        if worker is None:  # a stored workflow (in-process store): its settled status answers
            status = stored.stored_status(self.store, msg.workflow_id)
            return Idle(msg.workflow_id, status, msg.ref) if status != "running" else None
        loop, reply_to, ref = self.loop, msg.reply_to, msg.ref
        if msg.inbox is not None and not inbox.applied(worker.workflow, msg.inbox):
            # the caller's input is still in the inbox (the workflow moved here meanwhile):
            # answer when it settles after that input
            worker.awaiters.append(lambda w: loop.reply(reply_to, settled_reply(w, ref)))
            return None
        if worker.await_idle(lambda w: loop.reply(reply_to, settled_reply(w, ref))):
            return settled_reply(worker, ref)
        return None

    def start_many(self, msg: StartMany) -> ManyStarted | None:
        """Start many Workers of one definition (each gets its own copy).

        Three transactions for the whole batch, not two per workflow: one takes ownership of
        every id (``acquire_many``), one writes every first write (build log, input, status
        ``running``: ``append_many``); an id refused by either is reported alone. Each started
        workflow's first write is durable before the reply."""
        definition = unpack(msg.workflow_blob)
        if not isinstance(definition, Workflow):
            raise RunicError(f"start_many needs a runic.Workflow, got {type(definition).__name__}")
        callbacks = unpack(msg.callbacks_blob)
        started: dict = {}
        errors: dict = {}
        candidates = []
        for wid, blob in msg.items:
            try:
                if wid in self.loop.workers:
                    raise AlreadyStartedError(f"workflow {wid!r} is already running on host {self.loop.host_id}")
                self._refuse_stored(wid)
                candidates.append((wid, blob))
            except Exception as exc:  # noqa: BLE001 - reported per workflow
                errors[wid] = error_entry(exc)
        try:
            epochs = self._acquire_many([wid for wid, _ in candidates])
        except Exception as exc:  # noqa: BLE001 - the store refused the batch: every id failed
            errors.update((wid, error_entry(exc)) for wid, _ in candidates)
            candidates, epochs = [], []
        workers: list[Worker] = []
        batched = callable(getattr(self.store, "append_many", None))
        for (wid, blob), epoch in zip(candidates, epochs):
            try:
                first = unpack(blob) if blob is not None else NOTHING
                workers.append(Worker(self.loop, wid, definition.copy(), msg.options, callbacks, epoch,
                                      first_input=first, trace=msg.trace, defer_write=batched))
            except Exception as exc:  # noqa: BLE001 - reported per workflow
                errors[wid] = error_entry(exc)
        deferred = [w for w in workers if w.commit_wanted]
        try:
            results: list[Any] = self.store.append_many([w.commit_item() for w in deferred]) if deferred else []
        except Exception as exc:  # noqa: BLE001 - the transaction failed: every first write did
            results = [exc] * len(deferred)
        written = dict(zip((w.id for w in deferred), results))
        for w in workers:
            res = written.get(w.id, 0)
            if isinstance(res, BaseException):
                errors[w.id] = error_entry(res)
                continue
            self.loop.workers[w.id] = w
            started[w.id] = self.loop.host_id
            if w.commit_wanted:
                w.committed(res)  # dispatches: in group commit, the next round runs it (after the reply)
            else:
                self.loop.post(w.pump)
        if not msg.await_idle:
            return ManyStarted(started, errors, msg.ref)

        def after(statuses: dict, errs: dict) -> None:
            errors.update(errs)
            self.loop.reply(msg.reply_to, ManyStarted(started, errors, msg.ref))

        self.loop.post(lambda: self._when_all_idle(list(started), after))
        return None

    def await_many(self, msg: AwaitMany) -> ManyIdle | None:
        errors: dict = {}
        present = []
        done: dict = {}
        for wid in msg.workflow_ids:
            if wid in self.loop.workers:
                present.append(wid)
                continue
            try:
                status = stored.stored_status(self.store, wid)
            except Exception as exc:  # noqa: BLE001 - unknown id
                errors[wid] = error_entry(exc)
                continue
            if status != "running":
                done[wid] = status

        def after(statuses: dict, errs: dict) -> None:
            errors.update(errs)
            self.loop.reply(msg.reply_to, ManyIdle({**done, **statuses}, errors, msg.ref))

        self._when_all_idle(present, after)
        return None

    def _when_all_idle(self, workflow_ids: list, then: Any) -> None:
        """Call ``then(statuses, errors)`` once every listed workflow has settled or ended."""
        statuses: dict = {}
        errors: dict = {}
        waiting = set(workflow_ids)

        def record(worker: Worker) -> None:
            if worker.end_error is not None:
                errors[worker.id] = error_entry(worker.end_error)
            else:
                statuses[worker.id] = worker.status

        def settled(worker: Worker) -> None:
            record(worker)
            waiting.discard(worker.id)
            if not waiting:
                then(statuses, errors)

        for wid in workflow_ids:
            worker = self.loop.workers.get(wid)
            if worker is None:
                statuses[wid] = "stopped"
                waiting.discard(wid)
            elif worker.await_idle(settled):
                record(worker)
                waiting.discard(wid)
        if not waiting:
            then(statuses, errors)

    # -- reads: the live Worker, else the store ----------------------------------------------
    def results(self, msg: GetResults) -> Results:
        w = self.loop.workers.get(msg.workflow_id)
        if w is None:
            return Results(pack(stored.results(self.store, msg.workflow_id, msg.components, msg.facts, msg.all)),
                           msg.ref)
        wf = w.workflow
        if msg.components is None and not msg.facts and not msg.all:
            value: Any = wf.raw_productions()
        else:
            value = wf.results(msg.components, facts=msg.facts, all=msg.all)
        return Results(pack(value), msg.ref)

    def workflow(self, msg: GetWorkflow) -> WorkflowValue:
        w = self.loop.workers.get(msg.workflow_id)
        wf = w.workflow if w is not None else stored.load(self.store, msg.workflow_id)
        return WorkflowValue(pack(wf), msg.ref)

    def status(self, msg: GetStatus) -> StatusReply:
        w = self.loop.workers.get(msg.workflow_id)
        if w is not None:
            return StatusReply(msg.workflow_id, w.status, True, msg.ref)
        return StatusReply(msg.workflow_id, stored.stored_status(self.store, msg.workflow_id), False, msg.ref)

    def failures(self, msg: GetFailures) -> FailureList:
        w = self.loop.workers.get(msg.workflow_id)
        if w is not None:
            return FailureList(list(w.workflow.failures), msg.ref)
        return FailureList(stored.failures(self.store, msg.workflow_id), msg.ref)

    def checkpoint(self, msg: Checkpoint) -> Done:
        w = self._worker(msg.workflow_id)
        if not w.checkpoint("checkpoint"):
            raise w.end_error or PersistenceError(
                f"checkpoint of workflow {msg.workflow_id!r} failed: {w.persist_error}", msg.workflow_id)
        return Done(msg.ref)

    def stop(self, msg: StopWorkflow) -> Done:
        w = self._worker(msg.workflow_id)
        if msg.inbox is not None:
            if inbox.applied(w.workflow, msg.inbox):
                return self._already_applied(w, msg)
            inbox.mark(w.workflow, msg.inbox)  # written by the stop's persist
        w.stop(persist=msg.persist)
        return Done(msg.ref)

    def cancel(self, msg: CancelWorkflow) -> Done:
        w = self.loop.workers.get(msg.workflow_id)
        if w is not None:
            if msg.inbox is not None:
                if inbox.applied(w.workflow, msg.inbox):
                    return self._already_applied(w, msg)
                inbox.mark(w.workflow, msg.inbox)  # written by the cancel's persist
            w.cancel()
            return Done(msg.ref)
        status = stored.stored_status(self.store, msg.workflow_id)  # raises if unknown
        if status != "cancelled":
            self.store.set_status(msg.workflow_id, "cancelled")
        return Done(msg.ref)

    def _already_applied(self, worker: Worker, msg: Any) -> Any:
        """A redelivered inbox request whose mark is in the workflow: answered once what the
        Worker holds is written (the mark may still be buffered after a failed write)."""
        if not worker.checkpoint("checkpoint"):
            raise worker.end_error or PersistenceError(
                f"workflow {msg.workflow_id!r} cannot persist ({worker.persist_error}); inbox request "
                f"{msg.inbox} stays pending", msg.workflow_id)
        return Accepted(msg.workflow_id, msg.ref) if isinstance(msg, Run) else Done(msg.ref)

    def node_fenced(self, msg: NodeFenced) -> Done:
        """This node was declared dead (its lease ran out) and other nodes may run its workflows
        already: stop every Worker without writing anything; their waiters get
        :class:`WorkflowTakenOverError` naming the new owner. Then record ownerships under the
        node's new generation."""
        old = self.generation
        for w in list(self.loop.workers.values()):
            owner = None
            try:
                owner = self.store.owner(w.id)
            except Exception:  # noqa: BLE001 - the error below says what is known
                log.debug("workflow %r: reading its owner failed", w.id, exc_info=True)
            node = getattr(owner, "node", None)
            moved = node is not None and (node, getattr(owner, "generation", None)) != (self.node, old)
            where = f"it continues on node {node}" if moved else "a live node of the cluster takes it over"
            w.end_error = WorkflowTakenOverError(
                f"workflow {w.id!r}: node {self.node} was declared dead by the cluster while running it (its "
                f"lease could not be renewed in time); {where}. Ask any node for it (status, await_idle, "
                f"get_results)", w.id, node if moved else None)
            w.stop(persist=False, status=None, reason="fenced")
        self.generation = msg.generation
        gate = getattr(self.loop, "gate", None)
        if gate is not None:
            gate.adopt(msg.generation)
        return Done(msg.ref)

    def worker_state(self, msg: WorkerState) -> WorkerStateReply:
        return WorkerStateReply(self._worker(msg.workflow_id).state(), msg.ref)

    def store_query(self, msg: StoreQuery) -> StoreAnswer:
        return store_answer(self.store, msg.workflow_id, msg.ref)


def error_entry(exc: BaseException) -> tuple:
    """``(type, message, attrs)`` of an error, as batch replies carry them."""
    return describe(exc)


def settled_reply(worker: Worker, ref: Any) -> Any:
    """What a waiter gets once ``worker`` settled or ended: ``Idle`` (with the failure records
    of a failed outcome) or the error that ended it."""
    if worker.end_error is not None:
        return ErrorReply.from_exception(worker.end_error, ref)
    failed = worker.failure_error() if worker.status == "failed" else None
    return Idle(worker.id, worker.status, ref, getattr(failed, "failures", None))


def store_answer(store: Any, workflow_id: Any, ref: Any) -> StoreAnswer:
    """What ``store`` holds for ``workflow_id``."""
    cursor_fn = getattr(store, "cursor", None)
    cursor = cursor_fn(workflow_id) if cursor_fn is not None else 0
    return StoreAnswer(workflow_id, store.exists(workflow_id), cursor or 0, store.status(workflow_id),
                       store.owner(workflow_id), ref)


HANDLERS = {
    StartWorkflow: HostService.start, ResumeWorkflow: HostService.resume, Run: HostService.run,
    AwaitIdle: HostService.await_idle, GetResults: HostService.results, GetWorkflow: HostService.workflow,
    Checkpoint: HostService.checkpoint, StopWorkflow: HostService.stop, WorkerState: HostService.worker_state,
    StoreQuery: HostService.store_query, StartMany: HostService.start_many, AwaitMany: HostService.await_many,
    GetStatus: HostService.status, GetFailures: HostService.failures, CancelWorkflow: HostService.cancel,
    NodeFenced: HostService.node_fenced,
}


