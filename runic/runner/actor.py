"""The runner actor: ``<name>.Runner``, a supervisor of worker hosts and the Runner's front door.

It is a :class:`~runic.supervisor.SupervisorActor` (strategy ``one_for_one``) whose children
are the worker hosts — a pool of ``pool_size`` hosts (``<name>.host-<i>``, permanent) plus one
``<name>.host/<workflow_id>`` per ``dedicated=True`` workflow (transient) — and it answers every
request of :mod:`runic.runner.messages`:

* lifecycle requests (start, resume, stop) go to the chosen host and come back through it, so
  its registry (workflow id → host) is always right;
* data requests (run, await_idle, results, ...) are forwarded with ``reply_to`` set to the
  original sender, who gets the host's answer directly (one hop less).

It opens its own store handle from the store's name and options (it never talks to the store
actor), so killing the store actor disturbs nothing. Recovery: when a host is restarted after
a crash, every workflow it ran is resumed on it from the store; when the runner actor itself
starts with ``recover="auto"`` (the default), every workflow whose stored status is
``running`` is resumed. Workflows that cannot be restored (a lambda without ``functions=``)
are logged and listed in the tree's ``recovery_errors``; their status stays ``running`` so a
later ``resume`` with ``functions=`` can pick them up.

**A node of a cluster** (a Runner on a shared store; see :mod:`runic.runner.lease` and
``docs/cluster.md``):

* it registers its node at start; a heartbeat thread renews the lease and publishes the lease
  gate's deadline, past which its worker hosts stop dispatching and writing by themselves
  (:mod:`runic.runner.heartbeat`, :mod:`runic.runner.gate`). Told that the node was declared
  dead, it stops every Worker without writing (:class:`~runic.runner.messages.NodeFenced`) and
  registers a new generation;
* with ``recover="auto"``, a reaper runs every ``lease / 4`` s (at most 0.5 s apart, so that a
  dead node's workflows move within ``lease + 1`` s): one
  :meth:`~runic.store.BaseStore.takeover` transaction declares expired nodes dead and claims
  this node's fair share of the orphans, each then resumed by the usual path (acquire, then
  read);
* requests about a workflow another node runs are answered from the store (status, results,
  failures) or written to its inbox (run, stop, cancel; :mod:`runic.runner.inbox`), and waits
  for it are answered when the store says it settled (:mod:`runic.runner.cluster`); the inbox
  requests for workflows this node holds are delivered to their hosts, one at a time and in
  order per workflow.

**Threads:** every handler runs on the actor's thread (thespian's), which also does the
reaper's and the inbox's store I/O; the heartbeat and the signal listener have their own threads
and wake this one through a pipe that thespian watches (:class:`~runic.runner.cluster.Wakeup`).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from thespian.actors import ThespianWatch

from ..actors import current_scratch_dir
from ..supervisor import ChildSpec, SupervisorActor
from ..supervisor.messages import (
    DeleteChild,
    Done,
    ErrorReply,
    StartChild,
    TerminateChild,
)
from . import logs, stored
from .batches import Batch
from .cluster import RemoteWait, Signals, Wakeup, poll_interval
from .courier import Courier
from .errors import AlreadyStartedError, RunnerBusyError, WorkflowNotFoundError
from ..store.registry import open_store
from .gate import LeaseGate, gate_path
from .heartbeat import Heartbeat
from .host import WorkerHost
from .lease import NodeLease, default_node
from .messages import (
    Accepted,
    AwaitIdle,
    AwaitMany,
    CancelWorkflow,
    Checkpoint,
    FailureList,
    GetFailures,
    GetNodes,
    GetResults,
    GetStatus,
    GetTree,
    GetWorkflow,
    HostNotice,
    Idle,
    ListWorkflows,
    Location,
    Lookup,
    ManyIdle,
    ManyStarted,
    NodeFenced,
    NodeList,
    Probe,
    ProbeReply,
    Results,
    ResumeWorkflow,
    Run,
    StartMany,
    StartWorkflow,
    StatusReply,
    StopWorkflow,
    StoreQuery,
    Tree,
    WorkerState,
    WorkflowList,
    WorkflowStarted,
    WorkflowValue,
    pack,
)
from .placement import Entry, Placement
from .service import error_entry, store_answer

__all__ = ["RunnerActor"]

log = logging.getLogger("runic.runner")


@dataclass
class _Pending:
    kind: str  # start | resume | stop | spawn
    sender: Any
    ref: Any
    workflow_id: Any
    request: Any = None


def _ref() -> str:
    return uuid.uuid4().hex


_REAP = "runic.runner:reap"
_POLL = "runic.runner:poll"
_INBOX_SOON = "runic.runner:inbox-soon"
REAP_MAX_S = 0.5
"""The reaper runs every ``lease / 4`` s, at most this far apart."""


def _with_owner(spec: ChildSpec, node: str, generation: int, gate: str | None) -> ChildSpec:
    """A host's spec with the node and generation its ownerships are recorded under, and the
    node's lease gate."""
    cls, opts = spec.start
    return dataclasses.replace(spec, start=(cls, {**opts, "node": node, "generation": generation, "gate": gate}))


class RunnerActor(Courier, SupervisorActor):
    """See the module docs."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.conf: dict = {}
        self.placement = Placement([])
        self.pending: dict[Any, _Pending] = {}
        self.store: Any = None
        self.recovery_errors: dict[Any, str] = {}
        self._ready = False
        self.lease: NodeLease | None = None
        self.gate: LeaseGate | None = None
        self.heartbeat: Heartbeat | None = None
        self.wakeup: Wakeup | None = None
        self.signals: Signals | None = None
        self._init_courier()
        self._inbox_soon = False  # a delivery round is scheduled (after workflows were resumed)
        self._own_dir: Path | None = None

    # ------------------------------------------------------------------ start/stop
    def prepare_start(self, opts: dict) -> dict:
        """Before the hosts start: open the store, register this node, give the hosts its name
        and generation (they record it with every ownership)."""
        self.conf = dict(opts.get("runner") or {})
        self.placement = Placement(self.conf.get("pool", []))
        if self.conf.get("shared") and self.store is None:
            self.store = open_store(self.conf["store"], self.conf["runner"], self.conf.get("store_opts") or {})
            logs.attach(logs.log_file(self.store, self.conf["runner"]))
        if self.store is not None and self.lease is None:
            driver = self.conf.get("driver") or (os.getpid(), None)
            node = self.conf.get("node") or default_node(driver[0])
            self.lease = NodeLease(self.store, node, self.conf["lease"], tuple(driver), self.conf["runner"],
                                   self.conf.get("instance"))
            # the heartbeat's own store handle is opened before the lease starts: opening one
            # (a new connection) took over 2 s while other nodes started on a 2-core machine,
            # and a first renewal that late lost a 1 s lease at start-up (bench/cluster.py)
            keeper = self.store.lease_keeper()
            sent = time.monotonic_ns()
            generation = self.lease.start()
            self.conf["node"], self.conf["generation"] = node, generation
            scratch = current_scratch_dir()
            if scratch is None:  # (a thespian system runic did not start): a private directory of our own
                scratch = self._own_dir = Path(tempfile.mkdtemp(prefix="runic-lease-"))
            path = str(gate_path(scratch, self.conf.get("instance") or uuid.uuid4().hex))
            self.conf["gate"] = path
            self.wakeup = Wakeup()
            self.gate = LeaseGate(path, create=True)
            self.heartbeat = Heartbeat(keeper, node, generation, self.lease.lease_s,
                                       self.gate, self.wakeup.wake, sent_at_ns=sent)
            self.heartbeat.start()
            opts = dict(opts, children=[_with_owner(spec, node, generation, path)
                                        for spec in opts.get("children") or []])
        return opts

    def on_children_started(self) -> None:
        self._ready = True
        if self.lease is None:
            return
        # this node's own running workflows (a restart of this runner actor) are always resumed
        mine = self.lease.mine()
        if mine:
            log.warning("runner %r: resuming %d workflows of this node", self.conf["runner"], len(mine))
        for wid in mine:
            self._resume_internal(wid, None)
        if self.wakeup is not None and getattr(self.store, "notifies", False):
            self.signals = Signals(self.store.changes, self.wakeup.wake, str(self.conf.get("runner")))
            self.signals.start()
        self._reap()  # (recover="manual": only reads the nodes table)
        self.wakeupAfter(self._reap_every(), _REAP)
        self.wakeupAfter(self._poll_every(), _POLL)

    def _reap_every(self) -> float:
        assert self.lease is not None
        return min(self.lease.lease_s / 4, REAP_MAX_S)

    def _poll_every(self) -> float:
        return poll_interval(bool(getattr(self.store, "notifies", False)),
                             self.signals is not None and self.signals.listening)

    def _reap(self) -> None:
        """Read the nodes table; with ``recover="auto"``, run one takeover (see the module docs)
        and resume what it claimed: this node's fair share of the orphans it saw. Those left
        (the other nodes' shares) go to whichever live node reaps next — each reaper takes its
        share of what remains — so they are claimed within one more reaper period."""
        assert self.lease is not None
        runner = self.conf.get("runner")
        try:
            self.lease.refresh()
        except Exception:  # noqa: BLE001 - the next tick tries again
            log.exception("runner %r: reading the nodes table failed", runner)
            return
        if self.conf.get("recover", "auto") != "auto" or self.lease.generation is None:
            return
        if self.heartbeat is not None and self.heartbeat.fenced is not None:
            return  # declared dead: the new generation takes over, once registered
        try:
            result = self.store.takeover(self.lease.node, self.lease.generation, f"{runner}/{self.lease.node}")
        except Exception:  # noqa: BLE001 - the next tick tries again
            log.exception("runner %r: the takeover of orphaned workflows failed", runner)
            return
        for node, generation in result.dead:
            log.warning("runner %r: node %s (generation %d) let its lease expire; declared it dead", runner,
                        node, generation)
        if result.claimed:
            log.warning("runner %r: node %s took over %d of %d workflows no live node owned: %s", runner,
                        self.lease.node, len(result.claimed), result.orphans,
                        sorted(str(w) for w, _ in result.claimed)[:20])
        for wid, _epoch in result.claimed:
            if wid not in self.placement:
                self._resume_internal(wid, None)

    def receiveMsg_WakeupMessage(self, msg: Any, sender: Any) -> Any:  # noqa: N802
        if msg.payload == _REAP and self.lease is not None and not self.shutting_down:
            self._reap()
            self.wakeupAfter(self._reap_every(), _REAP)
            return None
        if msg.payload == _INBOX_SOON:
            self._inbox_soon = False
            if self.lease is not None and not self.shutting_down:
                self._deliver_inbox()
            return None
        if msg.payload == _POLL and self.lease is not None and not self.shutting_down:
            self._deliver_inbox()
            self._check_remote(self.remote.ids())
            self.wakeupAfter(self._poll_every(), _POLL)
            return None
        return super().receiveMsg_WakeupMessage(msg, sender)

    # ------------------------------------------------------------------ wake-ups from other threads
    def receiveMessage(self, msg: Any, sender: Any) -> Any:  # noqa: N802 - thespian API
        out = super().receiveMessage(msg, sender)
        if self.wakeup is not None and not self._exiting:
            return ThespianWatch([self.wakeup.fd])
        return out

    def receiveMsg_WatchMessage(self, msg: Any, sender: Any) -> None:  # noqa: N802
        if self.wakeup is None or self.shutting_down:
            return
        self.wakeup.drain()
        if self.heartbeat is not None and self.heartbeat.fenced is not None:
            self._on_fenced()
        if self.signals is not None:
            changed, inbox_signal, lost = self.signals.take()
            if inbox_signal or lost:
                self._deliver_inbox()
            self._check_remote(self.remote.ids() if lost else [w for w in changed if w in self.remote.by_id])

    def _on_fenced(self) -> None:
        """The heartbeat found this node declared dead: its workflows may run elsewhere already.
        Stop every Worker without writing (the hosts do: :class:`NodeFenced`), and go on as a new
        generation of this node (the hosts' gate stays closed for the old one)."""
        assert self.lease is not None and self.heartbeat is not None
        old = self.heartbeat.fenced
        try:
            generation = self.lease.register()
        except Exception:  # noqa: BLE001 - the next wake-up (the heartbeat retries) tries again
            log.exception("runner %r: registering node %s again failed", self.conf.get("runner"), self.lease.node)
            self.wakeupAfter(self._reap_every(), _POLL)
            return
        log.error("runner %r: node %s generation %s was declared dead; stopping its %d Workers, going on as "
                  "generation %d", self.conf.get("runner"), self.lease.node, old, len(self.placement.entries),
                  generation)
        self.conf["generation"] = generation
        self.heartbeat.follow(generation)
        for cid in self.child_ids():
            addr = self.child_address(cid)
            if addr is not None:
                self.send(addr, NodeFenced(self.lease.node, generation, reply_to=self.myAddress))
        for wid in list(self.placement.entries):  # their hosts stop them; nothing here holds them now
            self._forget(wid)
        self._drop_deliveries()

    def on_child_started(self, child_id: str) -> None:
        if not self._ready:
            return
        record = self.child_record(child_id)
        if record is None or record.restarts == 0:
            return  # a first start (a dedicated host): nothing to recover
        mine = [wid for wid, e in self.placement.entries.items() if e.host == child_id]
        if mine:
            log.warning("runner %r: host %s restarted; resuming its %d workflows", self.conf["runner"],
                        child_id, len(mine))
        for wid in mine:
            self._resume_internal(wid, self.placement.entries[wid])

    def on_stop(self, reason: str) -> None:
        if self.signals is not None:
            self.signals.stop()
        if self.heartbeat is not None:
            self.heartbeat.stop()
            if self.heartbeat.store is not self.store:
                self.heartbeat.join(5.0)
                try:
                    self.heartbeat.store.close()
                except Exception:  # noqa: BLE001
                    log.exception("runner %r: closing the heartbeat's store failed", self.conf.get("runner"))
        if self.lease is not None and reason in ("shutdown", "normal"):
            try:
                self.lease.release()
            except Exception:  # noqa: BLE001
                log.exception("runner %r: releasing the lease failed", self.conf.get("runner"))
        if self.store is not None:
            try:
                self.store.close()
            except Exception:  # noqa: BLE001
                log.exception("runner %r: closing its store failed", self.conf.get("runner"))
        if self._own_dir is not None:
            shutil.rmtree(self._own_dir, ignore_errors=True)

    # ------------------------------------------------------------------ helpers
    def _reply_error(self, to: Any, exc: BaseException, ref: Any) -> None:
        if to is not None and to != self.myAddress:
            self.send(to, ErrorReply.from_exception(exc, ref))

    def _pick_host(self) -> str:
        """The least loaded running pool host (see :class:`~runic.runner.placement.Placement`)."""
        return self.placement.choose(h for h in self.placement.pool if self.child_address(h) is not None)

    def _forward(self, host: str, msg: Any, reply_to: Any) -> bool:
        addr = self.child_address(host)
        if addr is None:
            return False
        self.send(addr, dataclasses.replace(msg, reply_to=reply_to))
        return True

    def _through_me(self, kind: str, host: str, msg: Any, sender: Any) -> None:
        ref = _ref()
        self.pending[ref] = _Pending(kind, sender, msg.ref, msg.workflow_id, msg)
        addr = self.child_address(host)
        if addr is None:
            self.pending.pop(ref)
            raise RunnerBusyError(f"worker host {host} is restarting; retry in a moment")
        self.send(addr, dataclasses.replace(msg, reply_to=self.myAddress, ref=ref))

    def _resume_internal(self, wid: Any, entry: Entry | None) -> None:
        """Resume ``wid`` (recovery): on its host after a restart, else on a pool host."""
        host = entry.host if entry is not None else self._pick_host()
        entry = self.placement.put(wid, entry or Entry(host, "starting", functions_blob=self.conf.get("functions")))
        entry.state = "starting"
        msg = ResumeWorkflow(wid, "full", entry.functions_blob or self.conf.get("functions"), entry.options,
                             entry.callbacks_blob, entry.dedicated)
        try:
            self._through_me("resume", host, msg, None)
        except RunnerBusyError:
            log.warning("runner: host %s not running; workflow %r waits for its restart", host, wid)

    # ------------------------------------------------------------------ lifecycle requests
    def receiveMsg_StartWorkflow(self, msg: StartWorkflow, sender: Any) -> None:  # noqa: N802
        wid = msg.workflow_id
        if wid in self.placement:
            e = self.placement.entries[wid]
            self._reply_error(sender, AlreadyStartedError(
                f"workflow {wid!r} is already started (host {e.host}); stop it first or use another id"), msg.ref)
            return
        if msg.dedicated:
            self._spawn_dedicated("start", msg, sender)
            return
        host = self._pick_host()
        self.placement.put(wid, Entry(host, "starting", msg.options, msg.callbacks_blob, None, False))
        try:
            self._through_me("start", host, msg, sender)
        except RunnerBusyError as exc:
            self.placement.pop(wid)
            self._reply_error(sender, exc, msg.ref)

    def receiveMsg_ResumeWorkflow(self, msg: ResumeWorkflow, sender: Any) -> None:  # noqa: N802
        wid = msg.workflow_id
        if wid in self.placement:
            e = self.placement.entries[wid]
            self._reply_error(sender, AlreadyStartedError(
                f"workflow {wid!r} is already running (host {e.host}); stop it before resuming it"), msg.ref)
            return
        if self.store is not None and not self.store.exists(wid):
            self._reply_error(sender, WorkflowNotFoundError(
                f"nothing is stored for workflow {wid!r} in runner {self.conf['runner']!r}; check the id "
                "(runner.list_workflows() / `runic ls`) or start it with start_workflow", wid), msg.ref)
            return
        self.recovery_errors.pop(wid, None)
        if msg.dedicated:
            self._spawn_dedicated("resume", msg, sender)
            return
        host = self._pick_host()
        self.placement.put(wid, Entry(host, "starting", msg.options, msg.callbacks_blob, msg.functions_blob, False))
        try:
            self._through_me("resume", host, msg, sender)
        except RunnerBusyError as exc:
            self.placement.pop(wid)
            self._reply_error(sender, exc, msg.ref)

    def _spawn_dedicated(self, kind: str, msg: Any, sender: Any) -> None:
        wid = msg.workflow_id
        if not self.conf.get("shared"):
            self._reply_error(sender, ValueError(
                "dedicated=True needs a store shared by several processes (MnesiaStore); "
                "MemoryStore keeps its tables in one process"), msg.ref)
            return
        host = f"{self.conf['runner']}.host/{wid}"
        self.placement.put(wid, Entry(host, "starting", msg.options, msg.callbacks_blob,
                              getattr(msg, "functions_blob", None), True))
        spec = ChildSpec(host, (WorkerHost, {**{k: self.conf.get(k) for k in ("runner", "store", "store_opts",
                                                                                "threads", "telemetry", "node",
                                                                                "generation", "gate")},
                                             "host_id": host}), restart="transient", shutdown=15.0)
        ref = _ref()
        self.pending[ref] = _Pending("spawn", sender, msg.ref, wid, (kind, msg))
        self.send(self.myAddress, StartChild(spec, ref=ref))

    def receiveMsg_ChildStarted(self, msg: Any, sender: Any) -> None:  # noqa: N802
        p = self.pending.pop(msg.ref, None)
        if p is None or p.kind != "spawn":
            return
        kind, request = p.request
        try:
            self._through_me(kind, msg.id, request, p.sender)
        except RunnerBusyError as exc:
            self.placement.pop(p.workflow_id)
            self._reply_error(p.sender, exc, p.ref)

    def receiveMsg_StopWorkflow(self, msg: StopWorkflow, sender: Any) -> None:  # noqa: N802
        if msg.workflow_id not in self.placement and self._via_inbox(msg, sender, "stop", {"persist": msg.persist}):
            return
        e = self._running(msg.workflow_id, sender, msg.ref)
        if e is None:
            return
        try:
            self._through_me("stop", e.host, msg, sender)
        except RunnerBusyError as exc:
            self._reply_error(sender, exc, msg.ref)

    # ------------------------------------------------------------------ batches
    def receiveMsg_StartMany(self, msg: StartMany, sender: Any) -> None:  # noqa: N802
        batch = Batch(sender, msg.ref, "start")
        groups: dict[str, list] = {}
        for wid, blob in msg.items:
            if wid in self.placement:
                batch.errors[wid] = error_entry(AlreadyStartedError(
                    f"workflow {wid!r} is already started (host {self.placement.entries[wid].host})"))
                continue
            host = self._pick_host()
            self.placement.put(wid, Entry(host, "starting", msg.options, msg.callbacks_blob))
            groups.setdefault(host, []).append((wid, blob))
        self._scatter(batch, groups, lambda items: dataclasses.replace(msg, items=items))

    def receiveMsg_AwaitMany(self, msg: AwaitMany, sender: Any) -> None:  # noqa: N802
        batch = Batch(sender, msg.ref, "await")
        groups: dict[str, list] = {}
        for wid in msg.workflow_ids:
            e = self.placement.get(wid)
            if e is not None:
                if e.state == "running":
                    groups.setdefault(e.host, []).append(wid)
                continue  # being started: left out of the reply, the waiter awaits it on its own
            if self.store is None:
                groups.setdefault(self.conf["pool"][0], []).append(wid)
                continue
            try:
                status = stored.stored_status(self.store, wid)
            except Exception as exc:  # noqa: BLE001
                batch.errors[wid] = error_entry(exc)
                continue
            if status != "running":
                batch.done[wid] = status
        self._scatter(batch, groups, lambda ids: dataclasses.replace(msg, workflow_ids=ids))

    def _scatter(self, batch: Batch, groups: dict[str, list], part: Any) -> None:
        for host, items in groups.items():
            addr = self.child_address(host)
            if addr is None:
                for item in items:
                    wid = item[0] if batch.kind == "start" else item
                    batch.errors[wid] = error_entry(RunnerBusyError(f"worker host {host} is restarting"))
                    if batch.kind == "start":
                        self.placement.pop(wid)
                continue
            ref = _ref()
            self.pending[ref] = _Pending("batch", None, batch.ref, None, batch)
            batch.sent_part()
            self.send(addr, dataclasses.replace(part(items), reply_to=self.myAddress, ref=ref))
        self._maybe_gathered(batch)

    def _maybe_gathered(self, batch: Batch) -> None:
        reply = batch.reply()
        if reply is not None:
            self.send(batch.sender, reply)

    def receiveMsg_ManyStarted(self, msg: ManyStarted, sender: Any) -> None:  # noqa: N802
        p = self.pending.pop(msg.ref, None)
        if p is None:
            return
        batch = p.request
        for wid, host in msg.started.items():
            self.placement.started(wid, host)
        for wid in msg.errors:
            e = self.placement.get(wid)
            if e is not None and e.state == "starting":
                self.placement.pop(wid)
        batch.part_answered(msg.started, msg.errors)
        self._maybe_gathered(batch)

    def receiveMsg_ManyIdle(self, msg: ManyIdle, sender: Any) -> None:  # noqa: N802
        p = self.pending.pop(msg.ref, None)
        if p is None:
            return
        p.request.part_answered(msg.statuses, msg.errors)
        self._maybe_gathered(p.request)

    # ------------------------------------------------------------------ replies from hosts
    def receiveMsg_WorkflowStarted(self, msg: WorkflowStarted, sender: Any) -> None:  # noqa: N802
        p = self.pending.pop(msg.ref, None)
        if p is None:
            return
        self.placement.started(p.workflow_id, msg.host)
        if p.sender is not None:
            self.send(p.sender, WorkflowStarted(p.workflow_id, msg.host, p.ref))
        if self.lease is not None and not self._inbox_soon:  # requests may wait for it (taken over)
            self._inbox_soon = True
            self.wakeupAfter(0.05, _INBOX_SOON)

    def receiveMsg_Done(self, msg: Done, sender: Any) -> None:  # noqa: N802
        if msg.ref in self.inbox_refs:
            self._inbox_answered(msg.ref, None)
            return
        p = self.pending.pop(msg.ref, None)
        if p is None:
            return
        if p.kind == "stop":
            self._forget(p.workflow_id)
        if p.sender is not None:
            self.send(p.sender, Done(p.ref))

    def receiveMsg_Accepted(self, msg: Accepted, sender: Any) -> None:  # noqa: N802
        if msg.ref in self.inbox_refs:
            self._inbox_answered(msg.ref, None)

    def receiveMsg_ErrorReply(self, msg: ErrorReply, sender: Any) -> None:  # noqa: N802
        if msg.ref in self.inbox_refs:
            self._inbox_answered(msg.ref, msg)
            return
        p = self.pending.pop(msg.ref, None)
        if p is None:
            super().receiveMsg_ErrorReply(msg, sender)  # a child start failure: supervision's business
            return
        if p.kind in ("start", "resume", "spawn"):
            e = self.placement.get(p.workflow_id)
            if e is not None and e.state == "starting":
                self._forget(p.workflow_id)
            if p.sender is None:
                log.error("runner %r: could not resume workflow %r: %s: %s", self.conf.get("runner"),
                          p.workflow_id, msg.type, msg.message)
                self.recovery_errors[p.workflow_id] = f"{msg.type}: {msg.message}"
        if p.sender is not None:
            self.send(p.sender, dataclasses.replace(msg, ref=p.ref))

    def receiveMsg_HostNotice(self, msg: HostNotice, sender: Any) -> None:  # noqa: N802
        e = self.placement.get(msg.workflow_id)
        if e is None or e.host != msg.host or e.state != "running":
            return
        if msg.detail == "fenced":
            log.warning("runner %r: workflow %r was taken over by another owner; forgetting it here",
                        self.conf.get("runner"), msg.workflow_id)
        self._forget(msg.workflow_id)

    def _forget(self, wid: Any) -> None:
        e = self.placement.pop(wid)
        if e is not None and e.dedicated:
            self.send(self.myAddress, TerminateChild(e.host, ref=_ref()))
            self.send(self.myAddress, DeleteChild(e.host, ref=_ref()))

    # ------------------------------------------------------------------ data requests
    def _running(self, wid: Any, sender: Any, ref: Any) -> Entry | None:
        e = self.placement.get(wid)
        if e is None or e.state != "running":
            what = "is still starting" if e is not None else "is not running"
            self._reply_error(sender, WorkflowNotFoundError(
                f"workflow {wid!r} {what} in runner {self.conf.get('runner')!r}"
                + ("" if e is not None else "; start_workflow or resume it first"), wid), ref)
            return None
        return e

    def _direct(self, msg: Any, sender: Any) -> None:
        e = self._running(msg.workflow_id, sender, msg.ref)
        if e is None:
            return
        if not self._forward(e.host, msg, sender):
            self._reply_error(sender, RunnerBusyError(
                f"the worker host of workflow {msg.workflow_id!r} is restarting; retry in a moment"), msg.ref)

    def receiveMsg_Run(self, msg: Run, sender: Any) -> None:  # noqa: N802
        if msg.workflow_id not in self.placement and self._via_inbox(msg, sender, "run", None):
            return
        self._direct(msg, sender)

    def receiveMsg_AwaitIdle(self, msg: AwaitIdle, sender: Any) -> None:  # noqa: N802
        """Live: the host answers once it settles. Being started or resumed, or stored as running
        with no Worker: no answer now (the waiter probes, and arms again or gives up). Stored and
        settled: its stored status answers. Unknown: ``WorkflowNotFoundError``."""
        e = self.placement.get(msg.workflow_id)
        if e is not None:
            if e.state == "running":
                self._direct(msg, sender)
            return
        if self.store is None:
            self._forward(self.conf["pool"][0], msg, sender)
            return
        if self.lease is not None:  # answered from the store once it settles (and the inputs applied)
            seq = msg.inbox
            if seq is None:  # inputs other callers sent that its owner has not applied yet come first
                try:
                    seq = max((i.seq for i in self.store.inbox_pending(workflow_id=msg.workflow_id)), default=None)
                except Exception as exc:  # noqa: BLE001 - unknown id, or the store fails
                    self._reply_error(sender, exc, msg.ref)
                    return
            self.remote.add(msg.workflow_id, RemoteWait(sender, msg.ref, "idle", seq))
            self._check_remote([msg.workflow_id])
            return
        try:
            status = stored.stored_status(self.store, msg.workflow_id)
        except Exception as exc:  # noqa: BLE001 - unknown id, or the store fails
            self._reply_error(sender, exc, msg.ref)
            return
        if status != "running":
            self.send(sender, Idle(msg.workflow_id, status, msg.ref))

    def _live_or_stored(self, msg: Any, sender: Any, read: Any) -> None:
        """A read: the live Worker answers; otherwise the store (read here when it is shared,
        else by the first pool host, which holds the in-process store)."""
        e = self.placement.get(msg.workflow_id)
        if e is not None and e.state == "running" and (self.child_address(e.host) is not None or self.store is None):
            self._direct(msg, sender)
            return
        # not live, or its host is being restarted: what the store holds is the truth now
        if self.store is not None:
            try:
                reply = read(self.store)
            except Exception as exc:  # noqa: BLE001 - answered as an error
                self._reply_error(sender, exc, msg.ref)
                return
            self.send(sender, reply)
            return
        host = self.conf["pool"][0]
        if not self._forward(host, msg, sender):
            self._reply_error(sender, RunnerBusyError(f"worker host {host} is restarting; retry"), msg.ref)

    def receiveMsg_GetResults(self, msg: GetResults, sender: Any) -> None:  # noqa: N802
        self._live_or_stored(msg, sender, lambda store: Results(
            pack(stored.results(store, msg.workflow_id, msg.components, msg.facts, msg.all)), msg.ref))

    def receiveMsg_GetWorkflow(self, msg: GetWorkflow, sender: Any) -> None:  # noqa: N802
        self._live_or_stored(msg, sender, lambda store: WorkflowValue(
            pack(stored.load(store, msg.workflow_id)), msg.ref))

    def receiveMsg_GetStatus(self, msg: GetStatus, sender: Any) -> None:  # noqa: N802
        e = self.placement.get(msg.workflow_id)
        if e is not None and e.state == "starting":
            self.send(sender, StatusReply(msg.workflow_id, "running", True, msg.ref))
            return
        self._live_or_stored(msg, sender, lambda store: StatusReply(
            msg.workflow_id, stored.stored_status(store, msg.workflow_id), False, msg.ref))

    def receiveMsg_GetFailures(self, msg: GetFailures, sender: Any) -> None:  # noqa: N802
        self._live_or_stored(msg, sender, lambda store: FailureList(
            stored.failures(store, msg.workflow_id), msg.ref))

    def receiveMsg_CancelWorkflow(self, msg: CancelWorkflow, sender: Any) -> None:  # noqa: N802
        if msg.workflow_id not in self.placement and self._via_inbox(msg, sender, "cancel", {}):
            return
        e = self.placement.get(msg.workflow_id)
        if e is not None and e.state == "running":
            try:
                self._through_me("stop", e.host, msg, sender)
            except RunnerBusyError as exc:
                self._reply_error(sender, exc, msg.ref)
            return
        if e is not None:
            self._reply_error(sender, RunnerBusyError(
                f"workflow {msg.workflow_id!r} is still starting; cancel it again in a moment"), msg.ref)
            return

        def cancel_stored(store: Any) -> Done:
            if stored.stored_status(store, msg.workflow_id) != "cancelled":
                store.set_status(msg.workflow_id, "cancelled")
            return Done(msg.ref)

        self._live_or_stored(msg, sender, cancel_stored)

    def receiveMsg_Checkpoint(self, msg: Checkpoint, sender: Any) -> None:  # noqa: N802
        self._direct(msg, sender)

    def receiveMsg_WorkerState(self, msg: WorkerState, sender: Any) -> None:  # noqa: N802
        self._direct(msg, sender)

    def receiveMsg_StoreQuery(self, msg: StoreQuery, sender: Any) -> None:  # noqa: N802
        if self.store is not None:
            self.send(sender, store_answer(self.store, msg.workflow_id, msg.ref))
            return
        host = self.conf["pool"][0]
        if not self._forward(host, msg, sender):
            self._reply_error(sender, RunnerBusyError(f"worker host {host} is restarting; retry"), msg.ref)

    def receiveMsg_Probe(self, msg: Probe, sender: Any) -> None:  # noqa: N802
        states: dict = {}
        for wid in msg.workflow_ids:
            e = self.placement.get(wid)
            if e is not None:
                rec = self.child_record(e.host)
                pid = rec.pid if rec is not None and rec.state == "running" else None
                states[wid] = ("live" if e.state == "running" else "starting", pid, None, None)
                continue
            status, error = None, self.recovery_errors.get(wid)
            if self.store is not None:
                try:
                    status = self.store.status(wid)
                    owner = self._other_owner(wid)
                    if owner is not None:
                        seq = (msg.inbox or {}).get(wid)
                        pending = (self.store.inbox_state(wid, seq)[0] == "pending" if seq is not None
                                   else bool(self.store.inbox_pending(workflow_id=wid)))
                        if pending and status not in ("stopped", "cancelled"):
                            status = "running"  # inputs sent to it are not applied yet
                        states[wid] = ("remote", None, status, owner)
                        continue
                except Exception as exc:  # noqa: BLE001 - the waiter sees the error text
                    error = error or f"reading its status failed: {type(exc).__name__}: {exc}"
            states[wid] = ("gone", None, status, error)
        self.send(sender, ProbeReply(states, msg.ref))

    def receiveMsg_GetNodes(self, msg: GetNodes, sender: Any) -> None:  # noqa: N802
        if self.store is None:  # an in-process store: this Runner is the only node
            node = self.conf.get("node") or default_node((self.conf.get("driver") or (os.getpid(),))[0])
            mine = [w for w, e in self.placement.entries.items() if e.state == "running"]
            self.send(sender, NodeList([{"node": node, "generation": None, "alive": True, "lease_expires_at": None,
                                         "workflows": mine}], msg.ref))
            return
        try:
            nodes = self.store.nodes()
        except Exception as exc:  # noqa: BLE001
            self._reply_error(sender, exc, msg.ref)
            return
        self.send(sender, NodeList([{k: n[k] for k in ("node", "generation", "alive", "lease_expires_at",
                                                        "workflows")} for n in nodes], msg.ref))

    def receiveMsg_ListWorkflows(self, msg: ListWorkflows, sender: Any) -> None:  # noqa: N802
        self.send(sender, WorkflowList([w for w, e in self.placement.entries.items() if e.state == "running"], msg.ref))

    def receiveMsg_Lookup(self, msg: Lookup, sender: Any) -> None:  # noqa: N802
        e = self.placement.get(msg.workflow_id)
        if e is None or e.state != "running" or self.child_address(e.host) is None:  # not live, or restarting
            self.send(sender, Location(msg.workflow_id, None, ref=msg.ref))
            return
        rec = self.child_record(e.host)
        self.send(sender, Location(msg.workflow_id, e.host, self.child_address(e.host),
                                   getattr(rec, "pid", None), msg.ref))

    def receiveMsg_GetTree(self, msg: GetTree, sender: Any) -> None:  # noqa: N802
        entries: list[dict[str, Any]] = [{"id": self.child_id, "role": "runner", "pid": os.getpid(),
                                          "restarts": None, "recovery_errors": dict(self.recovery_errors)}]
        for cid in self.child_ids():
            rec = self.child_record(cid)
            entries.append({"id": cid, "role": "host", "pid": rec.pid if rec else None,
                            "restarts": rec.restarts if rec else None,
                            "workflows": sorted((w for w, e in self.placement.entries.items() if e.host == cid), key=str)})
        self.send(sender, Tree(entries, msg.ref))
