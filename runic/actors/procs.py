"""Process bookkeeping through ``/proc`` (Linux): who is alive, who descends from whom.

The actor system's processes are found by *session id*: thespian's admin calls ``setsid()``
when it starts, and every logger and actor process is forked from the admin (or from another
actor), so they all share the admin's session, even after an orphan is re-parented to PID 1.
A supervision tree is found by *parent pid*: a child actor is forked by the actor that created
it, so a supervisor's children are its OS children.

Zombies (``Z`` state) count as dead everywhere in this module: they hold no resources but a
process-table slot and disappear when their parent (or PID 1) reaps them.
"""

from __future__ import annotations

import errno
import os
import signal
import time
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

__all__ = [
    "ProcStat",
    "read_stat",
    "is_alive",
    "start_time",
    "same_process",
    "iter_stats",
    "session_pids",
    "descendants",
    "pids_listening_on",
    "pids_holding",
    "kill_pids",
    "wait_gone",
]


@dataclass(frozen=True)
class ProcStat:
    """The fields of ``/proc/PID/stat`` this module uses."""

    pid: int
    comm: str
    state: str
    ppid: int
    session: int
    start_time: int  # clock ticks since boot; with the pid it identifies one process

    @property
    def is_zombie(self) -> bool:
        return self.state in ("Z", "X")


def read_stat(pid: int) -> ProcStat | None:
    """Parse ``/proc/PID/stat``; ``None`` if the process does not exist (any more)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            raw = fh.read().decode("utf-8", "replace")
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    except OSError as exc:  # pragma: no cover - raced with the exit of the process
        if exc.errno in (errno.ESRCH, errno.ENOENT):
            return None
        raise
    # comm is in parentheses and may itself contain spaces or ')'
    lpar, rpar = raw.find("("), raw.rfind(")")
    if lpar < 0 or rpar < 0:
        return None
    comm = raw[lpar + 1 : rpar]
    fields = raw[rpar + 2 :].split()
    # fields[0] is field 3 (state); field N of proc(5) is fields[N - 3]
    try:
        return ProcStat(
            pid=pid,
            comm=comm,
            state=fields[0],
            ppid=int(fields[1]),
            session=int(fields[3]),
            start_time=int(fields[19]),
        )
    except (IndexError, ValueError):  # pragma: no cover - malformed, treat as gone
        return None


def is_alive(pid: int | None) -> bool:
    """True if ``pid`` names a live (non-zombie) process."""
    if not pid or pid <= 0:
        return False
    st = read_stat(pid)
    return st is not None and not st.is_zombie


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot, or ``None`` if it is gone."""
    st = read_stat(pid)
    return None if st is None else st.start_time


def same_process(pid: int, started: int | None) -> bool:
    """True if ``pid`` is alive and is the process that started at ``started`` (no pid reuse)."""
    st = read_stat(pid)
    if st is None or st.is_zombie:
        return False
    return started is None or st.start_time == started


def iter_stats() -> Iterator[ProcStat]:
    """Every readable process on the machine (live and zombie)."""
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = read_stat(int(name))
            if st is not None:
                yield st


def session_pids(session: int) -> list[int]:
    """Live (non-zombie) processes whose session id is ``session``."""
    me = os.getpid()
    return sorted(
        st.pid for st in iter_stats() if st.session == session and not st.is_zombie and st.pid != me
    )


def descendants(pid: int) -> list[int]:
    """Live descendants of ``pid`` (children, grandchildren, ...), not ``pid`` itself."""
    children: dict[int, list[int]] = {}
    for st in iter_stats():
        if not st.is_zombie:
            children.setdefault(st.ppid, []).append(st.pid)
    out: list[int] = []
    todo = list(children.get(pid, []))
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return sorted(out)


def _listening_inodes(port: int) -> set[str]:
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as fh:
                next(fh, None)
                for line in fh:
                    parts = line.split()
                    if len(parts) < 10:
                        continue
                    local, state, inode = parts[1], parts[3], parts[9]
                    if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                        inodes.add(inode)
        except FileNotFoundError:
            continue
    return inodes


def _pids_with_fd(matches: Callable[[str], bool]) -> list[int]:
    """Processes with an open descriptor whose ``/proc/PID/fd`` link ``matches``."""
    found: list[int] = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        fd_dir = f"/proc/{name}/fd"
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        for fd in fds:
            try:
                link = os.readlink(f"{fd_dir}/{fd}")
            except OSError:
                continue
            if matches(link):
                found.append(int(name))
                break
    return sorted(found)


def pids_listening_on(port: int) -> list[int]:
    """Processes holding a TCP socket that listens on ``port`` (any local address)."""
    inodes = _listening_inodes(port)
    if not inodes:
        return []
    targets = {f"socket:[{i}]" for i in inodes}
    return _pids_with_fd(targets.__contains__)


def pids_holding(path: str | os.PathLike) -> list[int]:
    """Processes that hold ``path`` open (also after it was deleted), found through ``/proc/*/fd``."""
    target = os.fspath(path)
    return _pids_with_fd({target, target + " (deleted)"}.__contains__)


def kill_pids(pids: Iterable[int], sig: int = signal.SIGKILL) -> list[int]:
    """Send ``sig`` to each pid that is still alive; returns the pids signalled."""
    hit: list[int] = []
    for pid in pids:
        if pid == os.getpid() or not is_alive(pid):
            continue
        try:
            os.kill(pid, sig)
            hit.append(pid)
        except ProcessLookupError:
            continue
    return hit


def wait_gone(pids: Iterable[int], timeout: float, poll: float = 0.01) -> list[int]:
    """Wait until none of ``pids`` is alive or ``timeout`` passes; returns those still alive."""
    pending = [p for p in pids if is_alive(p)]
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        time.sleep(poll)
        pending = [p for p in pending if is_alive(p)]
    return pending
