"""The dashboard's buttons: stop, cancel and resume a workflow.

**Stop and cancel** mean what ``runic stop`` and ``runic cancel`` mean
(:func:`runic.cli.cmd_manage.take_over`): the dashboard takes the workflow over in the store
(owner ``runic-ui/<host>/<pid>``, a new ownership epoch) and records ``stopped`` (only for a
running workflow) or ``cancelled`` (for any workflow not cancelled yet). A Runner still running
it elsewhere is fenced: its next write is refused, its Worker stops and its waiters get
:class:`~runic.runner.WorkflowTakenOverError`. The one exception: a workflow that the
dashboard's own Runner runs (because it was resumed from the dashboard) is stopped or cancelled
through that Runner (``Runner.stop`` / ``Runner.cancel``), which also kills its in-flight
``process`` attempts at once.

**Resume** needs a Runner, and the dashboard has none until the first resume: then it starts
one (:class:`OwnRunner`: a new actor system and a Runner named like the store's runner,
``recover="manual"``, so it touches only the workflows resumed from the dashboard) and keeps it
for the next resumes. It is shut down when the dashboard stops; workflows it was still running
stay ``running`` in the store, and ``runic resume ID`` (or another resume from a dashboard)
continues them. The workflow's functions must be importable by that Runner: start ``runic ui``
from the directory of the workflow's module (it is put on the worker hosts' ``PYTHONPATH``),
as for ``runic resume``. A program that embeds the dashboard can hand it its own Runner instead
(:class:`GivenRunner`; the dashboard never shuts that one down).

Thread territory: the dashboard's request threads call :class:`Actions`; one lock serialises
the actions (they are rare, and a resume that starts the Runner takes a second or two).
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
from dataclasses import dataclass
from typing import Any, Callable, Hashable, Protocol, TypeVar

from ..cli.cmd_manage import take_over
from ..cli.context import Settings
from ..errors import FunctionRestoreError, RunicError
from ..runner.errors import RunnerError, WorkflowCancelledError, WorkflowNotFoundError

__all__ = ["ActionError", "Outcome", "Actions", "RunnerProvider", "OwnRunner", "GivenRunner", "ui_owner"]

log = logging.getLogger(__name__)

T = TypeVar("T")


def ui_owner() -> str:
    """The owner name the dashboard takes workflows over with."""
    return f"runic-ui/{socket.gethostname()}/{os.getpid()}"


class ActionError(Exception):
    """An action that could not be done: ``message`` says why and what to do; ``http_status``
    is the HTTP status the dashboard answers with (404 unknown, 409 not now, 422 cannot be
    done here, 500 unexpected)."""

    def __init__(self, message: str, http_status: int = 409) -> None:
        super().__init__(message)
        self.message = message
        self.http_status = http_status


@dataclass(frozen=True)
class Outcome:
    """What an action did: ``message`` for the page, ``changed`` whether anything was
    written."""

    message: str
    changed: bool


class RunnerProvider(Protocol):
    """Where the dashboard gets a Runner for ``resume``."""

    def get(self) -> Any:
        """The Runner (started on first use)."""
        ...

    def current(self) -> Any | None:
        """The Runner if it is up, without starting one."""
        ...

    def close(self) -> None:
        """Shut down what :meth:`get` started."""
        ...


class OwnRunner:
    """A Runner the dashboard starts on first use and shuts down in :meth:`close` (see the
    module docs). ``call`` runs the start-up (``runic ui`` passes a function that runs it on its
    main thread, where a Ctrl-C can be held back until the processes exist to be shut down)."""

    def __init__(self, settings: Settings, call: Callable[[Callable[[], Any]], Any] | None = None,
                 timeout: float = 60.0) -> None:
        self.settings = settings
        self.call = call or (lambda fn: fn())
        self.timeout = timeout
        self._lock = threading.Lock()
        self._system: Any = None
        self._runner: Any = None
        self._closed = False

    def _start(self) -> tuple[Any, Any]:
        from ..actors import start_system
        from ..runner import Runner
        from ..store import store_class

        system = start_system()
        try:
            runner = Runner.start_link(name=self.settings.runner, store=store_class(self.settings.store_name),
                                       store_opts=self.settings.store_opts, recover="manual",
                                       system=system, timeout=self.timeout)
        except BaseException:
            system.shutdown()
            raise
        return system, runner

    def get(self) -> Any:
        with self._lock:
            if self._closed:
                raise ActionError("the dashboard is shutting down", 503)
            if self._runner is None:
                log.info("starting a Runner for %s", self.settings.where)
                self._system, self._runner = self.call(self._start)
            return self._runner

    def current(self) -> Any | None:
        return self._runner

    def close(self) -> None:
        with self._lock:
            self._closed = True
            runner, system = self._runner, self._system
            self._runner = self._system = None
        if runner is not None:
            with contextlib.suppress(Exception):
                runner.shutdown()
        if system is not None:
            system.shutdown()


class GivenRunner:
    """A Runner someone else started and will shut down (a program embedding the dashboard)."""

    def __init__(self, runner: Any) -> None:
        self.runner = runner

    def get(self) -> Any:
        return self.runner

    def current(self) -> Any | None:
        return self.runner

    def close(self) -> None:
        pass


class Actions:
    """Stop, cancel and resume (see the module docs). ``runners`` is ``None`` for a dashboard
    that cannot resume (``resume`` then says so)."""

    def __init__(self, store: Any, runners: RunnerProvider | None, owner: str | None = None) -> None:
        self.store = store
        self.runners = runners
        self.owner = owner or ui_owner()
        self.resumed: set[Hashable] = set()
        """Workflows resumed from the dashboard (in its Runner)."""
        self._lock = threading.Lock()

    def _live_here(self, wid: Hashable) -> Any | None:
        """Our Runner, if it runs ``wid``."""
        runner = self.runners.current() if self.runners is not None else None
        if runner is None:
            return None
        try:
            return runner if wid in runner.list_workflows() else None
        except RunnerError as exc:
            log.debug("cannot ask our Runner about %r: %s", wid, exc)
            return None

    def _status(self, wid: Hashable) -> str | None:
        status = self.store.status(wid)
        return status if status is not None else ("idle" if self.store.exists(wid) else None)

    def stop(self, wid: Hashable) -> Outcome:
        """Stop a running workflow (resumable)."""
        with self._lock:
            runner = self._live_here(wid)
            if runner is not None and self._status(wid) == "running":
                self._call(runner.stop, wid)
                return Outcome(f"stopped workflow {wid} (it ran in this dashboard's Runner); resume continues it",
                               True)
            done = take_over(self.store, wid, "stopped", self.owner)
            if not done.changed:
                return Outcome(f"workflow {wid} is not running (status {done.before or 'none'}); nothing to stop",
                               False)
            return Outcome(f"stopped workflow {wid} (epoch {done.epoch}){done.fenced_note()}; resume continues it",
                           True)

    def cancel(self, wid: Hashable) -> Outcome:
        """Cancel a workflow for good (it is never resumed)."""
        with self._lock:
            runner = self._live_here(wid)
            if runner is not None and self._status(wid) != "cancelled":
                self._call(runner.cancel, wid)
                return Outcome(f"cancelled workflow {wid} (it ran in this dashboard's Runner; in-flight attempts "
                               "were stopped)", True)
            done = take_over(self.store, wid, "cancelled", self.owner)
            if not done.changed:
                return Outcome(f"workflow {wid} is already cancelled; nothing to do", False)
            return Outcome(f"cancelled workflow {wid} (was {done.before}; epoch {done.epoch}){done.fenced_note()}",
                           True)

    def resume(self, wid: Hashable) -> Outcome:
        """Resume a workflow in the dashboard's Runner (started on first use)."""
        if self.runners is None:
            raise ActionError("this dashboard cannot resume workflows (it was started read-only, or without a "
                              "Runner); use `runic resume ID`", 422)
        with self._lock:
            status = self._status(wid)
            if status == "cancelled":
                raise ActionError(f"workflow {wid} was cancelled; a cancelled workflow is not resumed", 409)
            runner = self.runners.get()
            if wid in self._call(runner.list_workflows):
                return Outcome(f"workflow {wid} is already running in this dashboard's Runner", False)
            host = self._call(runner.resume, wid)
            self.resumed.add(wid)
            return Outcome(f"resumed workflow {wid} (was {status}) on {host}", True)

    @staticmethod
    def _call(fn: Callable[..., T], *args: Any) -> T:
        try:
            return fn(*args)
        except ActionError:
            raise
        except WorkflowCancelledError as exc:
            raise ActionError(str(exc), 409) from exc
        except WorkflowNotFoundError as exc:
            raise ActionError(str(exc), 404) from exc
        except FunctionRestoreError as exc:
            what = str(exc).split(". Pass it to from_log", 1)[0]  # the rest is advice for library code
            raise ActionError(f"{what}; start `runic ui` where the workflow's module is importable (from its "
                              "directory, or with it on PYTHONPATH)", 422) from exc
        except RunicError as exc:
            raise ActionError(f"{type(exc).__name__}: {exc}", 409) from exc
