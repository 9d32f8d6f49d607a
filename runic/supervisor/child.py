"""``ChildActor``: the base class of every actor a runic supervisor starts.

Subclasses override :meth:`ChildActor.on_start`, :meth:`ChildActor.on_stop` and ordinary
``receiveMsg_<MessageType>(self, msg, sender)`` handlers. The base class implements the child
side of the protocol in :mod:`runic.supervisor.messages` and OTP's process semantics on top of
thespian:

* **Let it crash.** thespian catches an exception escaping a handler, keeps the actor alive
  and delivers the message a second time. A ``ChildActor`` instead answers the sender with an
  :class:`~runic.supervisor.messages.ErrorReply`, tells its supervisor, logs the traceback and
  exits its process with status 1, so the supervisor sees an abnormal exit and applies the
  child's restart type.
* **Named.** Once started, its process title is ``runic: <title>`` derived from its child id
  (:meth:`ChildActor.process_title`, rule in ``runic.actors.titles``).
* **Linked to its parent.** A child is an OS child of the actor that created it (its
  supervisor). It asks the kernel for SIGKILL when that process dies (``PR_SET_PDEATHSIG``),
  and also polls its parent pid every :attr:`ChildActor.orphan_poll_seconds`: a child whose
  parent is gone stops itself (an orphan would otherwise outlive even the actor system's
  ``shutdown()``). A top-level supervisor started from a driver also polls the driver's pid
  and stops its tree when the driver is gone (start-*link*).
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import time
from datetime import timedelta
from typing import Any

from thespian.actors import (
    ActorExitRequest,
    ActorTypeDispatcher,
    PoisonMessage,
    WakeupMessage,
)

from ..actors import procs, titles
from .errors import ChildAlreadyPresentError
from .messages import (
    ChildCrashed,
    ChildExiting,
    ChildInit,
    ChildReady,
    ChildShutdown,
    ErrorReply,
    ExitAck,
)
from .spec import ChildSpec

__all__ = ["ChildActor", "set_parent_death_signal"]

log = logging.getLogger(__name__)

_ORPHAN_TICK = "runic.supervisor:orphan-check"
_EXIT_FALLBACK = "runic.supervisor:exit-fallback"
_PR_SET_PDEATHSIG = 1
_FLUSH_SECONDS = 1.0


def set_parent_death_signal(sig: int = signal.SIGKILL) -> bool:
    """Ask Linux to send ``sig`` to this process when its parent dies; False if unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        return False


class ChildActor(ActorTypeDispatcher):
    """Base class of supervised actors. See the module docstring and ``docs/supervision.md``.

    Class attributes used by the default :meth:`child_spec`: ``restart`` (``"permanent"``),
    ``shutdown`` (``None`` = 5 s for workers, infinity for supervisors), ``child_type``.
    After start, ``self.child_id``, ``self.opts``, ``self.supervisor_address`` and
    ``self.supervisor_pid`` are set.
    """

    restart: str = "permanent"
    shutdown: float | str | None = None
    child_type: str = "worker"
    orphan_poll_seconds: float = 0.5
    start_exit_ack_seconds: float = 2.0

    @classmethod
    def child_spec(cls, opts: dict) -> ChildSpec:
        """The default spec: id ``opts["id"]`` or the class name, start ``(cls, opts)``."""
        return ChildSpec(
            id=str(opts.get("id") or cls.__qualname__),
            start=(cls, opts),
            restart=cls.restart,
            shutdown=cls.shutdown,
            type=cls.child_type,
        )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.child_id: str | None = None
        self.opts: dict = {}
        self.supervisor_address: Any = None
        self.supervisor_pid: int | None = None
        self._parent_pid = os.getppid()
        self._link: tuple[int, int | None] | None = None
        self._started = False
        self._ticking = False
        self._stop_reason: str | None = None
        self._stopped = False  # on_stop has run
        self._exiting = False  # ActorExitRequest sent to self
        self._init_sender: Any = None
        self._init_ref: Any = None
        self._info: dict | None = None
        set_parent_death_signal(signal.SIGKILL)
        if self._parent_pid == 1 or os.getppid() != self._parent_pid:
            os._exit(0)  # the parent died before we could link to it

    # -- to override ------------------------------------------------------------------------

    def on_start(self, opts: dict) -> dict | None:
        """Runs once per (re)start. Raise to fail the start. The dict returned is the child's ``info``.

        Must be idempotent: a start may be attempted again after a failure or restart.
        """
        return None

    def on_stop(self, reason: str) -> None:
        """Orderly shutdown: ``reason`` is ``"shutdown"``, ``"normal"``, ``"orphaned"`` or ``"link_down"``."""

    def process_title(self) -> str:
        """What ``ps`` shows after ``runic: `` once started (see ``runic.actors.titles``)."""
        return titles.child_title(self.child_id or type(self).__qualname__, self.child_type)

    # -- public helpers -----------------------------------------------------------------------

    def exit_normally(self) -> None:
        """Finish: tell the supervisor this is a normal exit (not restarted if transient), then exit."""
        if self._stop_reason is not None:
            return
        self._stop_reason = "normal"
        if self.supervisor_address is None:
            self._finish_stop("normal")
            return
        self.send(self.supervisor_address, ChildExiting(self.child_id or "", "normal"))
        self.wakeupAfter(self.start_exit_ack_seconds, _EXIT_FALLBACK)

    # -- dispatch ---------------------------------------------------------------------------------

    def receiveMessage(self, msg: Any, sender: Any) -> Any:  # noqa: N802 - thespian API
        if not self._ticking and not isinstance(msg, ActorExitRequest):
            self._ticking = True
            self.wakeupAfter(self.orphan_poll_seconds, _ORPHAN_TICK)
        if isinstance(msg, WakeupMessage) and msg.payload in (_ORPHAN_TICK, _EXIT_FALLBACK):
            if msg.payload == _ORPHAN_TICK:
                return self._guard(self._orphan_tick, msg, sender)
            return self._guard(lambda m, s: self._finish_stop("normal"), msg, sender)
        if isinstance(msg, ActorExitRequest):
            return self._on_exit_request(msg, sender)
        if isinstance(msg, ChildInit):
            return self._on_init(msg, sender)
        if isinstance(msg, ChildShutdown):
            return self._guard(lambda m, s: self._begin_stop(m.reason), msg, sender)
        if isinstance(msg, ExitAck):
            return self._guard(lambda m, s: self._finish_stop("normal"), msg, sender)
        if isinstance(msg, PoisonMessage) and not hasattr(self, "receiveMsg_PoisonMessage"):
            log.warning(
                "%s could not deliver %r: %s", self._describe(), msg.poisonMessage, msg.details
            )
            return None
        return self._guard(super().receiveMessage, msg, sender)

    def _guard(self, fn: Any, msg: Any, sender: Any) -> Any:
        try:
            return fn(msg, sender)
        except Exception as exc:  # noqa: BLE001 - let it crash
            self._crash(exc, msg, sender)
            return None

    def _describe(self) -> str:
        return f"child {self.child_id!r} ({type(self).__qualname__}, pid {os.getpid()})"

    # -- start -------------------------------------------------------------------------------

    def _on_init(self, msg: ChildInit, sender: Any) -> None:
        if self._started or self._init_sender is not None:
            if msg.child_id == self.child_id and msg.supervisor_address == self.supervisor_address:
                if self._started:  # a redelivered init: answer again
                    self.send(sender, ChildReady(msg.child_id, os.getpid(), self._info, msg.ref))
                return
            err = ChildAlreadyPresentError(
                f"actor {type(self).__qualname__} at pid {os.getpid()} is already started as "
                f"child {self.child_id!r}; start a new actor instead (a globalName may be taken)"
            )
            self.send(sender, ErrorReply.from_exception(err, msg.ref))
            return
        self.child_id = msg.child_id
        self.opts = dict(msg.opts or {})
        try:
            titles.set_title(self.process_title())
        except Exception:  # noqa: BLE001 - a title is never worth a failed start
            log.debug("could not set the process title", exc_info=True)
        self.supervisor_address = msg.supervisor_address
        self.supervisor_pid = msg.supervisor_pid
        if msg.link_pid:
            self._link = (msg.link_pid, msg.link_start_time)
        self._init_sender = sender
        self._init_ref = msg.ref
        try:
            self._begin_start(self.opts)
        except Exception as exc:  # noqa: BLE001 - a failed start
            self._fail_start(exc)

    def _begin_start(self, opts: dict) -> None:
        """Start the child; overridden by supervisors, whose start finishes asynchronously."""
        self._start_done(self.on_start(opts))

    def _start_done(self, info: dict | None) -> None:
        if info is not None and not isinstance(info, dict):
            raise TypeError(
                f"{type(self).__qualname__}.on_start must return a dict or None, got {type(info).__name__}"
            )
        self._info = info
        self._started = True
        self.send(self._init_sender, ChildReady(self.child_id or "", os.getpid(), info, self._init_ref))

    def _fail_start(self, exc: BaseException) -> None:
        log.error("%s failed to start: %s", self._describe(), exc, exc_info=exc)
        self.send(self._init_sender, ErrorReply.from_exception(exc, self._init_ref, with_traceback=True))
        self._die(1)

    # -- stop ----------------------------------------------------------------------------------

    def _begin_stop(self, reason: str) -> None:
        """Orderly stop requested (by the supervisor, an orphan check or a dead link)."""
        if self._stop_reason is None or reason != "normal":
            self._stop_reason = reason
        self._finish_stop(reason)

    def _finish_stop(self, reason: str) -> None:
        self._run_on_stop(reason)
        if not self._exiting:
            self._exiting = True
            self.send(self.myAddress, ActorExitRequest())

    def _run_on_stop(self, reason: str) -> None:
        if self._stopped:
            return
        self._stopped = True
        try:
            self.on_stop(reason)
        except Exception:  # noqa: BLE001 - still exit
            log.exception("%s: on_stop(%r) raised", self._describe(), reason)

    def _on_exit_request(self, msg: ActorExitRequest, sender: Any) -> None:
        # thespian exits right after this handler (and stops our own thespian children).
        if not self._exiting and self._stop_reason is None and self.supervisor_address is not None:
            try:  # stopped from outside (e.g. system shutdown): say so; OTP's 'shutdown' reason
                self.send(self.supervisor_address, ChildExiting(self.child_id or "", "shutdown"))
            except Exception:  # noqa: BLE001
                pass
        self._exiting = True
        self._run_on_stop(self._stop_reason or "shutdown")

    # -- orphan and link checks -------------------------------------------------------------------

    def _orphan_tick(self, msg: Any, sender: Any) -> None:
        if self._exiting:
            return
        if os.getppid() != self._parent_pid:
            log.warning("%s: parent process %d is gone; stopping", self._describe(), self._parent_pid)
            self._begin_stop("orphaned")
        elif self._link is not None and not procs.same_process(*self._link):
            log.warning("%s: linked process %d is gone; stopping", self._describe(), self._link[0])
            self._link = None
            self._begin_stop("link_down")
        if not self._exiting:
            self.wakeupAfter(self.orphan_poll_seconds, _ORPHAN_TICK)

    # -- crash ------------------------------------------------------------------------------------

    def _crash(self, exc: BaseException, msg: Any, sender: Any) -> None:
        log.error(
            "%s crashed handling %s: %s: %s",
            self._describe(),
            type(msg).__name__,
            type(exc).__name__,
            exc,
            exc_info=exc,
        )
        reply = ErrorReply.from_exception(exc, getattr(msg, "ref", None))
        try:
            if sender is not None and sender != self.myAddress:
                self.send(sender, reply)
            if self.supervisor_address is not None:
                self.send(
                    self.supervisor_address,
                    ChildCrashed(self.child_id or "", reply.type, reply.message),
                )
        except Exception:  # noqa: BLE001 - exit regardless
            pass
        self._die(1)

    def _die(self, code: int) -> None:
        """Exit the process now: kill our own thespian children, flush sends, ``os._exit``."""
        mgr = getattr(self, "_myRef", None)
        for info in list(getattr(mgr, "_child_procs", None) or []):
            pid = getattr(getattr(info, "childProc", None), "pid", None)
            if pid:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        self._flush()
        os._exit(code)

    def _flush(self, seconds: float = _FLUSH_SECONDS) -> None:
        mgr = getattr(self, "_myRef", None)
        transport = getattr(mgr, "transport", None)
        if transport is None:
            return
        from thespian.system.transport import TransmitOnly

        deadline = time.monotonic() + seconds
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0 or not transport.run(TransmitOnly, timedelta(seconds=left)):
                    break
        except Exception:  # noqa: BLE001 - exiting anyway
            pass
