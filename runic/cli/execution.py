"""Running workflows from the command line: a Runner for the duration of a command, and
following a workflow to its end with live progress.

:func:`runner_session` starts a fresh actor system and a Runner (``recover="manual"``: the
command line only touches the workflow it was asked to run) and always shuts both down, so a
command leaves no process behind. While the Runner is up, SIGTERM interrupts like Ctrl-C; while
it shuts down, both are held back (:func:`runic.cli.interrupts.deferred`) so a second Ctrl-C
cannot cut the shutdown short, and a Ctrl-C during the start-up takes effect once the system and
the Runner are up (:func:`runic.cli.interrupts.postponed`), so that they are shut down too. :func:`follow` polls the workflow's progress until its
status leaves ``running``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
from typing import Any, Callable, Hashable, Iterator

from ..core import Workflow
from ..runner import Runner
from ..runner.errors import RunnerError, RunnerNotRunningError, RunnerTimeoutError
from ..store import MemoryStore, store_class
from . import interrupts
from .context import Settings, add_cwd_to_path
from .errors import WorkFailed
from .inspection import load, node_labels
from .progress import LiveView, ProgressModel, Watcher

__all__ = ["runner_session", "StoreSource", "RunnerSource", "follow", "host_pid", "kill", "model_from_workflow",
           "LOST_GRACE_SECONDS"]

log = logging.getLogger(__name__)

LOST_GRACE_SECONDS = 20.0
"""How long a workflow may be missing from its Runner (a host restarting) before giving up."""

POLL_SECONDS = 0.1


@contextlib.contextmanager
def runner_session(settings: Settings, store: str = "mnesia", pool_size: int = 1) -> Iterator[Runner]:
    """A Runner named ``settings.runner`` on ``settings.data_dir`` (or a MemoryStore), on an
    actor system of its own that is shut down when the block ends, whatever happens."""
    from ..actors import start_system

    add_cwd_to_path()
    interrupts.check()
    previous = signal.signal(signal.SIGTERM, interrupts.on_signal)  # SIGTERM cleans up like Ctrl-C
    system: Any = None
    runner: Runner | None = None
    try:
        with interrupts.postponed():  # a Ctrl-C here acts once there is something to shut down
            system = start_system()
            store_cls = store_class(settings.store_name) if store == "mnesia" else MemoryStore
            store_opts = settings.store_opts if store == "mnesia" else {}
            runner = Runner.start_link(name=settings.runner, store=store_cls, store_opts=store_opts,
                                       recover="manual", pool_size=pool_size, system=system, timeout=60.0)
        yield runner
    finally:
        with interrupts.deferred():
            if runner is not None:
                with contextlib.suppress(Exception):
                    runner.shutdown()
            if system is not None:
                system.shutdown()
        signal.signal(signal.SIGTERM, previous)


class StoreSource:
    """Progress from the store's event stream (the durable view; no actor traffic)."""

    def __init__(self, store: Any, workflow_id: Hashable) -> None:
        self.store = store
        self.workflow_id = workflow_id
        self.watcher = Watcher(store, workflow_id)
        self.model = self.watcher.model

    def poll(self, force: bool = False) -> None:
        """Fold the events appended since the last poll."""
        self.watcher.poll()

    def status(self) -> str | None:
        """The workflow's status in the store."""
        return self.watcher.status()

    def final_workflow(self) -> Workflow:
        """The workflow rebuilt from the store, values loaded."""
        return load(self.store, self.workflow_id).workflow


class RunnerSource:
    """Progress from the Runner (for a MemoryStore, whose tables live in the worker host)."""

    def __init__(self, runner: Runner, workflow_id: Hashable) -> None:
        self.runner = runner
        self.workflow_id = workflow_id
        self.model = ProgressModel()
        self._last = 0.0

    def poll(self, force: bool = False) -> None:
        """Rebuild the model from the live workflow (at most four times a second unless ``force``)."""
        now = time.monotonic()
        if not force and now - self._last < 0.25:
            return
        self._last = now
        try:
            wf = self.runner.get_workflow(self.workflow_id)
        except RunnerError as exc:
            log.debug("no workflow snapshot yet: %s", exc)
            return
        self.model = model_from_workflow(wf)

    def status(self) -> str | None:
        """The workflow's status in the worker host's store."""
        return self.runner.stored(self.workflow_id).status

    def final_workflow(self) -> Workflow:
        """The workflow value as the Worker holds it."""
        return self.runner.get_workflow(self.workflow_id)


def model_from_workflow(wf: Workflow) -> ProgressModel:
    """A :class:`ProgressModel` for a live workflow value (what ran, what is pending, retries)."""
    from ..events import RunnableDispatched
    from ..export import node_summaries

    model = ProgressModel()
    model.build_events = list(wf.build_log())
    model.node_info = node_labels(wf)
    model.pending = set(wf.graph.pending)
    retries: dict[int, int] = {}
    for e in wf.runnable_events:
        if type(e) is RunnableDispatched and e.attempt:
            retries[e.node_hash] = retries.get(e.node_hash, 0) + 1
    for s in node_summaries(wf):
        if s["kind"] == "root":
            continue
        failed = s["failed"] + s["cancelled"]
        model.counts[s["hash"]] = [s["ran"] + s["pending"] + failed, s["ran"], retries.get(s["hash"], 0), failed]
    model.events = None
    return model


def _recovery_error(runner: Runner, workflow_id: Hashable) -> str | None:
    try:
        for entry in runner.tree():
            errors = entry.get("recovery_errors") or {}
            if workflow_id in errors:
                return str(errors[workflow_id])
    except RunnerError:
        return None
    return None


def follow(runner: Runner, source: StoreSource | RunnerSource, view: LiveView, settings: Settings, *,
           timeout: float | None = None, on_poll: Callable[[], None] | None = None) -> str:
    """Poll until the workflow's status is no longer ``running``; return that status.

    ``on_poll`` runs after every poll (the demo uses it to kill the worker host). Raises
    :class:`WorkFailed` on ``timeout`` or when the Runner lost the workflow for good; its
    message gives the command that continues, with the flags of ``settings``."""
    started = time.monotonic()
    deadline = None if timeout is None else started + timeout
    last_seen = started
    last_check = 0.0
    wid = source.workflow_id
    while True:
        interrupts.check()
        source.poll()
        view.model = source.model
        status = source.status()
        running = view.model.running_labels()
        flight = f" · in flight: {', '.join(running[:6])}{' …' if len(running) > 6 else ''}" if running else ""
        view.update(f"{status or '?'} · {time.monotonic() - started:4.1f} s{flight}")
        if on_poll is not None:
            on_poll()
        if status != "running":
            source.poll(force=True)
            view.model = source.model
            return status or "unknown"
        now = time.monotonic()
        if deadline is not None and now > deadline:
            raise WorkFailed(
                f"workflow {wid!r} is still running after {timeout:g} s; it was saved and stays 'running': "
                f"`{settings.command('resume', wid)}` continues it")
        if now - last_check >= 1.0:
            last_check = now
            try:
                loc = runner.lookup(wid)
            except (RunnerNotRunningError, RunnerTimeoutError) as exc:
                raise WorkFailed(f"the runner stopped answering ({exc}); `{settings.command('resume', wid)}` continues "
                                 "the workflow") from exc
            if loc is not None:
                last_seen = now
            else:
                problem = _recovery_error(runner, wid)
                if problem is not None:
                    raise WorkFailed(f"the worker host could not resume workflow {wid!r} after a restart: "
                                     f"{problem.split('. Pass it to from_log', 1)[0]}")
                if now - last_seen > LOST_GRACE_SECONDS:
                    raise WorkFailed(
                        f"workflow {wid!r} is no longer running in this runner (status {status!r} in the store); "
                        f"`{settings.command('show', wid)}` shows where it stopped")
        time.sleep(POLL_SECONDS)


def host_pid(runner: Runner, workflow_id: Hashable) -> int | None:
    """The pid of the worker host running ``workflow_id`` (``None`` while it is not running)."""
    loc = runner.lookup(workflow_id)
    return loc.pid if loc is not None else None


def kill(pid: int) -> None:
    """SIGKILL ``pid`` (a worker host this command's Runner started)."""
    os.kill(pid, signal.SIGKILL)
