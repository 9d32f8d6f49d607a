"""Where a Worker's steps run: ``thread`` (default), ``inline`` and ``process`` executors.

Every executor runs the policy driver (:func:`runic.driver.execute_with_policy`: retries,
backoff, timeout, fallback) for one runnable and reports exactly one outcome to the worker
host's loop; none of them goes through actor messages.

* ``thread`` — the driver runs on a thread of the host's pool; the host loop keeps serving
  other workflows meanwhile. A timeout *abandons* the attempt: Python threads cannot be
  killed, so a timed-out step keeps running in the background and its late result is thrown
  away. Use ``process`` when a timed-out step must really stop.
* ``inline`` — the driver runs on the host loop thread itself (the cheapest hand-off, for
  quick steps). Timeouts are ignored (there is nothing to abandon the step to); retries,
  backoff and fallbacks still apply. A step that blocks, blocks its host.
* ``process`` — each attempt runs in a fresh child process (multiprocessing ``forkserver``);
  on timeout the child is killed with SIGKILL and the attempt fails with ``("timeout", ms)``.
  The runnable travels by ``cloudpickle``; the step's functions must be importable or
  picklable by value there. An attempt's process never outlives its worker host: it asks the
  kernel for SIGKILL when its parent (the forkserver, which exits when the host dies) dies, so a
  restarted host can never run a step at the same time as an orphaned attempt of it.

Which attempts belong to which workflow: the thread that runs the policy driver names its
workflow with :func:`attempts_of`; :func:`kill_attempts` (``cancel``, ``stop(persist=False)``,
a stop) kills that workflow's live attempt processes.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import multiprocessing
import os
import signal
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable, Iterator

import cloudpickle

from ..driver import run_with_timeout
from ..errors import ArgumentError
from ..runnable import Runnable

__all__ = ["EXECUTORS", "ThreadExecutor", "InlineExecutor", "ProcessExecutor", "make_executor",
           "run_inline", "run_in_process", "attempts_of", "kill_attempts", "live_attempts"]

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1
ATTEMPT_LOG_FILE: str | None = None
"""The Runner's log file, appended to by attempt processes too (set by the worker host)."""


class _Owner(threading.local):
    workflow: Any = None


_owner = _Owner()
_live_lock = threading.Lock()
_live: dict[Any, set[int]] = {}  # workflow id -> pids of its live attempt processes


@contextlib.contextmanager
def attempts_of(workflow_id: Any) -> Iterator[None]:
    """Attempt processes started by this thread meanwhile belong to ``workflow_id``."""
    previous, _owner.workflow = _owner.workflow, workflow_id
    try:
        yield
    finally:
        _owner.workflow = previous


def live_attempts(workflow_id: Any) -> list[int]:
    """Pids of the live attempt processes of ``workflow_id`` in this process."""
    with _live_lock:
        return sorted(_live.get(workflow_id, ()))


def kill_attempts(workflow_id: Any) -> list[int]:
    """SIGKILL every live attempt process of ``workflow_id``; returns their pids."""
    with _live_lock:
        pids = sorted(_live.pop(workflow_id, ()))
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    return pids


def _track(workflow_id: Any, pid: int, alive: bool) -> None:
    with _live_lock:
        if alive:
            _live.setdefault(workflow_id, set()).add(pid)
        else:
            pids = _live.get(workflow_id)
            if pids is not None:
                pids.discard(pid)
                if not pids:
                    del _live[workflow_id]


def run_inline(runnable: Runnable, timeout_s: float | None) -> Runnable:
    """Run one attempt in this thread; the timeout is ignored (see the module docs)."""
    return run_with_timeout(runnable, None)


def _die_with_parent(parent: int) -> None:  # pragma: no cover - runs in the child
    """SIGKILL this process when its parent dies (and exit now if it already has).

    The parent is multiprocessing's forkserver, which exits when the worker host that started it
    dies — unless a child still holds the write end of its "alive" pipe, which the forkserver
    hands every child it forks. So the child closes it first: then a dead host means a dead
    forkserver, which means dead attempts."""
    from multiprocessing import forkserver

    server: Any = getattr(forkserver, "_forkserver", None)
    alive = getattr(server, "_forkserver_alive_fd", None)
    if alive is not None:
        try:
            os.close(alive)
        except OSError:
            pass
        server._forkserver_alive_fd = None
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:
        os._exit(1)


def _attempt_in_child(blob: bytes, conn: Any, parent: int, title: str,
                      log_path: str | None) -> None:  # pragma: no cover - runs in the child
    _die_with_parent(parent)
    try:
        import setproctitle

        setproctitle.setproctitle(title)
    except Exception:  # noqa: BLE001 - cosmetic
        pass
    # an exec-started child inherits the environment, not the logging set-up: its records and
    # print() output go to the driver like the host's, and to the Runner's log file
    try:
        from ..actors import relay_this_process
        from .logs import attach

        relay_this_process()
        attach(log_path)
    except Exception:  # noqa: BLE001 - logs must not fail the attempt
        pass
    try:
        r = cloudpickle.loads(blob)
        r.execute_tracked()
        r.events  # noqa: B018 - materialise lazily described events before pickling
        out = cloudpickle.dumps(r)
    except BaseException as exc:  # noqa: BLE001 - report anything to the parent
        try:
            out = cloudpickle.dumps(exc)
        except Exception:  # noqa: BLE001
            out = cloudpickle.dumps(RuntimeError(f"{type(exc).__name__}: {exc}"))
    conn.send_bytes(out)
    conn.close()


def run_in_process(runnable: Runnable, timeout_s: float | None) -> Runnable:
    """Run one attempt in a new child process; kill it when ``timeout_s`` passes."""
    ctx = multiprocessing.get_context("forkserver")
    attempt = runnable.reset()
    receiver, sender = ctx.Pipe(duplex=False)
    owner = _owner.workflow
    # the child's parent is the forkserver, a child of this host that exits when the host dies
    from multiprocessing import forkserver

    forkserver.ensure_running()
    server_pid = getattr(forkserver._forkserver, "_forkserver_pid", None)
    title = f"runic: attempt {runnable.node_name}"
    proc = ctx.Process(target=_attempt_in_child, args=(cloudpickle.dumps(attempt), sender, server_pid, title,
                                                       ATTEMPT_LOG_FILE),
                       name=f"runic-attempt-{runnable.id:x}")
    proc.start()
    sender.close()
    if owner is not None and proc.pid is not None:
        _track(owner, proc.pid, True)
    try:
        if receiver.poll(timeout_s):
            try:
                out = cloudpickle.loads(receiver.recv_bytes())
            except EOFError:
                proc.join(5)
                return runnable.reset().fail(("process_crashed", proc.exitcode))
            proc.join(5)
            if isinstance(out, BaseException):
                return runnable.reset().fail(out)
            return out
        ms = int((timeout_s or 0) * 1000)
        log.warning("step %r timed out after %d ms in pid %s; killing it", runnable.node_name, ms, proc.pid)
        try:
            if proc.pid is not None:
                os.kill(proc.pid, signal.SIGKILL)
        except OSError:
            pass
        proc.join(5)
        return runnable.reset().fail(("timeout", ms))
    finally:
        receiver.close()
        if owner is not None and proc.pid is not None:
            _track(owner, proc.pid, False)


class ThreadExecutor:
    """Runs the driver on a thread pool; ``submit`` returns a future."""

    name = "thread"
    inline = False
    attempt_runner: Callable[[Runnable, float | None], Runnable] = staticmethod(run_with_timeout)

    def __init__(self, max_workers: int = 32) -> None:
        self.pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="runic-step")

    def submit(self, fn: Callable[[], Any], done: Callable[[Future], None] | None = None) -> Future:
        fut = self.pool.submit(fn)
        if done is not None:
            fut.add_done_callback(done)
        return fut

    def shutdown(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


class InlineExecutor:
    """Runs the driver on the caller's thread (the host loop)."""

    name = "inline"
    inline = True
    attempt_runner = staticmethod(run_inline)

    def shutdown(self) -> None:
        pass


class ProcessExecutor(ThreadExecutor):
    """The driver on a pool thread, each attempt in a child process (killed on timeout)."""

    name = "process"
    attempt_runner = staticmethod(run_in_process)


EXECUTORS = ("thread", "inline", "process")


def make_executor(name: str, threads: int = 32) -> Any:
    """An executor by name (``thread``, ``inline`` or ``process``)."""
    if name == "thread":
        return ThreadExecutor(threads)
    if name == "inline":
        return InlineExecutor()
    if name == "process":
        return ProcessExecutor(threads)
    raise ArgumentError(f"unknown executor {name!r}; choose one of {EXECUTORS}")
