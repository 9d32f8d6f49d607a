"""What a process forked from the driver keeps of the driver's runic resources.

thespian starts a system by forking the admin from the driver, and every actor descends from
the admin, so each of them inherits the driver's memory and open descriptors. Some of those
belong to the driver alone and must not live on in a child:

* the write end of each guardian's pipe (its end-of-file is how a guardian learns the driver
  died: a child holding a copy would delay that until the child exits);
* the relay's listening and accepted sockets, and the saved copies of the driver's stdio;
* the lock files of the driver's *other* systems (holding one marks a process as a member of
  that system, see ``runic.actors.guardian``).

:func:`register_private_fd` / :func:`register_private_socket` list them, and an
``os.register_at_fork`` hook closes them in every child. While the driver starts a system,
:func:`admin_fork` names what the admin of *that* system keeps and sets up: its lock file, the
SIGINT handler the driver had before :mod:`runic.actors.interrupts` held it, only that
system's secret (``runic.actors.auth``), and logging and ``sys.stdout``/``sys.stderr``
relayed to the driver (``runic.actors.relay``). The hook applies that once, in the first child, and forgets
the registry there, so the admin's own forks (logger, actors) keep what the admin has.

Threads: the registries are written by the driver's threads (the relay thread registers the
sockets it accepts); the hook runs in the child right after ``fork``, where only the forking
thread exists, and takes no lock.
"""

from __future__ import annotations

import os
import signal
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator

from . import auth, relay
from .private_fds import (
    _private_fds,
    _private_socks,
    register_private_fd,
    register_private_socket,
    unregister_private_fd,
    unregister_private_socket,
)

__all__ = [
    "AdminFork",
    "admin_fork",
    "register_private_fd",
    "unregister_private_fd",
    "register_private_socket",
    "unregister_private_socket",
]



@dataclass
class AdminFork:
    """What the admin of the system being started keeps and sets up after the fork."""

    keep_fds: set[int] = field(default_factory=set)
    close_fds: list[int] = field(default_factory=list)
    sigint_handler: Any = None
    relay_path: str | None = None
    log_file: str | None = None
    log_level: int = 30


_admin: AdminFork | None = None


@contextmanager
def admin_fork(spec: AdminFork) -> Iterator[AdminFork]:
    """While the body runs, a forked child is the admin of the system ``spec`` describes."""
    global _admin
    previous, _admin = _admin, spec
    try:
        yield spec
    finally:
        _admin = previous


def _close(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass


def _after_fork_in_child() -> None:
    global _admin
    spec, _admin = _admin, None
    keep = spec.keep_fds if spec is not None else set()
    for fd in list(_private_fds):
        if fd not in keep:
            _close(fd)
    _private_fds.clear()
    for sock in list(_private_socks):
        try:
            _close(sock.detach())  # detach: the object must not close a reused number later
        except OSError:
            pass
    _private_socks.clear()
    if spec is None:
        return
    for fd in spec.close_fds:
        _close(fd)
    if spec.sigint_handler is not None:
        try:
            signal.signal(signal.SIGINT, spec.sigint_handler)
        except (ValueError, OSError):  # pragma: no cover - not the main thread
            pass
    auth.keep_only_current()
    relay.install_actor_logging(spec.relay_path, spec.log_file, spec.log_level)
    if spec.relay_path is not None:
        relay.install_stdio(spec.relay_path)
    else:  # no relay: still make print() in actors line-buffered on fds 1/2
        sys.stdout = open(1, "w", buffering=1, closefd=False, errors="backslashreplace")
        sys.stderr = open(2, "w", buffering=1, closefd=False, errors="backslashreplace")


os.register_at_fork(after_in_child=_after_fork_in_child)
