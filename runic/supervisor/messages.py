"""The messages a runic supervisor understands and sends (module-level, picklable dataclasses).

**Supervisor API.** Any actor (or the driver, through :class:`runic.supervisor.Supervisor`)
drives a supervisor by sending it one of these to its thespian address. Every request has an
optional ``ref`` that the reply echoes, so a sender with several requests in flight can match
replies. A request that fails is answered with :class:`ErrorReply` (its ``type`` is the
qualified name of the exception, e.g. ``runic.supervisor.errors.ChildNotFoundError``).

=====================  ===========================================================
request                reply
=====================  ===========================================================
``WhichChildren``      ``Children(children: list[ChildInfo])``
``CountChildren``      ``ChildCounts(specs, active, supervisors, workers)``
``StartChild(spec)``   ``ChildStarted(id, address, pid, info)``
``RestartChild(id)``   ``ChildStarted(id, address, pid, info)``
``TerminateChild(id)`` ``Done``
``DeleteChild(id)``    ``Done``
``StopSupervisor``     ``Done`` (sent once every child has stopped; then it exits)
=====================  ===========================================================

**Child protocol** (between a supervisor and each :class:`runic.supervisor.ChildActor` it
starts; user code normally never sends these):

* ``ChildInit`` → the child runs ``on_start(opts)`` and answers ``ChildReady`` (or
  ``ErrorReply``, then exits abnormally);
* ``ChildShutdown(reason)`` → the child runs ``on_stop(reason)`` and exits (no reply; the
  exit is the answer);
* ``ChildExiting(child_id, reason)`` ← a child about to exit on its own; for ``"normal"``
  the supervisor answers ``ExitAck`` and the child then exits;
* ``ChildCrashed(child_id, type, message)`` ← best-effort notice sent just before a child
  exits abnormally because a handler raised.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field
from typing import Any

from ..remote import describe, rebuild

__all__ = [
    "ErrorReply",
    "ChildInfo",
    "WhichChildren",
    "Children",
    "CountChildren",
    "ChildCounts",
    "StartChild",
    "RestartChild",
    "ChildStarted",
    "TerminateChild",
    "DeleteChild",
    "StopSupervisor",
    "Done",
    "ChildInit",
    "ChildReady",
    "ChildShutdown",
    "ChildExiting",
    "ExitAck",
    "ChildCrashed",
]


# -- replies shared by everything -------------------------------------------------------------


@dataclass
class ErrorReply:
    """A request failed. ``type`` is the exception's qualified type name, ``message`` its text,
    ``attrs`` its plain attributes (see :mod:`runic.remote`, which rebuilds it in the caller)."""

    type: str
    message: str
    ref: Any = None
    detail: str | None = None
    attrs: dict | None = None

    @classmethod
    def from_exception(cls, exc: BaseException, ref: Any = None, with_traceback: bool = False) -> "ErrorReply":
        name, message, attrs = describe(exc)
        detail = "".join(traceback.format_exception(exc)) if with_traceback else None
        return cls(name, message, ref, detail, attrs or None)

    def to_exception(self) -> Exception:
        """The exception as the raiser's class (a :class:`~runic.remote.RemoteError` naming the
        type when that class cannot be rebuilt here)."""
        return rebuild(self.type, self.message, self.attrs)

    def __str__(self) -> str:
        return f"{self.type}: {self.message}"


@dataclass
class Done:
    """A request that has no other result succeeded."""

    ref: Any = None


# -- supervisor API -----------------------------------------------------------------------------


@dataclass
class ChildInfo:
    """One child as :class:`WhichChildren` reports it.

    ``pid``/``address`` are ``None`` while the child is not running; ``status`` is
    ``"running"``, ``"starting"``, ``"stopping"`` or ``"stopped"``; ``restarts`` counts the
    times this supervisor restarted it; ``info`` is what its ``on_start`` returned;
    ``last_exit`` is the reason of its last exit (``None`` if it never exited).
    """

    id: str
    pid: int | None
    type: str
    restarts: int
    address: Any
    info: dict | None
    restart: str = "permanent"
    status: str = "stopped"
    last_exit: str | None = None


@dataclass
class WhichChildren:
    """List the children, in start order. Reply: :class:`Children`."""

    ref: Any = None


@dataclass
class Children:
    children: list[ChildInfo] = field(default_factory=list)
    ref: Any = None


@dataclass
class CountChildren:
    """Count the children. Reply: :class:`ChildCounts`."""

    ref: Any = None


@dataclass
class ChildCounts:
    """As OTP's ``count_children``: specs, running children, and specs by type."""

    specs: int
    active: int
    supervisors: int
    workers: int
    ref: Any = None


@dataclass
class StartChild:
    """Add a child (a ``ChildSpec`` or ``(class, opts)``) at the end and start it.

    Reply: :class:`ChildStarted`; ``ErrorReply`` with ``ChildAlreadyPresentError`` if the id
    exists, ``ChildStartError`` if it failed to start (the spec is then not kept).
    """

    spec: Any
    ref: Any = None


@dataclass
class RestartChild:
    """Start again a child whose spec is kept but which is not running. Reply: :class:`ChildStarted`."""

    id: str
    ref: Any = None


@dataclass
class ChildStarted:
    id: str
    address: Any
    pid: int
    info: dict | None = None
    ref: Any = None


@dataclass
class TerminateChild:
    """Stop a child (honouring its ``shutdown``) and keep its spec. Reply: :class:`Done`.

    A temporary child's spec is dropped. The child is not restarted until ``RestartChild``.
    """

    id: str
    ref: Any = None


@dataclass
class DeleteChild:
    """Drop the spec of a child that is not running. Reply: :class:`Done`."""

    id: str
    ref: Any = None


@dataclass
class StopSupervisor:
    """Stop every child in reverse start order, reply :class:`Done`, then exit normally."""

    reason: str = "shutdown"
    ref: Any = None


# -- child protocol -------------------------------------------------------------------------------


@dataclass
class ChildInit:
    """Supervisor → new child: who you are, your options, who supervises you."""

    child_id: str
    opts: dict
    supervisor_address: Any = None
    supervisor_pid: int | None = None
    link_pid: int | None = None
    link_start_time: int | None = None
    ref: Any = None


@dataclass
class ChildReady:
    """New child → supervisor: ``on_start`` succeeded."""

    child_id: str
    pid: int
    info: dict | None = None
    ref: Any = None


@dataclass
class ChildShutdown:
    """Supervisor → child: run ``on_stop(reason)`` and exit."""

    reason: str = "shutdown"


@dataclass
class ChildExiting:
    """Child → supervisor: I am about to exit with ``reason`` on my own."""

    child_id: str
    reason: str


@dataclass
class ExitAck:
    """Supervisor → child: your ``ChildExiting`` is recorded; exit now."""

    child_id: str


@dataclass
class ChildCrashed:
    """Child → supervisor: a handler raised; I am exiting abnormally (best effort)."""

    child_id: str
    type: str
    message: str
