"""The Runner's messages: every Runner operation as a documented, picklable request.

A thespian actor can drive a Runner directly: ``send``/``ask`` one of these requests to the
runner actor's address (``Runner.address``, or the ``address`` of its entry in your
supervisor's ``which_children()``). The runner actor answers, or forwards the request to the
worker host that runs the workflow, which answers the original sender directly. Each request
carries a ``ref`` that its reply echoes. A request that fails is answered with
:class:`~runic.supervisor.messages.ErrorReply` (``type`` = the exception's qualified name, e.g.
``runic.runner.errors.WorkflowNotFoundError``; ``message`` = its text).

User values (workflows, inputs, results, callbacks) travel as ``cloudpickle`` bytes in
``*_blob`` fields — an in-flight hop between our own processes on loopback only; nothing in
these messages is ever persisted (the store holds msgpack). Use :func:`pack`/:func:`unpack`.

=========================  =================================================================
request                    reply
=========================  =================================================================
``StartWorkflow``          ``WorkflowStarted(workflow_id, host)``
``ResumeWorkflow``         ``WorkflowStarted(workflow_id, host)``
``Run``                    ``Accepted(workflow_id)`` once the input is durable in the store (work
                           goes on), or with ``await_idle=True`` ``Idle`` once it settles; for a
                           workflow another node runs, ``Accepted(workflow_id, inbox=n)`` once the
                           input is in the store's inbox (then wait with ``AwaitIdle(inbox=n)``)
``AwaitIdle``              ``Idle(workflow_id, status, failures)`` once nothing is left to do
                           (``failures``: the records that failed it, for status ``failed``)
``GetResults``             ``Results(value_blob)`` (live Worker, else read from the store)
``GetWorkflow``            ``WorkflowValue(workflow_blob)`` (live Worker, else from the store)
``GetStatus``              ``StatusReply(workflow_id, status, live)``
``GetFailures``            ``FailureList(failures)`` (``runic.Failure`` records, oldest first)
``Checkpoint``             ``Done``
``StopWorkflow``           ``Done``
``CancelWorkflow``         ``Done`` (status ``cancelled``; in-flight work killed or abandoned)
``ListWorkflows``          ``WorkflowList(ids)``
``GetNodes``               ``NodeList(nodes)``: ``{"node", "generation", "alive", "lease_expires_at",
                           "workflows"}`` per node
``Lookup``                 ``Location(workflow_id, host, address, pid)`` (``host`` None: not running)
``GetTree``                ``Tree(entries)``
``WorkerState``            ``WorkerStateReply(state)`` (a snapshot of the Worker, for tests/tools)
``StoreQuery``             ``StoreAnswer(exists, cursor, status, owner)``
``StartMany``              ``ManyStarted(started, errors)`` (after all settle with ``await_idle``)
``AwaitMany``              ``ManyIdle(statuses, errors)``
=========================  =================================================================
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import cloudpickle

from ..supervisor.messages import Done, ErrorReply

__all__ = [
    "pack", "unpack", "Request",
    "StartWorkflow", "ResumeWorkflow", "Run", "AwaitIdle", "GetResults", "GetWorkflow",
    "Checkpoint", "StopWorkflow", "ListWorkflows", "Lookup", "GetTree", "WorkerState", "StoreQuery",
    "GetStatus", "GetFailures", "CancelWorkflow", "StatusReply", "FailureList", "Probe", "ProbeReply", "GetNodes", "NodeList",
    "WorkflowStarted", "Accepted", "Idle", "Results", "WorkflowValue", "WorkflowList", "Location",
    "Tree", "WorkerStateReply", "StoreAnswer", "Done", "ErrorReply", "HostNotice",
    "StartMany", "ManyStarted", "AwaitMany", "ManyIdle", "NodeFenced",
]


def pack(value: Any) -> bytes | None:
    """``cloudpickle`` a value for the hop to another of our processes (``None`` stays ``None``)."""
    return None if value is None else cloudpickle.dumps(value)


def unpack(blob: bytes | None) -> Any:
    """Inverse of :func:`pack`."""
    return None if blob is None else cloudpickle.loads(blob)


def _ref() -> str:
    return uuid.uuid4().hex


@dataclass
class Request:
    """Base of every request. ``reply_to`` is filled in by the runner actor when it forwards
    the request to a worker host (replies go to the original sender)."""

    ref: str = field(default_factory=_ref, kw_only=True)
    reply_to: Any = field(default=None, kw_only=True)


# ------------------------------------------------------------------------------- requests

@dataclass
class StartWorkflow(Request):
    """Start a Worker for ``workflow_id`` running the (packed) workflow.

    ``options``: plain data — ``max_concurrency``, ``checkpoint_strategy``, ``executor``.
    ``callbacks_blob``: packed ``{"on_complete": fn, "hooks": {...}}``. ``input_blob``: when
    set, the first input (start and run in one message). ``dedicated``: a worker host of its own.
    """

    workflow_id: Any
    workflow_blob: bytes | None
    options: dict[Any, Any] = field(default_factory=dict)
    callbacks_blob: bytes | None = None
    input_blob: bytes | None = None
    dedicated: bool = False
    trace: dict[str, str] | None = None  # the caller's trace context (W3C headers), if any


@dataclass
class ResumeWorkflow(Request):
    """Rebuild ``workflow_id`` from the store and run it (``rehydration``: full|hybrid|lazy).

    ``functions_blob``: packed ``functions=`` (a definition workflow or name -> callable).
    ``options``/``callbacks_blob``/``dedicated`` as for :class:`StartWorkflow` (options default
    to those the workflow was started with, recorded in its stream). ``run_context_blob`` and
    ``policies_blob`` are applied before any recovered work runs."""

    workflow_id: Any
    rehydration: str = "full"
    functions_blob: bytes | None = None
    options: dict[Any, Any] | None = None
    callbacks_blob: bytes | None = None
    dedicated: bool = False
    run_context_blob: bytes | None = None
    policies_blob: bytes | None = None


@dataclass
class Run(Request):
    """Feed an input (packed) to a running workflow; ``run_context`` and
    ``scheduler_policies`` are packed too (policies are merged into the workflow's)."""

    workflow_id: Any
    input_blob: bytes | None  # None: the value None
    run_context_blob: bytes | None = None
    policies_blob: bytes | None = None
    await_idle: bool = False  # reply Idle once the workflow settles instead of Accepted at once
    trace: dict[str, str] | None = None  # the caller's trace context (W3C headers), if any
    inbox: int | None = None  # delivering inbox request n (see runic.runner.inbox): applied once


@dataclass
class AwaitIdle(Request):
    """Answer once the workflow has no pending or in-flight work (``inbox``: and its inbox
    request of that number was applied first)."""

    workflow_id: Any
    inbox: int | None = None


@dataclass
class GetResults(Request):
    """``components=None``: raw productions (a list); else ``results(components, facts=, all=)``."""

    workflow_id: Any
    components: list[Any] | None = None
    facts: bool = False
    all: bool = False


@dataclass
class GetWorkflow(Request):
    workflow_id: Any


@dataclass
class Checkpoint(Request):
    """Persist now, whatever the checkpoint strategy."""

    workflow_id: Any


@dataclass
class StopWorkflow(Request):
    """Stop the Worker (persisting first unless ``persist=False``)."""

    workflow_id: Any
    persist: bool = True
    inbox: int | None = None  # delivering inbox request n (see runic.runner.inbox)


@dataclass
class CancelWorkflow(Request):
    """Cancel: in-flight ``process`` attempts are killed, thread attempts abandoned, nothing
    more runs; status ``cancelled`` (not resumed later)."""

    workflow_id: Any
    inbox: int | None = None  # delivering inbox request n (see runic.runner.inbox)


@dataclass
class GetStatus(Request):
    """The workflow's status: the live Worker's, else the one recorded in the store."""

    workflow_id: Any


@dataclass
class GetFailures(Request):
    """The workflow's failure records (live Worker, else read from the store)."""

    workflow_id: Any


@dataclass
class Probe(Request):
    """Where each workflow stands, for a waiter that heard nothing for a while: reply
    ``ProbeReply(states)`` with ``states[id] = (state, host_pid, stored_status, recovery_error)``,
    ``state`` one of ``"live"``, ``"starting"`` (being started or resumed), ``"remote"`` (another
    live node of the cluster owns it; ``recovery_error`` is then that node's name, and
    ``stored_status`` is ``"running"`` while the caller's inbox request ``inbox[id]`` is not
    applied yet) or ``"gone"`` (no Worker of this Runner holds it)."""

    workflow_ids: list[Any]
    inbox: dict[Any, int] | None = None


@dataclass
class StartMany(Request):
    """Start one Worker per ``(workflow_id, input_blob)`` item, all running the same (packed)
    workflow — one request for many workflows (``input_blob`` None: no first input). With
    ``await_idle`` the reply comes once every one of them has settled."""

    workflow_blob: bytes | None
    items: list[Any]
    options: dict[Any, Any] = field(default_factory=dict)
    callbacks_blob: bytes | None = None
    await_idle: bool = False
    trace: dict[str, str] | None = None  # the caller's trace context (W3C headers), if any


@dataclass
class AwaitMany(Request):
    """Answer once every workflow of ``workflow_ids`` has no pending or in-flight work."""

    workflow_ids: list[Any]


@dataclass
class ListWorkflows(Request):
    pass


@dataclass
class GetNodes(Request):
    """Every node of the cluster on this store (dead ones too): reply ``NodeList(nodes)``."""


@dataclass
class NodeList:
    nodes: list[Any]
    ref: Any = None


@dataclass
class Lookup(Request):
    workflow_id: Any


@dataclass
class GetTree(Request):
    pass


@dataclass
class WorkerState(Request):
    workflow_id: Any


@dataclass
class StoreQuery(Request):
    """What the runner's store holds for ``workflow_id`` (works for in-process stores too)."""

    workflow_id: Any


# ------------------------------------------------------------------------------- replies

@dataclass
class WorkflowStarted:
    workflow_id: Any
    host: str
    ref: Any = None


@dataclass
class Accepted:
    """The input is durable. ``inbox``: the number of the inbox request it went into (the
    workflow lives on another node, which applies it; see :mod:`runic.runner.inbox`)."""

    workflow_id: Any
    ref: Any = None
    inbox: int | None = None


@dataclass
class Idle:
    workflow_id: Any
    status: str
    ref: Any = None
    failures: list[Any] | None = None


@dataclass
class StatusReply:
    workflow_id: Any
    status: str
    live: bool = False
    ref: Any = None


@dataclass
class ProbeReply:
    states: dict[Any, Any]
    ref: Any = None


@dataclass
class FailureList:
    failures: list[Any]
    ref: Any = None


@dataclass
class Results:
    value_blob: bytes | None
    ref: Any = None


@dataclass
class WorkflowValue:
    workflow_blob: bytes | None
    ref: Any = None


@dataclass
class WorkflowList:
    ids: list[Any]
    ref: Any = None


@dataclass
class Location:
    workflow_id: Any
    host: str | None
    address: Any = None
    pid: int | None = None
    ref: Any = None


@dataclass
class Tree:
    """``entries``: one dict per actor — ``id``, ``role`` (supervisor|store|runner|host),
    ``pid``, ``restarts``, and for hosts ``workflows``."""

    entries: list[Any]
    ref: Any = None


@dataclass
class WorkerStateReply:
    state: dict[Any, Any]
    ref: Any = None


@dataclass
class StoreAnswer:
    workflow_id: Any
    exists: bool
    cursor: int
    status: str | None
    owner: Any = None
    ref: Any = None


@dataclass
class ManyStarted:
    """``started``: workflow id -> host; ``errors``: workflow id -> (error type, message, attrs)."""

    started: dict[Any, Any]
    errors: dict[Any, Any]
    ref: Any = None


@dataclass
class ManyIdle:
    """``statuses``: workflow id -> status; ``errors``: workflow id -> (error type, message, attrs)."""

    statuses: dict[Any, Any]
    errors: dict[Any, Any]
    ref: Any = None


# ------------------------------------------------------------------------------- internal

@dataclass
class NodeFenced(Request):
    """The runner actor tells its worker hosts that its node was declared dead: stop every
    Worker without writing (their waiters get ``WorkflowTakenOverError`` naming the new owner)
    and record ownerships under ``generation`` from now on. Reply ``Done``."""

    node: str
    generation: int


@dataclass
class HostNotice:
    """A worker host tells the runner actor about a workflow: ``event`` is ``"stopped"``
    (the Worker ended: stop, fencing, unrecoverable error) with an explanatory ``detail``."""

    host: str
    workflow_id: Any
    event: str
    detail: str = ""
