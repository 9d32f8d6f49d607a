"""The driver's private descriptors: closed in every process forked from it.

A registry written by the driver's threads (the relay registers the sockets it accepts) and read
by the fork hook of :mod:`runic.actors.forking` in the child, right after ``fork``. It is its own
module so that what registers (the relay, the guardian) does not import the hook's module.
"""

from __future__ import annotations

import socket

__all__ = ["register_private_fd", "unregister_private_fd", "register_private_socket",
           "unregister_private_socket"]

_private_fds: set[int] = set()
_private_socks: set[socket.socket] = set()


def register_private_fd(fd: int) -> None:
    _private_fds.add(fd)


def unregister_private_fd(fd: int) -> None:
    _private_fds.discard(fd)


def register_private_socket(sock: socket.socket) -> None:
    _private_socks.add(sock)


def unregister_private_socket(sock: socket.socket) -> None:
    _private_socks.discard(sock)
