"""``SupervisorActor``: an OTP supervisor as a thespian actor.

It is itself a :class:`~runic.supervisor.ChildActor`, so supervisors nest: a child spec of
``type="supervisor"`` whose start is ``(SupervisorActor, {"children": [...], ...})``.

Options (the ``opts`` of its start): ``children`` (ChildSpecs or ``(class, opts)``),
``strategy`` (``one_for_one`` | ``one_for_all`` | ``rest_for_one``), ``max_restarts`` (3),
``max_seconds`` (5), ``name`` (for logs), ``start_timeout`` (seconds a worker may take to
answer its start, 30; supervisors have no start timeout, as they time out their own children).

Every decision follows OTP: children start in list order, each start must succeed before the
next begins (a failed initial start stops the started ones in reverse order and fails the
supervisor's own start); children stop in reverse order, each given its ``shutdown`` time
before SIGKILL; an exited child is restarted according to its restart type and the strategy
(:mod:`runic.supervisor.strategy`); more restarts than ``max_restarts`` within
``max_seconds`` (:mod:`runic.supervisor.intensity`) make the supervisor stop all children
and exit abnormally, which its own supervisor sees as a crash.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from dataclasses import dataclass, field
from typing import Any

from thespian.actors import ActorExitRequest, ChildActorExited, WakeupMessage

from ..actors import procs
from .child import ChildActor
from .errors import (
    ChildAlreadyPresentError,
    ChildNotFoundError,
    ChildRunningError,
    ChildStartError,
    InvalidChildSpecError,
    SupervisorError,
    SupervisorNotRunningError,
    SupervisorStartError,
)
from .intensity import RestartIntensity
from .messages import (
    ChildCounts,
    ChildCrashed,
    ChildExiting,
    ChildInfo,
    ChildInit,
    ChildReady,
    Children,
    ChildShutdown,
    ChildStarted,
    CountChildren,
    DeleteChild,
    Done,
    ErrorReply,
    ExitAck,
    RestartChild,
    StartChild,
    StopSupervisor,
    TerminateChild,
    WhichChildren,
)
from .spec import ChildSpec, shutdown_timeout, to_child_spec
from .strategy import check_strategy, plan_restart, should_restart
from .waits import NOTHING, Op, OpRunner, Wait

__all__ = ["SupervisorActor"]

log = logging.getLogger(__name__)

_TIMEOUT = "runic.supervisor:timeout"
KILL_WAIT_SECONDS = 5.0
#: while waiting for a child to exit, how often its pid is checked too: thespian's
#: ChildActorExited is occasionally not delivered (or not matched) for a child SIGKILLed right
#: after a sibling exited, which used to stall a stop for the whole wait
EXIT_POLL_SECONDS = 0.05


@dataclass
class _Child:
    """The supervisor's record of one child."""

    spec: ChildSpec
    state: str = "stopped"  # starting | running | stopping | stopped
    address: Any = None  # as returned by createActor (matches ChildActorExited)
    real_address: Any = None  # the sender of ChildReady (what others should use)
    pid: int | None = None
    info: dict | None = None
    restarts: int = 0
    gen: int = 0  # incremented at every start; stale exit events carry an old value
    notice: str | None = None  # exit reason the child announced before exiting
    last_exit: str | None = None
    extra: dict = field(default_factory=dict)

    def matches(self, address: Any) -> bool:
        if address is None or self.state == "stopped":
            return False
        return address == self.address or (self.real_address is not None and address == self.real_address)


class SupervisorActor(ChildActor):
    """A supervisor. Send it the requests of :mod:`runic.supervisor.messages`."""

    child_type = "supervisor"
    shutdown = "infinity"

    @classmethod
    def child_spec(cls, opts: dict) -> ChildSpec:
        return ChildSpec(
            id=str(opts.get("id") or opts.get("name") or "supervisor"),
            start=(cls, opts),
            restart=opts.get("restart", cls.restart),
            shutdown=opts.get("shutdown", "infinity"),
            type="supervisor",
        )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._children: dict[str, _Child] = {}
        self._strategy = "one_for_one"
        self._intensity: RestartIntensity | None = None
        self._name = "supervisor"
        self._start_timeout: float = 30.0
        self._shutting_down = False
        self._ops = OpRunner(self._make_op, self._check_wait, self._arm_timer)

    # -- start ----------------------------------------------------------------------------------

    def _begin_start(self, opts: dict) -> None:
        opts = self.prepare_start(opts)
        self._name = str(opts.get("name") or self.child_id or "supervisor")
        self._strategy = check_strategy(opts.get("strategy", "one_for_one"))
        self._intensity = RestartIntensity(opts.get("max_restarts", 3), opts.get("max_seconds", 5))
        self._start_timeout = float(opts.get("start_timeout", 30.0))
        for child in opts.get("children") or []:
            spec = to_child_spec(child)
            if spec.id in self._children:
                raise InvalidChildSpecError(
                    f"supervisor {self._name!r}: two children have the id {spec.id!r}; ids must be unique"
                )
            self._children[spec.id] = _Child(spec)
        self._ops.enqueue(("init",))

    def _op_init(self) -> Op:
        for cid in list(self._children):
            ok, err = yield from self._start_one(cid)
            if not ok:
                self._shutting_down = True
                yield from self._stop_all("shutdown")
                self._fail_start(
                    SupervisorStartError(
                        f"supervisor {self._name!r} did not start: child {cid!r} failed to start "
                        f"({err}); fix that child, then start the supervisor again"
                    )
                )
                return
        self._start_done({"name": self._name, "strategy": self._strategy, "children": list(self._children)})
        self._hook("on_children_started")

    # -- hooks for subclasses (each runs on the actor's thread, inside a handler) --------------------

    def prepare_start(self, opts: dict) -> dict:
        """Called once per (re)start, before the options are read: return them, possibly changed
        (e.g. children specs completed with what only the started actor knows). Raise to fail
        the start."""
        return opts

    def on_children_started(self) -> None:
        """Called once, after the initial start of every child has succeeded."""

    def on_child_started(self, child_id: str) -> None:
        """Called after each successful start of a child: initial, restart or ``start_child``."""

    def child_address(self, child_id: str) -> Any:
        """The address of a running child (``None`` when it is not running)."""
        c = self._children.get(child_id)
        if c is None or c.state != "running":
            return None
        return c.real_address or c.address

    def child_ids(self) -> list[str]:
        """The ids of the children, in start order."""
        return list(self._children)

    @property
    def shutting_down(self) -> bool:
        """True once the supervisor is stopping (no child is restarted any more)."""
        return self._shutting_down

    def child_record(self, child_id: str) -> Any:
        """The supervisor's record of a child (``state``, ``pid``, ``restarts`` ...), or None."""
        return self._children.get(child_id)

    def _hook(self, name: str, *args: Any) -> None:
        try:
            getattr(self, name)(*args)
        except Exception:  # noqa: BLE001 - a subclass hook must not break supervision
            log.exception("supervisor %r: %s hook raised", self._name, name)

    # -- the operation machinery ------------------------------------------------------------------

    def _arm_timer(self, seconds: float, token: int) -> None:
        self.wakeupAfter(max(seconds, 0.0), (_TIMEOUT, token))

    def _check_wait(self, wait: Wait) -> Any:
        c = self._children.get(wait.child_id)
        if wait.kind == "exit" and (c is None or c.state == "stopped"):
            return ("exited", c.last_exit if c else None)
        return NOTHING

    def _make_op(self, job: tuple) -> Op | None:
        kind = job[0]
        if kind == "init":
            return self._op_init()
        if kind == "exited":
            return self._op_exited(job[1], job[2], job[3])
        if kind == "retry":
            return self._op_restart(job[1])
        if kind == "stop":
            return self._op_stop(job[1], job[2], job[3])
        if kind == "request":
            return self._op_request(job[1], job[2])
        raise SupervisorError(f"internal: unknown supervisor job {job!r}")  # pragma: no cover

    def _waiting_on(self, cid: str, kind: str) -> bool:
        w = self._ops.wait
        return w is not None and w.child_id == cid and w.kind == kind

    # -- child lifecycle steps (generators) --------------------------------------------------------

    def _start_one(self, cid: str) -> Op:
        """Start child ``cid``; returns ``(ok, error_text)`` once it is up or has failed."""
        c = self._children[cid]
        try:
            cls = c.spec.actor_class()
            if not (isinstance(cls, type) and issubclass(cls, ChildActor)):
                raise InvalidChildSpecError(
                    f"child {cid!r}: {cls!r} is not a runic.supervisor.ChildActor subclass; "
                    "supervised actors must derive from ChildActor"
                )
        except Exception as exc:  # noqa: BLE001 - a start failure, reported to the caller
            return False, f"{type(exc).__name__}: {exc}"
        c.gen += 1
        c.state = "starting"
        c.notice = None
        c.pid = None
        c.info = None
        c.real_address = None
        c.address = self.createActor(cls)
        self.send(c.address, ChildInit(cid, c.spec.opts, self.myAddress, os.getpid()))
        timeout = None if c.spec.type == "supervisor" else self._start_timeout
        res = yield Wait("start", cid, timeout)
        if res[0] == "ready":
            msg, sender = res[1], res[2]
            c.state = "running"
            c.pid = msg.pid
            c.info = msg.info
            c.real_address = sender
            log.debug("supervisor %r: child %r started (pid %s)", self._name, cid, c.pid)
            self._hook("on_child_started", cid)
            return True, None
        if res[0] == "exited":
            err = f"it exited during its start ({res[1]})"
        elif res[0] == "error":
            err = res[1]
        else:
            err = f"it did not answer its start within {timeout} s"
        if c.state != "stopped":  # failed but still alive (or exiting): make sure it is gone
            self._kill(c)
            yield from self._await_exit(c, cid, KILL_WAIT_SECONDS, "start_failed")
            self._mark_stopped(c, "start_failed")
        c.last_exit = f"start_failed: {err}"
        log.error("supervisor %r: child %r failed to start: %s", self._name, cid, err)
        return False, err

    def _stop_one(self, cid: str, reason: str) -> Op:
        """Stop child ``cid`` honouring its shutdown; returns once it has exited."""
        c = self._children.get(cid)
        if c is None or c.state == "stopped":
            return
        c.state = "stopping"
        timeout = shutdown_timeout(c.spec)
        if timeout == 0.0:
            self._kill(c)
            exited = yield from self._await_exit(c, cid, KILL_WAIT_SECONDS, "killed")
        else:
            self.send(c.address, ChildShutdown(reason))
            exited = yield from self._await_exit(c, cid, timeout, "shutdown")
            if not exited:
                log.warning(
                    "supervisor %r: child %r did not stop within its shutdown of %s s; killing pid %s",
                    self._name, cid, c.spec.shutdown, c.pid,
                )
                self._kill(c)
                exited = yield from self._await_exit(c, cid, KILL_WAIT_SECONDS, "killed")
        if not exited:
            if procs.is_alive(c.pid):
                log.error("supervisor %r: child %r (pid %s) survived SIGKILL", self._name, cid, c.pid)
            self._mark_stopped(c, "killed")

    def _await_exit(self, c: _Child, cid: str, timeout: float | None, reason: str) -> Op:
        """Wait until child ``c`` exits (its ChildActorExited, or its pid found dead); True if it did.

        ``reason`` is recorded when the exit is noticed through the pid rather than thespian.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            res = yield Wait("exit", cid, EXIT_POLL_SECONDS if left is None else min(EXIT_POLL_SECONDS, left))
            if res[0] != "timeout" or c.state == "stopped":
                return True
            if c.pid and not procs.is_alive(c.pid):
                self._mark_stopped(c, c.notice or reason)
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False

    def _stop_all(self, reason: str) -> Op:
        for cid in reversed(list(self._children)):
            yield from self._stop_one(cid, reason)

    def _kill(self, c: _Child) -> None:
        pid = c.pid or self._pid_of(c.address)
        if pid:
            try:
                os.kill(pid, signal.SIGKILL)
                return
            except OSError:
                pass
        if c.address is not None:
            self.send(c.address, ActorExitRequest())

    def _pid_of(self, address: Any) -> int | None:
        """The pid of a child still starting (thespian knows it from the fork)."""
        mgr = getattr(self, "_myRef", None)
        for info in list(getattr(mgr, "_child_procs", None) or []):
            if getattr(info, "childAddr", None) == address:
                return getattr(getattr(info, "childProc", None), "pid", None)
        return None

    def _mark_stopped(self, c: _Child, reason: str) -> None:
        c.state = "stopped"
        c.pid = None
        c.address = None
        c.real_address = None
        c.last_exit = reason

    # -- restart decisions --------------------------------------------------------------------------

    def _op_exited(self, cid: str, reason: str, gen: int) -> Op | None:
        c = self._children.get(cid)
        if c is None or c.gen != gen or c.state != "stopped" or self._shutting_down:
            return None  # stale: restarted or removed since
        if c.spec.restart == "temporary":
            del self._children[cid]
            log.info("supervisor %r: temporary child %r exited (%s); removed", self._name, cid, reason)
            return None
        if not should_restart(c.spec.restart, reason):
            log.info("supervisor %r: %s child %r exited (%s); not restarted", self._name, c.spec.restart, cid, reason)
            return None
        return self._op_restart(cid)

    def _op_restart(self, cid: str) -> Op:
        if cid not in self._children or self._shutting_down:
            return
        assert self._intensity is not None
        if not self._intensity.add():
            yield from self._give_up(cid)
            return
        running = [k for k, v in self._children.items() if v.state != "stopped"]
        temporary = [k for k, v in self._children.items() if v.spec.restart == "temporary"]
        plan = plan_restart(self._strategy, list(self._children), cid, running, temporary)
        log.warning(
            "supervisor %r: restarting %s after child %r exited (%s, strategy %s)",
            self._name, list(plan.start), cid, self._children[cid].last_exit, self._strategy,
        )
        for sid in plan.stop:
            yield from self._stop_one(sid, "shutdown")
        for sid in plan.drop:
            self._children.pop(sid, None)
        for sid in plan.start:
            c = self._children.get(sid)
            if c is None or c.state != "stopped":
                continue
            c.restarts += 1
            ok, _err = yield from self._start_one(sid)
            if not ok:  # as OTP: try again, which counts as another restart
                self._ops.enqueue(("retry", sid), front=True)
                return

    def _give_up(self, cid: str) -> Op:
        assert self._intensity is not None
        text = (
            f"supervisor {self._name!r} reached its restart intensity (more than "
            f"{self._intensity.max_restarts} restarts in {self._intensity.max_seconds:g} s, "
            f"last: child {cid!r}, {self._children[cid].last_exit}); stopping all children and exiting"
        )
        log.error("%s", text)
        self._shutting_down = True
        self._reject_queued("it gave up after too many restarts")
        yield from self._stop_all("shutdown")
        if self.supervisor_address is not None:
            self.send(self.supervisor_address, ChildCrashed(self.child_id or "", "RestartIntensityExceeded", text))
        self._die(1)

    # -- stopping the supervisor itself -------------------------------------------------------------

    def _begin_stop(self, reason: str) -> None:
        if self._shutting_down:
            return
        self._shutting_down = True
        self._reject_queued("it is shutting down")
        self._ops.enqueue(("stop", reason, None, None), front=True)

    def _op_stop(self, reason: str, reply_to: Any, ref: Any) -> Op:
        yield from self._stop_all(reason)
        if reply_to is not None:
            self.send(reply_to, Done(ref))
        self._finish_stop(reason)

    def _on_exit_request(self, msg: ActorExitRequest, sender: Any) -> None:
        self._shutting_down = True  # thespian stops the children; never restart them now
        super()._on_exit_request(msg, sender)

    def _reject_queued(self, why: str) -> None:
        for job in self._ops.drain_queue():
            if job[0] == "request":
                _msg, sender = job[1], job[2]
                self.send(sender, self._error(SupervisorNotRunningError(
                    f"supervisor {self._name!r} cannot serve {type(_msg).__name__}: {why}"), _msg))

    # -- events from children ------------------------------------------------------------------------

    def _child_by_address(self, address: Any) -> _Child | None:
        for c in self._children.values():
            if c.matches(address):
                return c
        return None

    def receiveMsg_ChildReady(self, msg: ChildReady, sender: Any) -> None:  # noqa: N802
        c = self._children.get(msg.child_id)
        if c is not None and c.state == "starting" and self._waiting_on(c.spec.id, "start"):
            self._ops.resume(("ready", msg, sender))

    def receiveMsg_ErrorReply(self, msg: ErrorReply, sender: Any) -> None:  # noqa: N802
        c = self._child_by_address(sender)
        if c is not None and c.state == "starting" and self._waiting_on(c.spec.id, "start"):
            self._ops.resume(("error", f"{msg.type}: {msg.message}"))
        else:
            log.debug("supervisor %r: unexpected error reply from %s: %s", self._name, sender, msg)

    def receiveMsg_ChildExiting(self, msg: ChildExiting, sender: Any) -> None:  # noqa: N802
        c = self._child_by_address(sender) or self._children.get(msg.child_id)
        if c is not None and c.state != "stopped":
            c.notice = msg.reason
        if msg.reason == "normal":
            self.send(sender, ExitAck(msg.child_id))

    def receiveMsg_ChildCrashed(self, msg: ChildCrashed, sender: Any) -> None:  # noqa: N802
        c = self._child_by_address(sender) or self._children.get(msg.child_id)
        if c is not None and c.state != "stopped":
            c.notice = f"crash: {msg.type}: {msg.message}"

    def receiveMsg_ChildActorExited(self, msg: ChildActorExited, sender: Any) -> None:  # noqa: N802
        c = self._child_by_address(msg.childAddress)
        if c is None:
            return  # thespian reports each exit twice; or not one of ours
        self._child_exited(c)

    def _orphan_tick(self, msg: Any, sender: Any) -> None:
        super()._orphan_tick(msg, sender)
        if self._exiting:
            return
        for c in list(self._children.values()):  # an exit thespian did not report
            if c.state == "running" and c.pid and not procs.is_alive(c.pid) and not self._ops.busy:
                log.debug("supervisor %r: child %r (pid %s) is gone without an exit notice",
                          self._name, c.spec.id, c.pid)
                self._child_exited(c)

    def _child_exited(self, c: _Child) -> None:
        if c.state == "stopping":
            reason = "shutdown"
        elif c.state == "starting":
            reason = c.notice or "died during start"
        else:
            reason = c.notice or "killed"
        pid = c.pid
        self._mark_stopped(c, reason)
        if self._waiting_on(c.spec.id, "exit") or self._waiting_on(c.spec.id, "start"):
            self._ops.resume(("exited", reason))
            return
        if self._shutting_down:
            return
        log.warning("supervisor %r: child %r (pid %s) exited: %s", self._name, c.spec.id, pid, reason)
        self._ops.enqueue(("exited", c.spec.id, reason, c.gen))

    def receiveMsg_WakeupMessage(self, msg: WakeupMessage, sender: Any) -> Any:  # noqa: N802
        payload = msg.payload
        if isinstance(payload, tuple) and len(payload) == 2 and payload[0] == _TIMEOUT:
            self._ops.timeout(payload[1])
            return None
        return self.SUPER

    # -- the supervisor API ---------------------------------------------------------------------------

    def _error(self, exc: BaseException, request: Any) -> ErrorReply:
        return ErrorReply.from_exception(exc, getattr(request, "ref", None))

    def receiveMsg_WhichChildren(self, msg: WhichChildren, sender: Any) -> None:  # noqa: N802
        self.send(sender, Children([self._info_of(c) for c in self._children.values()], msg.ref))

    def receiveMsg_CountChildren(self, msg: CountChildren, sender: Any) -> None:  # noqa: N802
        specs = list(self._children.values())
        self.send(
            sender,
            ChildCounts(
                specs=len(specs),
                active=sum(1 for c in specs if c.state == "running"),
                supervisors=sum(1 for c in specs if c.spec.type == "supervisor"),
                workers=sum(1 for c in specs if c.spec.type == "worker"),
                ref=msg.ref,
            ),
        )

    def _info_of(self, c: _Child) -> ChildInfo:
        return ChildInfo(
            id=c.spec.id,
            pid=c.pid if c.state in ("running", "stopping") else None,
            type=c.spec.type,
            restarts=c.restarts,
            address=c.real_address if c.state in ("running", "stopping") else None,
            info=c.info,
            restart=c.spec.restart,
            status=c.state,
            last_exit=c.last_exit,
        )

    def _queue_request(self, msg: Any, sender: Any) -> None:
        if self._shutting_down:
            self.send(sender, self._error(SupervisorNotRunningError(
                f"supervisor {self._name!r} is shutting down; it cannot serve {type(msg).__name__}"), msg))
            return
        self._ops.enqueue(("request", msg, sender))

    receiveMsg_StartChild = _queue_request  # noqa: N815
    receiveMsg_RestartChild = _queue_request  # noqa: N815
    receiveMsg_TerminateChild = _queue_request  # noqa: N815
    receiveMsg_DeleteChild = _queue_request  # noqa: N815

    def receiveMsg_StopSupervisor(self, msg: StopSupervisor, sender: Any) -> None:  # noqa: N802
        if self._shutting_down:
            self.send(sender, self._error(SupervisorNotRunningError(
                f"supervisor {self._name!r} is already shutting down"), msg))
            return
        self._shutting_down = True
        self._stop_reason = msg.reason
        self._reject_queued("it is shutting down")
        self._ops.enqueue(("stop", msg.reason, sender, msg.ref), front=True)

    def _op_request(self, msg: Any, sender: Any) -> Op:
        try:
            if isinstance(msg, StartChild):
                reply = yield from self._do_start_child(msg)
            elif isinstance(msg, RestartChild):
                reply = yield from self._do_restart_child(msg)
            elif isinstance(msg, TerminateChild):
                c = self._get(msg.id)
                yield from self._stop_one(msg.id, "shutdown")
                if c.spec.restart == "temporary":
                    self._children.pop(msg.id, None)
                reply = Done(msg.ref)
            elif isinstance(msg, DeleteChild):
                c = self._get(msg.id)
                if c.state != "stopped":
                    raise ChildRunningError(
                        f"child {msg.id!r} of supervisor {self._name!r} is running; "
                        "terminate_child it first, then delete_child"
                    )
                del self._children[msg.id]
                reply = Done(msg.ref)
            else:  # pragma: no cover - only the four types above are queued
                raise SupervisorError(f"unknown request {msg!r}")
        except SupervisorError as exc:
            reply = self._error(exc, msg)
        self.send(sender, reply)

    def _get(self, cid: str) -> _Child:
        c = self._children.get(cid)
        if c is None:
            raise ChildNotFoundError(
                f"supervisor {self._name!r} has no child {cid!r}; "
                f"its children are {list(self._children)!r} (see which_children())"
            )
        return c

    def _do_start_child(self, msg: StartChild) -> Op:
        try:
            spec = to_child_spec(msg.spec)
        except SupervisorError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise InvalidChildSpecError(f"bad child spec {msg.spec!r}: {exc}") from exc
        if spec.id in self._children:
            state = self._children[spec.id].state
            raise ChildAlreadyPresentError(
                f"supervisor {self._name!r} already has a child {spec.id!r} ({state}); "
                "use another id, or delete_child it first"
            )
        self._children[spec.id] = _Child(spec)
        ok, err = yield from self._start_one(spec.id)
        if not ok:
            self._children.pop(spec.id, None)
            raise ChildStartError(f"child {spec.id!r} failed to start under supervisor {self._name!r}: {err}")
        return self._started_reply(spec.id, msg.ref)

    def _do_restart_child(self, msg: RestartChild) -> Op:
        c = self._get(msg.id)
        if c.state != "stopped":
            raise ChildRunningError(
                f"child {msg.id!r} of supervisor {self._name!r} is already {c.state}; "
                "terminate_child it first to restart it"
            )
        ok, err = yield from self._start_one(msg.id)
        if not ok:
            raise ChildStartError(f"child {msg.id!r} failed to restart under supervisor {self._name!r}: {err}")
        return self._started_reply(msg.id, msg.ref)

    def _started_reply(self, cid: str, ref: Any) -> ChildStarted:
        c = self._children[cid]
        return ChildStarted(cid, c.real_address, c.pid or 0, c.info, ref)
