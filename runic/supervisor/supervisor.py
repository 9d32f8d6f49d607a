"""``Supervisor``: the driver-side handle of a supervision tree.

``Supervisor.start_link(children, ...)`` starts a :class:`~runic.supervisor.actor.SupervisorActor`
as a top-level actor of an actor system (the process-wide :func:`runic.actors.default_system`
unless ``system=`` is given), waits until every child has started, and returns a handle whose
methods send the messages of :mod:`runic.supervisor.messages` and wait for the replies.

*Link*: the supervisor polls the pid of the process that called ``start_link`` and stops its
whole tree when that process is gone. The handle is also a context manager, and the actor
system's shutdown (``atexit`` included) stops every tree started on it first, in order.
"""

from __future__ import annotations

import logging
import os
import signal
import uuid
from typing import Any, Callable, Iterable

from ..actors import ActorSystemHandle, default_system, procs
from ..actors.replies import request
from .actor import SupervisorActor
from .errors import (
    SupervisorNotRunningError,
    SupervisorStartError,
    SupervisorTimeoutError,
)
from .messages import (
    ChildCounts,
    ChildInfo,
    ChildInit,
    ChildReady,
    Children,
    ChildStarted,
    CountChildren,
    DeleteChild,
    Done,
    ErrorReply,
    RestartChild,
    StartChild,
    StopSupervisor,
    TerminateChild,
    WhichChildren,
)
from .spec import to_child_spec
from .strategy import check_strategy

__all__ = ["Supervisor"]

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 30.0
ALIVE_CHECK_SECONDS = 0.25


class Supervisor:
    """A handle on a running supervisor (top-level or nested), usable from any process.

    ``address`` is its thespian address, ``pid`` its process, ``system`` the
    :class:`~runic.actors.ActorSystemHandle` used to talk to it. Build one for a nested
    supervisor with ``Supervisor(system, info.address, info.pid)`` from a ``which_children()``
    entry.
    """

    def __init__(
        self,
        system: ActorSystemHandle,
        address: Any,
        pid: int | None,
        name: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.system = system
        self.address = address
        self.pid = pid
        self.name = name or "supervisor"
        self.timeout = timeout
        self._stopped = False

    def __repr__(self) -> str:
        return f"<Supervisor {self.name!r} pid={self.pid}>"

    # -- start ------------------------------------------------------------------------------

    @classmethod
    def start_link(
        cls,
        children: Iterable[Any],
        strategy: str = "one_for_one",
        max_restarts: int = 3,
        max_seconds: float = 5,
        system: ActorSystemHandle | None = None,
        name: str | None = None,
        *,
        start_timeout: float = 30.0,
        timeout: float = 120.0,
        link: bool = True,
    ) -> "Supervisor":
        """Start a supervisor with ``children`` (started in order) and return its handle.

        Raises :class:`SupervisorStartError` if a child fails to start (the children already
        started are stopped first). ``name`` labels the supervisor in logs and errors;
        ``link=False`` lets the tree outlive this process (until the actor system stops).
        """
        system = system if system is not None else default_system()
        specs = [to_child_spec(c) for c in children]  # fail fast, in the caller
        opts = {
            "children": specs,
            "strategy": check_strategy(strategy),
            "max_restarts": max_restarts,
            "max_seconds": max_seconds,
            "name": name or "supervisor",
            "start_timeout": start_timeout,
        }
        from .intensity import RestartIntensity

        RestartIntensity(max_restarts, max_seconds)  # validates
        address = system.create_actor(SupervisorActor)
        me = os.getpid()
        init = ChildInit(
            child_id=name or "supervisor",
            opts=opts,
            supervisor_address=None,
            supervisor_pid=None,
            link_pid=me if link else None,
            link_start_time=procs.start_time(me) if link else None,
            ref=uuid.uuid4().hex,
        )
        reply = _request(system, address, init, timeout)
        if isinstance(reply, ChildReady):
            sup = cls(system, address, reply.pid, name, timeout=DEFAULT_TIMEOUT)
            system.before_shutdown(sup._stop_at_shutdown)
            return sup
        try:
            system.tell(address, _exit_request())
        except Exception:  # noqa: BLE001
            pass
        if isinstance(reply, ErrorReply):
            raise SupervisorStartError(
                f"supervisor {name or 'supervisor'!r} failed to start: {reply.message}"
            )
        raise SupervisorTimeoutError(
            f"supervisor {name or 'supervisor'!r} did not finish starting its children within "
            f"{timeout} s; raise timeout= or check the children's on_start (log: {system.log_file})"
        )

    # -- requests ------------------------------------------------------------------------------

    def _call(self, msg: Any, timeout: float | None = None) -> Any:
        if self._stopped:
            raise SupervisorNotRunningError(f"supervisor {self.name!r} was stopped; start a new one")
        t = self.timeout if timeout is None else timeout
        gone = SupervisorNotRunningError(
            f"supervisor {self.name!r} (pid {self.pid}) is not running: it was stopped or "
            "gave up after too many restarts (see the actor system log); start a new one"
        )
        if self.pid is not None and not self.is_alive():
            raise gone
        reply = _request(self.system, self.address, msg, t, alive=self.is_alive if self.pid else None)
        if reply is None:
            if self.pid is not None and not self.is_alive():
                raise gone
            raise SupervisorTimeoutError(
                f"supervisor {self.name!r} did not answer {type(msg).__name__} within {t} s; "
                "it may be busy restarting children; retry with a larger timeout"
            )
        if isinstance(reply, ErrorReply):
            raise reply.to_exception()
        return reply

    def which_children(self) -> list[ChildInfo]:
        """The children in start order (``id``, ``pid``, ``type``, ``restarts``, ``address``, ``info`` ...)."""
        reply: Children = self._call(WhichChildren(ref=_ref()))
        return reply.children

    def count_children(self) -> ChildCounts:
        """``specs``, ``active``, ``supervisors``, ``workers`` (as OTP's count_children)."""
        return self._call(CountChildren(ref=_ref()))

    def start_child(self, spec: Any, timeout: float | None = None) -> ChildStarted:
        """Add a child (``ChildSpec`` or ``(class, opts)``) at the end and start it."""
        return self._call(StartChild(to_child_spec(spec), ref=_ref()), timeout)

    def restart_child(self, child_id: str, timeout: float | None = None) -> ChildStarted:
        """Start again a child that is not running (its spec is kept)."""
        return self._call(RestartChild(child_id, ref=_ref()), timeout)

    def terminate_child(self, child_id: str, timeout: float | None = None) -> None:
        """Stop a child, honouring its shutdown; it stays stopped until restart_child."""
        self._call(TerminateChild(child_id, ref=_ref()), timeout)

    def delete_child(self, child_id: str) -> None:
        """Remove the spec of a child that is not running."""
        self._call(DeleteChild(child_id, ref=_ref()))

    # -- processes -----------------------------------------------------------------------------

    def is_alive(self) -> bool:
        return procs.is_alive(self.pid)

    def pids(self) -> list[int]:
        """Every live process of the tree: the supervisor and all its descendants."""
        pid = self.pid
        if pid is None or not self.is_alive():
            return []
        return [pid] + procs.descendants(pid)

    # -- stop ------------------------------------------------------------------------------------

    def stop(self, timeout: float | None = None) -> None:
        """Stop every child in reverse order (each within its shutdown), then the supervisor.

        Whatever is still alive after ``timeout`` (default 60 s) is killed by pid. Idempotent.
        """
        if self._stopped:
            return
        t = 60.0 if timeout is None else timeout
        tree = self.pids()
        if tree:
            try:
                reply = _request(self.system, self.address, StopSupervisor(ref=_ref()), t,
                                 alive=self.is_alive)
            except Exception:  # noqa: BLE001 - fall through to the pid sweep
                log.exception("asking supervisor %r to stop failed", self.name)
                reply = None
            if not isinstance(reply, Done):
                log.warning("supervisor %r did not confirm its stop (%r); killing its tree", self.name, reply)
            left = procs.wait_gone(tree, 5.0 if isinstance(reply, Done) else 0.0)
            if left:
                procs.kill_pids(left, signal.SIGKILL)
                procs.wait_gone(left, 2.0)
        self._stopped = True
        self.system.cancel_before_shutdown(self._stop_at_shutdown)

    def _stop_at_shutdown(self) -> None:
        if not self._stopped:
            self.stop(timeout=15.0)

    def __enter__(self) -> "Supervisor":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _ref() -> str:
    return uuid.uuid4().hex


def _exit_request() -> Any:
    from thespian.actors import ActorExitRequest

    return ActorExitRequest()


def _request(system: ActorSystemHandle, address: Any, msg: Any, timeout: float,
             alive: Callable[[], bool] | None = None) -> Any:
    """Ask ``address`` and return the reply whose ``ref`` matches ``msg.ref`` (None on timeout).

    Replies to other requests of this process that arrive meanwhile are kept for their own
    waiters (:mod:`runic.actors.replies`), never dropped. With ``alive``, the wait is cut into
    slices of :data:`ALIVE_CHECK_SECONDS` and ends early (``None``) once ``alive()`` is false:
    a process that is gone will never answer.
    """
    return request(system, address, msg, timeout, alive=alive, check_every=ALIVE_CHECK_SECONDS)
