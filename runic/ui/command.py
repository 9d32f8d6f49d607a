"""``runic ui``: serve the dashboard of a store until Ctrl-C.

The server runs on threads of its own (:class:`runic.ui.Dashboard`); the main thread waits for
Ctrl-C or SIGTERM and runs the one thing that must not run on a request thread: starting the
Runner a resume needs (:class:`MainThreadCalls`). There, as in ``runic run``, a Ctrl-C that
arrives during the start-up takes effect once the actor system and the Runner are up, so that
they are shut down too; nothing is left running when the command ends.

Ctrl-C and SIGTERM are the normal way to stop the dashboard: it prints one line and exits 0.
"""

from __future__ import annotations

import logging
import queue
import signal
import threading
from concurrent.futures import Future
from typing import Any, Callable

import click

from ..cli import interrupts
from ..cli.context import Settings, add_cwd_to_path, make_console, store_options
from ..cli.errors import UsageProblem
from ..cli.render import esc
from . import DEFAULT_PORT, Dashboard, OwnRunner, PortInUseError, source_for
from .actions import ActionError

__all__ = ["ui_command", "MainThreadCalls"]

log = logging.getLogger(__name__)

CALL_TIMEOUT = 180.0
"""How long a request thread waits for the main thread to start a Runner."""


class MainThreadCalls:
    """Calls that request threads hand to the main thread (:meth:`call`), which runs them in
    :meth:`serve` until :meth:`close`; after that, calls fail at once."""

    def __init__(self) -> None:
        self._queue: queue.Queue[tuple[Callable[[], Any], Future]] = queue.Queue()
        self._closed = threading.Event()
        self._main = threading.current_thread()

    def call(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` on the main thread and return its result (or raise its exception)."""
        if threading.current_thread() is self._main:
            return fn()
        if self._closed.is_set():
            raise ActionError("the dashboard is shutting down", 503)
        future: Future = Future()
        self._queue.put((fn, future))
        if self._closed.is_set():  # closed while we queued: close() may have drained already
            self._fail_pending()
        return future.result(timeout=CALL_TIMEOUT)

    def serve(self) -> None:
        """Run queued calls until a Ctrl-C or SIGTERM (raised here as KeyboardInterrupt)."""
        while True:
            interrupts.check()
            try:
                fn, future = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            if not future.set_running_or_notify_cancel():
                continue
            try:
                with interrupts.postponed():  # a Ctrl-C here acts once fn is done (see the module docs)
                    try:
                        future.set_result(fn())
                    except Exception as exc:  # noqa: BLE001 - the request thread reports it
                        future.set_exception(exc)
            except KeyboardInterrupt:
                if not future.done():
                    future.set_exception(ActionError("the dashboard is shutting down", 503))
                raise

    def _fail_pending(self) -> None:
        while True:
            try:
                _fn, future = self._queue.get_nowait()
            except queue.Empty:
                return
            if future.set_running_or_notify_cancel():
                future.set_exception(ActionError("the dashboard is shutting down", 503))

    def close(self) -> None:
        """Refuse new calls and fail the queued ones."""
        self._closed.set()
        self._fail_pending()


@click.command("ui", short_help="Serve a dashboard of the store's workflows on 127.0.0.1.")
@click.option("--port", type=click.IntRange(min=0, max=65535), default=DEFAULT_PORT, show_default=True,
              metavar="PORT", help="Port on 127.0.0.1 (0: any free port).")
@click.option("--read-only", is_flag=True, help="No stop/resume/cancel buttons; the dashboard writes nothing.")
@store_options
def ui_command(port: int, read_only: bool, settings: Settings) -> None:
    """Serve a dashboard of the store's workflows at http://127.0.0.1:PORT/ until Ctrl-C.

    The workflows with their status, owner and last change; for one workflow its graph (what
    ran, what is pending, what failed), its failures with tracebacks, its events, followed
    live; and stop / resume / cancel buttons, which do what `runic stop`, `runic resume` and
    `runic cancel` do. A resume starts a Runner in this process (shut down with the
    dashboard): run `runic ui` where the workflows' modules can be imported.

    It listens on 127.0.0.1 only and has no login: anyone who can open connections on this
    machine can use it (see docs/dashboard.md).

    \b
    Example:
      runic ui --dir ./runic-data/myhost --port 8760
    """
    console = make_console()
    add_cwd_to_path()  # the Runner a resume starts imports the workflows' modules from here
    calls = MainThreadCalls()
    runners = None if read_only else OwnRunner(settings, call=calls.call)
    dashboard = Dashboard(source_for(settings), port=port, runners=runners, read_only=read_only)
    try:
        dashboard.start()
    except PortInUseError as exc:
        raise UsageProblem(str(exc)) from None
    previous = signal.signal(signal.SIGTERM, interrupts.on_signal)  # SIGTERM stops it like Ctrl-C
    try:
        mode = " (read-only)" if read_only else ""
        console.print(esc(f"runic dashboard{mode} of {settings.where} at {dashboard.url}"), soft_wrap=True)
        console.print("Ctrl-C stops it", style="dim")
        calls.serve()
    except KeyboardInterrupt:
        pass
    finally:
        with interrupts.deferred():
            calls.close()
            dashboard.close()
        signal.signal(signal.SIGTERM, previous)
    resumed = sorted(map(str, dashboard.actions.resumed)) if dashboard.actions is not None else []
    note = (f"; it resumed {', '.join(resumed)}: what was still running stays 'running' in the store, and "
            f"`{settings.command('resume')} ID` continues it") if resumed else ""
    console.print(esc(f"dashboard stopped{note}"), soft_wrap=True)
