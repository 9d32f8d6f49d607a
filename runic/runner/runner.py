"""``Runner``: run many workflows durably under a supervision tree.

``Runner.start_link(name="app", store=MnesiaStore, store_opts={...})`` starts, on the actor
system (``runic.actors.default_system()`` unless ``system=`` is given)::

    Supervisor "app" (one_for_one)
    ├── app.Store        the store actor (table lifecycle; data never flows through it)
    └── app.Runner       the runner actor: supervisor of the worker hosts + the API
        ├── app.host-0   worker host: many Workers in one execution loop
        ├── app.host-1   ... (pool_size hosts, default: the number of CPUs)
        └── app.host/<id> a dedicated host (start_workflow(..., dedicated=True))

The same tree can be declared as a children list under your own supervisor::

    children = [(MnesiaStore, {"runner_name": "app"}),
                (Runner, {"name": "app", "store": MnesiaStore, "store_opts": {...}})]
    sup = Supervisor.start_link(children)
    runner = Runner.attach(sup, "app")

Every method is a request to the runner actor (:mod:`runic.runner.messages`); errors come
back as exceptions: :class:`~runic.runner.errors.WorkflowNotFoundError` for unknown ids,
:class:`~runic.runner.errors.AlreadyStartedError` for a second start.
"""

from __future__ import annotations

import atexit
import logging
import os
import time
import uuid
import weakref
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generator, Iterable, TypeVar

from ..actors import ActorSystemHandle, default_system, procs, replies
from ..errors import ArgumentError, MissingNameError
from ..store import MnesiaStore
from ..supervisor import ChildSpec, Supervisor
from ..supervisor.messages import ErrorReply
from ..telemetry_otel import trace_carrier
from .channel import ChannelBroken, Channels
from .config import resolve_store, runner_child_spec
from .door import (
    check_callbacks,
    check_id,
    check_input,
    check_options,
    check_policies,
    check_workflow,
    pack_for_host,
)
from .errors import (
    RequestInterruptedError,
    RunnerError,
    RunnerNotRunningError,
    RunnerTimeoutError,
    WorkflowFailedError,
    WorkflowLostError,
    error_for,
)
from .lease import default_node
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
    Idle,
    ListWorkflows,
    Location,
    Lookup,
    ManyStarted,
    NodeList,
    Probe,
    ProbeReply,
    ResumeWorkflow,
    Run,
    StartMany,
    StartWorkflow,
    StatusReply,
    StopWorkflow,
    StoreAnswer,
    StoreQuery,
    Tree,
    WorkerState,
    WorkerStateReply,
    WorkflowList,
    WorkflowStarted,
    pack,
    unpack,
)
from .outcome import halting
from .wire import endpoint_path

__all__ = ["Runner", "resolve_store"]

_R = TypeVar("_R")
_NOT_FOUND = "runic.runner.errors.WorkflowNotFoundError"


@dataclass
class _Token:
    """A waiting request in flight: its ``ref``, and its future on the direct channel (``None``
    when it went through the runner actor)."""

    ref: Any
    future: Future[Any] | None
    path: Path | None

log = logging.getLogger("runic.runner")

_FOREVER = 7 * 24 * 3600.0  # "no timeout" (select() cannot wait longer than ~24 days)
PROBE_S = 1.0
"""A wait that heard nothing for this long asks where the workflow stands (see ``_settle``)."""
LOST_GRACE_S = 5.0
"""How long a workflow may be held by no Worker (and not being resumed) before its waiters are
told it is lost."""


class Runner:
    """A handle on a running Runner (see the module docs). Also a context manager."""

    def __init__(self, name: str, system: ActorSystemHandle, address: Any, *,
                 supervisor: Supervisor | None = None, timeout: float = 60.0) -> None:
        self.name = name
        self.system = system
        self.address = address
        self.supervisor = supervisor
        self.timeout = timeout
        self.node: str | None = None
        self._owns_tree = False
        self._closed = False
        self._channels = Channels()
        self._endpoints: dict[Any, Path] = {}  # workflow id -> its worker host's endpoint

    def __repr__(self) -> str:
        return f"<Runner {self.name!r}>"

    # ------------------------------------------------------------------ starting
    @classmethod
    def child_spec(cls, opts: dict[Any, Any]) -> ChildSpec:
        """The spec of ``<name>.Runner`` for a children list (``store`` may be a class or a name;
        ``functions``/``telemetry`` may be given unpacked)."""
        opts = dict(opts)
        if "functions" in opts and not isinstance(opts["functions"], (bytes, type(None))):
            opts["functions"] = pack(opts["functions"])
        if "telemetry" in opts and not isinstance(opts["telemetry"], (bytes, type(None))):
            opts["telemetry"] = pack(list(opts["telemetry"]))
        return runner_child_spec(opts)

    @classmethod
    def start_link(cls, *, name: str, store: Any = MnesiaStore, store_opts: dict[Any, Any] | None = None,
                   pool_size: int | None = None, recover: str = "auto", functions: Any = None,
                   telemetry: Iterable[Any] | None = None, threads: int | None = None,
                   system: ActorSystemHandle | None = None, timeout: float = 60.0,
                   node: str | None = None, lease: float = 5.0) -> "Runner":
        """Start the store actor and the runner (its worker hosts) under a new supervisor.

        ``node`` names this Runner in the store's nodes table (default ``"<host name>-<pid>"``,
        with ``-2``, ``-3``... for further Runners of the same name in this process); it holds a
        lease of ``lease`` seconds, renewed every ``lease / 3`` s (see :mod:`runic.runner.lease`).
        ``recover="auto"`` takes over the store's unfinished workflows that no live node owns —
        at start and whenever a node dies later (``"manual"``: leave them);
        ``functions`` (a definition workflow, or name -> callable) restores lambdas of
        recovered workflows; ``telemetry``: ``[(event_names, handler), ...]`` attached in every
        worker host. The tree stops when this process exits or :meth:`shutdown` is called.
        """
        if not name or not isinstance(name, str):
            raise MissingNameError("name: Runner.start_link needs name='<runner name>'")
        if recover not in ("auto", "manual"):
            raise ArgumentError('recover must be "auto" or "manual"')
        if isinstance(lease, bool) or not isinstance(lease, (int, float)) or not 0.1 <= lease <= 3600:
            raise ArgumentError(f"lease must be a number of seconds between 0.1 and 3600, got {lease!r}")
        if node is not None and (not isinstance(node, str) or not node):
            raise ArgumentError(f"node must be a non-empty str (or None for the default), got {node!r}")
        me = os.getpid()
        node = node or _default_node_name(name)
        store_cls: Any = resolve_store(store)
        store_opts = dict(store_opts or {})
        system = system if system is not None else default_system()
        children = [
            store_cls.child_spec({"runner_name": name, **store_opts}),
            cls.child_spec({"name": name, "store": store_cls, "store_opts": store_opts, "pool_size": pool_size,
                            "recover": recover, "functions": functions, "telemetry": telemetry,
                            "threads": threads, "node": node, "lease": float(lease),
                            "driver": (me, procs.start_time(me)), "instance": uuid.uuid4().hex}),
        ]
        sup = Supervisor.start_link(children, strategy="one_for_one", system=system, name=name,
                                    max_restarts=10, max_seconds=10)
        runner = cls._from_supervisor(sup, name, timeout)
        runner._owns_tree = True
        runner.node = node
        _LIVE.add(runner)
        return runner

    @classmethod
    def attach(cls, supervisor: Supervisor, name: str, timeout: float = 60.0) -> "Runner":
        """A handle on the runner ``name`` started as a child of ``supervisor``."""
        return cls._from_supervisor(supervisor, name, timeout)

    @classmethod
    def _from_supervisor(cls, sup: Supervisor, name: str, timeout: float) -> "Runner":
        for info in sup.which_children():
            if info.id == f"{name}.Runner":
                if info.address is None:
                    raise RunnerNotRunningError(f"runner {name!r} is not running under {sup!r}")
                return cls(name, sup.system, info.address, supervisor=sup, timeout=timeout)
        raise RunnerNotRunningError(f"no child {name}.Runner under {sup!r}; add (Runner, {{'name': {name!r}, ...}})")

    # ------------------------------------------------------------------ plumbing
    def _check_open(self) -> None:
        if self._closed:
            raise RunnerNotRunningError(f"runner {self.name!r} was shut down; start a new one")

    def _send(self, msg: Any) -> None:
        self._check_open()
        replies.send(self.system, self.address, msg)

    def _receive(self, ref: Any, timeout: float) -> Any:
        """The reply to ``ref`` (None after ``timeout``); see :mod:`runic.actors.replies`."""
        return replies.receive_any(self.system, (ref,), timeout)

    def _receive_any(self, refs: tuple[Any, ...], timeout: float) -> Any:
        return replies.receive_any(self.system, refs, timeout)

    def _raise_for(self, reply: Any) -> Any:
        if isinstance(reply, ErrorReply):
            raise reply.to_exception()
        return reply

    def _ask(self, msg: Any, reply_type: type[_R], timeout: float | None = None) -> _R:
        """:meth:`_call`, checking that the reply is a ``reply_type``."""
        reply = self._call(msg, timeout)
        if not isinstance(reply, reply_type):
            raise RunnerError(f"runner {self.name!r} answered {type(msg).__name__} with {type(reply).__name__}, "
                              f"not {reply_type.__name__}")
        return reply

    def _call(self, msg: Any, timeout: float | None = None) -> Any:
        t = self.timeout if timeout is None else timeout
        self._send(msg)
        reply = self._receive(msg.ref, t)
        if reply is None:
            self._refresh_address()
            if self.supervisor is not None and not self.supervisor.is_alive():
                raise RunnerNotRunningError(
                    f"runner {self.name!r} is not running any more (its supervisor exited: stopped, or gave "
                    "up after too many restarts; see the log); start a new Runner on the same store to resume")
            raise RunnerTimeoutError(
                f"runner {self.name!r} did not answer {type(msg).__name__} within {t:g} s"
                + (f" (workflow {msg.workflow_id!r})" if hasattr(msg, "workflow_id") else "")
            )
        return self._raise_for(reply)

    def _refresh_address(self) -> None:
        """After a timeout: the runner actor may have been restarted at a new address."""
        if self.supervisor is None:
            return
        try:
            for info in self.supervisor.which_children():
                if info.id == f"{self.name}.Runner" and info.address is not None:
                    self.address = info.address
        except Exception:  # noqa: BLE001
            pass

    # ------------------------------------------------------------------ the direct channel
    def _endpoint(self, wid: Any) -> Path | None:
        """Where the worker host running ``wid`` listens (None: not live, or no direct channel)."""
        path = self._endpoints.get(wid)
        if path is not None or self.system.scratch_dir is None:
            return path
        loc = self._ask(Lookup(wid), Location)
        if loc.host is None:
            return None
        return self._remember(wid, loc.host)

    def _remember(self, wid: Any, host: str) -> Path | None:
        if self.system.scratch_dir is None:
            return None
        path = endpoint_path(self.system.scratch_dir, host)
        self._endpoints[wid] = path
        return path

    def _data(self, msg: Any, timeout: float | None = None) -> Any:
        """A request about a live workflow, sent straight to its worker host (falls back to the
        runner actor when the workflow is not live there, or the host's connection broke)."""
        wid = msg.workflow_id
        t = self.timeout if timeout is None else timeout
        path = self._endpoint(wid)
        if path is None:
            return self._call(msg, timeout)
        try:
            fut = self._channels.get(path).request(msg)
            reply = fut.result(t)
        except ChannelBroken as exc:
            self._endpoints.pop(wid, None)
            if isinstance(msg, Run):  # the host died while taking the input: it may have been accepted
                raise RequestInterruptedError(
                    f"the worker host of workflow {wid!r} died while accepting the input ({exc}); it may or may "
                    "not have been accepted: check runner.status / get_results before sending it again", wid
                ) from exc
            return self._call(msg, timeout)
        except FutureTimeout:
            self._channels.get(path).forget(msg.ref)
            raise RunnerTimeoutError(f"the worker host of workflow {wid!r} did not answer {type(msg).__name__} "
                                     f"within {t:g} s") from None
        if isinstance(reply, ErrorReply) and reply.type == _NOT_FOUND:
            self._endpoints.pop(wid, None)  # it moved (or stopped): the runner actor knows
            return self._call(msg, timeout)
        return self._raise_for(reply)

    def _arm(self, msg: Any) -> _Token | None:
        """Send a waiting request (``AwaitIdle``, ``Run`` with ``await_idle``): over the direct
        channel when the workflow's host is known, else through the runner actor. ``None`` when
        its host cannot be reached now (it is being restarted: the wait probes, then arms again);
        a ``Run`` that cannot be delivered raises instead (nothing was accepted)."""
        path = self._endpoint(msg.workflow_id)
        if path is not None:
            try:
                return _Token(msg.ref, self._channels.get(path).request(msg), path)
            except ChannelBroken:
                self._endpoints.pop(msg.workflow_id, None)
                if not isinstance(msg, Run):
                    return None
        self._send(msg)
        return _Token(msg.ref, None, None)

    def _forget(self, tokens: list[_Token]) -> None:
        stash = replies.stash_of(self.system)
        for token in tokens:
            if token.future is None:
                stash.forget(token.ref)
            elif token.path is not None:
                self._channels.get(token.path).forget(token.ref)

    def _wait_tokens(self, tokens: list[_Token], seconds: float) -> tuple[_Token, Any] | None:
        """The first of ``tokens`` answered within ``seconds`` (its reply, or the
        :class:`ChannelBroken` that ended it), else None."""
        futures = {t.future: t for t in tokens if t.future is not None}
        refs = tuple(t.ref for t in tokens if t.future is None)
        deadline = time.monotonic() + seconds
        while True:
            for fut, token in futures.items():
                if fut.done():
                    exc = fut.exception()
                    return token, exc if exc is not None else fut.result()
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            if not refs:
                wait(list(futures), timeout=left, return_when=FIRST_COMPLETED)
                continue
            reply = self._receive_any(refs, left if not futures else min(left, 0.05))
            if reply is not None:
                return next(t for t in tokens if t.ref == reply.ref), reply

    def _settle(self, wid: Any, first: Any, timeout: float | None, raise_on_failure: bool) -> str:
        """Send ``first`` (``AwaitIdle``, or ``Run`` with ``await_idle``) and wait for its
        ``Idle``; never for ever on a workflow that cannot progress (see :meth:`_settle_ops`)."""
        ops = self._settle_ops(wid, first, timeout, raise_on_failure)
        value: Any = None
        failure: BaseException | None = None
        while True:
            try:
                op = ops.throw(failure) if failure is not None else ops.send(value)
            except StopIteration as stop:
                return str(stop.value)
            failure = None
            try:
                if op[0] == "arm":
                    value = self._arm(op[1])
                elif op[0] == "wait":
                    value = self._wait_tokens(op[1], op[2])
                else:
                    value = self._ask(op[1], ProbeReply).states[wid]
            except BaseException as exc:  # noqa: BLE001 - raised inside the plan, which decides
                failure = exc

    def _settle_ops(self, wid: Any, first: Any, timeout: float | None,
                    raise_on_failure: bool) -> Generator[tuple[Any, ...], Any, str]:
        """The plan of a wait, as operations a driver carries out (the threads' driver is
        :meth:`_settle`, the asyncio one ``AsyncRunner._settle``): ``("arm", request)`` ->
        a token, ``("wait", tokens, seconds)`` -> ``(token, reply)`` or None, ``("probe", request)``
        -> the workflow's state (the reply to that :class:`~runic.runner.messages.Probe`).

        Every :data:`PROBE_S` seconds without an answer — or at once when the worker host's
        connection breaks — the runner is asked where the workflow stands: its host was
        restarted and it was resumed (the wait is armed again there, with ``AwaitIdle``: never the
        ``Run`` again), it ended (its stored status answers), it could not be resumed
        (:class:`WorkflowLostError` with the reason), or the Runner is gone.

        A workflow another node of the cluster runs is waited for through this node's runner
        actor, which answers from the store; an input sent to it went into the store's inbox
        (the reply to ``Run`` is then ``Accepted`` with its number), and the wait is over once
        that request was applied and the workflow settled."""
        deadline = None if timeout is None else time.monotonic() + timeout
        token = yield ("arm", first)
        tokens: list[_Token] = [token] if token is not None else []
        armed_pid: Any = None
        gone_since: float | None = None
        seq: int | None = None  # our input's inbox request (a workflow on another node)
        starting_pause: float | None = None  # while its host restarts: probe soon, then less often
        try:
            while True:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise RunnerTimeoutError(f"workflow {wid!r} did not settle within {timeout:g} s (it may "
                                             "still be running: await it again, or check runner.status)")
                pause = PROBE_S if tokens or starting_pause is None else starting_pause
                got = yield ("wait", tokens, pause if left is None else min(pause, left))
                if got is not None:
                    token, reply = got
                    tokens.remove(token)
                    if not isinstance(reply, ChannelBroken) and not _host_restarting(reply):
                        reply = self._raise_for(reply)
                        if isinstance(reply, Accepted) and reply.inbox is not None:  # another node runs it
                            seq = reply.inbox
                            token = yield ("arm", AwaitIdle(wid, inbox=seq))
                            if token is not None:
                                tokens.append(token)
                            continue
                        return self._settled(wid, reply, raise_on_failure)
                    self._endpoints.pop(wid, None)  # its host died: where is it now?
                    armed_pid = None
                state, pid, status, error = yield ("probe", Probe([wid], inbox=None if seq is None else {wid: seq}))
                if state == "live" and pid is None:
                    state = "starting"  # its host died and the runner has not restarted it yet
                if state == "live":
                    gone_since = None
                    if pid != armed_pid or not tokens:  # first probe, or a new host: wait there (again)
                        token = yield ("arm", AwaitIdle(wid, inbox=seq))
                        if token is not None:
                            armed_pid = pid
                            tokens.append(token)
                    continue
                if state == "starting":
                    gone_since = None
                    armed_pid = -1  # arm again once it is live
                    starting_pause = 0.005 if starting_pause is None else min(PROBE_S, starting_pause * 2)
                    continue
                if state == "remote" and status == "running":  # another node runs it: its runner
                    gone_since = None                          # actor here answers from the store
                    if not tokens or armed_pid is not None:
                        armed_pid = None
                        token = yield ("arm", AwaitIdle(wid, inbox=seq))
                        if token is not None:
                            tokens.append(token)
                    continue
                if status in ("idle", "failed", "stopped", "cancelled"):
                    # it ended: a reply may still be on its way (it says more, e.g. who took it over)
                    got = (yield ("wait", tokens, min(PROBE_S, 0.5))) if tokens else None
                    if got is not None and not isinstance(got[1], ChannelBroken):
                        tokens.remove(got[0])
                        return self._settled(wid, self._raise_for(got[1]), raise_on_failure)
                    return self._settled(wid, Idle(wid, status, None, None), raise_on_failure)
                if error:
                    raise WorkflowLostError(f"workflow {wid!r} is no longer running and could not be resumed: "
                                            f"{error}. Fix the cause, then runner.resume({wid!r})", wid)
                now = time.monotonic()
                gone_since = gone_since or now
                starting_pause = 0.005 if starting_pause is None else min(PROBE_S, starting_pause * 2)
                if now - gone_since >= LOST_GRACE_S:
                    raise WorkflowLostError(
                        f"no Worker of runner {self.name!r} holds workflow {wid!r} any more (stored status "
                        f"{status!r}): its process ended and nothing resumed it. Resume it with "
                        f"runner.resume({wid!r})", wid)
        finally:
            self._forget(tokens)  # requests still armed: their late replies are dropped

    def _settled(self, wid: Any, reply: Idle, raise_on_failure: bool) -> str:
        if reply.status == "failed" and raise_on_failure:
            failures = reply.failures if reply.failures is not None else self._halting_failures(wid)
            raise WorkflowFailedError(wid, failures)
        return reply.status

    def _halting_failures(self, wid: Any) -> list[Any]:
        failures = self.failures(wid)
        return halting(failures) or failures[-1:]

    # ------------------------------------------------------------------ API
    def start_workflow(self, workflow_id: Any, workflow: Any, *, max_concurrency: int | None = None,
                       checkpoint_strategy: Any = "every_cycle", on_complete: Any = None,
                       hooks: dict[Any, Any] | None = None, executor: str = "thread", dedicated: bool = False,
                       input: Any = None, store_retry_s: float | None = None) -> str:  # noqa: A002
        """Start a Worker for ``workflow`` under ``workflow_id``; returns the host it runs on.

        ``input=``: also feed a first input (start and run in one request; durable when this
        returns). An id the store already holds raises
        :class:`~runic.runner.errors.AlreadyStartedError` (resume it, or delete it)."""
        wid = check_id(workflow_id)
        check_workflow(workflow)
        options = check_options(max_concurrency=max_concurrency, checkpoint_strategy=checkpoint_strategy,
                                executor=executor, store_retry_s=store_retry_s)
        callbacks = check_callbacks(on_complete, hooks)
        if input is not None:
            check_input(input)
        msg = StartWorkflow(wid, pack_for_host(workflow, "workflow"), options, pack_for_host(callbacks, "callbacks"),
                            pack_for_host(input, "input"), bool(dedicated), trace=trace_carrier())
        host = self._ask(msg, WorkflowStarted).host
        self._remember(wid, host)
        return host

    def start_many(self, workflow: Any, items: Iterable[tuple[Any, Any]], *, await_idle: bool = False,
                   timeout: float | None = None, max_concurrency: int | None = None,
                   checkpoint_strategy: Any = "every_cycle", on_complete: Any = None, hooks: dict[Any, Any] | None = None,
                   executor: str = "thread", store_retry_s: float | None = None) -> dict[Any, Any]:
        """Start one workflow per ``(workflow_id, input)`` item, all from the same definition,
        in one request (``input`` None: start without an input). With ``await_idle=True``
        return once all of them have settled. Returns ``{workflow_id: host}``; ids that could
        not be started raise :class:`~runic.runner.errors.RunnerError` listing them (the others
        are started)."""
        check_workflow(workflow)
        options = check_options(max_concurrency=max_concurrency, checkpoint_strategy=checkpoint_strategy,
                                executor=executor, store_retry_s=store_retry_s)
        callbacks = check_callbacks(on_complete, hooks)
        packed = []
        for wid, x in items:
            check_id(wid)
            if x is not None:
                check_input(x, f"input of {wid!r}")
            packed.append((wid, pack_for_host(x, f"input of {wid!r}")))
        deadline = None if timeout is None else time.monotonic() + timeout
        msg = StartMany(pack_for_host(workflow, "workflow"), packed, options, pack_for_host(callbacks, "callbacks"),
                        trace=trace_carrier())
        reply = self._ask(msg, ManyStarted, timeout)
        started: dict[Any, Any] = reply.started
        for wid, host in started.items():
            self._remember(wid, host)
        if await_idle and started:  # a separate wait: the start's reply never waits for the work
            self.await_many(list(started), None if deadline is None else max(0.001, deadline - time.monotonic()))
        if reply.errors:
            raise _batch_error("start", reply.errors, started)
        return started

    def await_many(self, workflow_ids: Iterable[Any], timeout: float | None = None) -> dict[Any, Any]:
        """Block until every listed workflow has settled; returns ``{workflow_id: status}``
        (``"failed"`` workflows are reported, not raised). Like :meth:`await_idle`, it never
        waits for ever on a workflow that cannot progress."""
        ids = [check_id(w) for w in workflow_ids]
        deadline = None if timeout is None else time.monotonic() + timeout
        stash = replies.stash_of(self.system)
        statuses: dict[Any, Any] = {}
        pending = list(dict.fromkeys(ids))
        armed: dict[Any, Any] = {}
        msg = AwaitMany(pending)
        self._send(msg)
        while pending:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                stash.forget(msg.ref)
                raise RunnerTimeoutError(f"{len(pending)} of {len(ids)} workflows did not settle within "
                                         f"{timeout:g} s (first: {pending[0]!r})")
            reply = self._receive(msg.ref, PROBE_S if left is None else min(PROBE_S, left))
            if reply is not None:
                reply = self._raise_for(reply)
                statuses.update(reply.statuses)
                if reply.errors:
                    raise _batch_error("await", reply.errors, statuses)
                for wid in [w for w in pending if w not in statuses]:  # being started or resumed
                    left = None if deadline is None else max(0.001, deadline - time.monotonic())
                    statuses[wid] = self._settle(wid, AwaitIdle(wid), left, raise_on_failure=False)
                break
            states = self._call(Probe(pending), self.timeout).states
            rearm = False
            for wid in list(pending):
                state, pid = states[wid][0], states[wid][1]
                if state == "gone":  # ended or lost: its stored status (or the reason) answers
                    statuses[wid] = self._settle(wid, AwaitIdle(wid), None, raise_on_failure=False)
                    pending.remove(wid)
                    rearm = True
                elif state == "starting" or (wid in armed and pid != armed[wid]):
                    rearm = True
                    armed[wid] = None if state == "starting" else pid
                else:
                    armed.setdefault(wid, pid)
            if rearm and pending:
                stash.forget(msg.ref)
                msg = AwaitMany(pending)
                self._send(msg)
        return {wid: statuses[wid] for wid in ids}

    def run(self, workflow_id: Any, input: Any, run_context: dict[Any, Any] | None = None,  # noqa: A002
            scheduler_policies: list[Any] | None = None, *, await_idle: bool = False,
            timeout: float | None = None, raise_on_failure: bool = True) -> str | None:
        """Feed an input; returns once the input is durable in the store (work goes on).

        ``await_idle=True``: return the status once the workflow has settled instead (one
        request instead of ``run`` + ``await_idle``)."""
        msg = self._run_request(workflow_id, input, run_context, scheduler_policies, await_idle)
        if not await_idle:
            reply = self._data(msg, timeout)
            assert isinstance(reply, Accepted)
            return None
        return self._settle(msg.workflow_id, msg, timeout, raise_on_failure)

    def _run_request(self, workflow_id: Any, input: Any, run_context: dict[str, Any] | None,  # noqa: A002
                     scheduler_policies: list[Any] | None, await_idle: bool = True) -> Run:
        """The ``Run`` request for an input, checked at the door (see :mod:`runic.runner.door`)."""
        wid = check_id(workflow_id)
        check_input(input)
        policies = check_policies(scheduler_policies)
        return Run(wid, pack_for_host(input, "input"), pack_for_host(run_context, "run context"),
                   pack_for_host(policies, "scheduler policies"), await_idle, trace=trace_carrier())

    def settled(self, workflow_id: Any, timeout: float | None = None) -> Future[str]:
        """A :class:`concurrent.futures.Future` of the workflow's status once it settles (as
        :meth:`await_idle` would return or raise), completed by a thread of this process: what
        wakes your code when a workflow finishes (``on_complete`` runs in the worker host, not
        here). With asyncio, ``await AsyncRunner.await_idle(id)`` instead."""
        wid = check_id(workflow_id)
        return _SETTLED.submit(self.await_idle, wid, timeout)

    def await_idle(self, workflow_id: Any, timeout: float | None = None, raise_on_failure: bool = True) -> str:
        """Block until the workflow has nothing left to do; returns its status.

        A workflow that settled as ``failed`` raises :class:`~runic.runner.WorkflowFailedError`
        (``raise_on_failure=False``: returns ``"failed"``). Never waits for ever on a workflow
        that cannot progress: see :meth:`_settle`."""
        wid = check_id(workflow_id)
        return self._settle(wid, AwaitIdle(wid), timeout, raise_on_failure)

    def status(self, workflow_id: Any) -> str:
        """``running``, ``idle``, ``failed``, ``stopped`` or ``cancelled``: the live Worker's
        status, else the one recorded in the store."""
        reply = self._data(GetStatus(check_id(workflow_id)))
        assert isinstance(reply, StatusReply)
        return reply.status

    def failures(self, workflow_id: Any) -> list[Any]:
        """The failure records (:class:`runic.Failure`) of the workflow, oldest first: every
        failed attempt, retried ones too (live Worker, else read from the store)."""
        reply = self._data(GetFailures(check_id(workflow_id)))
        assert isinstance(reply, FailureList)
        return reply.failures

    def get_results(self, workflow_id: Any, components: list[Any] | None = None, *, facts: bool = False,
                    all: bool = False) -> Any:  # noqa: A002
        """Raw productions (a list), or ``results(components, facts=, all=)`` (a dict)."""
        reply = self._data(GetResults(check_id(workflow_id), components, facts, all))
        return unpack(reply.value_blob)

    def get_workflow(self, workflow_id: Any) -> Any:
        """A copy of the workflow value (as the Worker holds it now, else rebuilt from the store)."""
        return unpack(self._data(GetWorkflow(check_id(workflow_id))).workflow_blob)

    def checkpoint(self, workflow_id: Any) -> None:
        """Persist now, whatever the checkpoint strategy."""
        self._data(Checkpoint(check_id(workflow_id)))

    def stop(self, workflow_id: Any, persist: bool = True) -> None:
        """Stop the Worker (persisting first unless ``persist=False``); status ``stopped``,
        resumable. In-flight process attempts are killed either way."""
        wid = check_id(workflow_id)
        self._call(StopWorkflow(wid, persist))
        self._endpoints.pop(wid, None)

    def cancel(self, workflow_id: Any) -> None:
        """Cancel: in-flight ``process`` attempts are killed, thread attempts abandoned (their
        results discarded), nothing more runs; status ``cancelled`` (not resumed later)."""
        wid = check_id(workflow_id)
        self._call(CancelWorkflow(wid))
        self._endpoints.pop(wid, None)

    def resume(self, workflow_id: Any, rehydration: str = "full", functions: Any = None, *,
               run_context: dict[Any, Any] | None = None, scheduler_policies: list[Any] | None = None,
               max_concurrency: int | None = None, checkpoint_strategy: Any = None, on_complete: Any = None,
               hooks: dict[Any, Any] | None = None, executor: str | None = None, dedicated: bool = False,
               store_retry_s: float | None = None) -> str:
        """Rebuild a workflow from the store and run its unfinished work; returns its host.

        ``rehydration``: ``"full"`` (every value loaded), ``"hybrid"`` (only what is needed to
        continue), ``"lazy"`` (values loaded when work needs them). ``run_context`` and
        ``scheduler_policies`` are applied before any recovered work runs. Options default to
        those the workflow was started with."""
        wid = check_id(workflow_id)
        if rehydration not in ("full", "hybrid", "lazy"):
            raise ArgumentError('rehydration must be "full", "hybrid" or "lazy"')
        options = None
        if any(v is not None for v in (max_concurrency, checkpoint_strategy, executor, store_retry_s)):
            options = check_options(max_concurrency=max_concurrency,
                                    checkpoint_strategy=checkpoint_strategy or "every_cycle",
                                    executor=executor or "thread", store_retry_s=store_retry_s)
        callbacks = check_callbacks(on_complete, hooks)
        policies = check_policies(scheduler_policies)
        msg = ResumeWorkflow(wid, rehydration, pack_for_host(functions, "functions"), options,
                             pack_for_host(callbacks, "callbacks"), bool(dedicated),
                             pack_for_host(run_context, "run context"), pack_for_host(policies, "scheduler policies"))
        host = self._ask(msg, WorkflowStarted).host
        self._remember(wid, host)
        return host

    def nodes(self) -> list[dict[Any, Any]]:
        """Every node of the cluster on this store, dead ones too: ``{"node", "generation",
        "alive", "lease_expires_at", "workflows"}`` (``workflows``: the running ids it owns)."""
        return self._ask(GetNodes(), NodeList).nodes

    def list_workflows(self) -> list[Any]:
        """Ids of the running Workers."""
        return self._ask(ListWorkflows(), WorkflowList).ids

    def lookup(self, workflow_id: Any) -> Location | None:
        """Where the workflow runs (host, address, pid), or ``None``."""
        loc = self._call(Lookup(workflow_id))
        return loc if loc.host is not None else None

    def worker_state(self, workflow_id: Any) -> dict[Any, Any]:
        """A snapshot of the Worker's state (status, in-flight work, executor, hooks ...)."""
        reply = self._data(WorkerState(workflow_id))
        assert isinstance(reply, WorkerStateReply)
        return reply.state

    def stored(self, workflow_id: Any) -> StoreAnswer:
        """What the store holds for ``workflow_id`` (exists, cursor, status, owner)."""
        return self._ask(StoreQuery(workflow_id), StoreAnswer)

    def tree(self) -> list[dict[Any, Any]]:
        """The live tree: one dict per actor (``id``, ``role``, ``pid``, ``restarts``, and for
        hosts ``workflows``)."""
        entries: list[dict[Any, Any]] = []
        if self.supervisor is not None:
            entries.append({"id": self.supervisor.name, "role": "supervisor", "pid": self.supervisor.pid,
                            "restarts": None})
            for info in self.supervisor.which_children():
                role = "store" if info.id.endswith(".Store") else "runner" if info.id == f"{self.name}.Runner" else "child"
                if role == "runner":
                    continue
                entries.append({"id": info.id, "role": role, "pid": info.pid, "restarts": info.restarts})
        runner_entries: list[dict[str, Any]] = self._ask(GetTree(), Tree).entries
        if self.supervisor is not None:
            for info in self.supervisor.which_children():
                if info.id == f"{self.name}.Runner":
                    runner_entries[0]["restarts"] = info.restarts
        return entries + runner_entries

    def pids(self) -> list[int]:
        """Every live process of the Runner's tree."""
        return self.supervisor.pids() if self.supervisor is not None else []

    def shutdown(self) -> None:
        """Stop the tree (workers persist first). Running workflows keep status ``running``
        and are resumed by the next Runner started on the same store."""
        if self._closed:
            return
        self._closed = True
        _LIVE.discard(self)
        self._channels.close()
        if self._owns_tree and self.supervisor is not None:
            self.supervisor.stop()

    def __enter__(self) -> "Runner":
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()


def _host_restarting(reply: Any) -> bool:
    return isinstance(reply, ErrorReply) and reply.type == "runic.runner.errors.RunnerBusyError"


def _default_node_name(runner_name: str) -> str:
    """``"<host name>-<pid>"``, with a suffix for a further live Runner of the same name here."""
    base = default_node(os.getpid())
    taken = {r.node for r in _LIVE if r.name == runner_name and not r._closed}
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


def _batch_error(what: str, errors: dict[Any, Any], done: dict[Any, Any]) -> Exception:
    """One exception for a batch: the class of the first error, its message counting them all;
    ``.errors`` maps each failed id to ``(type, message, attrs)``, ``.done`` the others."""
    wid, (type_name, message, *rest) = next(iter(errors.items()))
    err = error_for(type_name, f"{len(errors)} of {len(errors) + len(done)} workflows failed to {what} "
                               f"(first: {wid!r}: {message})", rest[0] if rest else None)
    err.errors = errors  # type: ignore[attr-defined]
    err.done = done  # type: ignore[attr-defined]
    return err




_LIVE: "weakref.WeakSet[Runner]" = weakref.WeakSet()
_SETTLED = ThreadPoolExecutor(max_workers=64, thread_name_prefix="runic-settled")
"""The threads that complete :meth:`Runner.settled` futures (each waits on the direct channel)."""


@atexit.register
def _shutdown_all() -> None:  # pragma: no cover - interpreter exit
    for r in list(_LIVE):
        try:
            r.shutdown()
        except Exception:  # noqa: BLE001
            pass
