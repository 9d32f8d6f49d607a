"""Frames on the direct channel between a Runner handle and its worker hosts.

The direct channel carries the requests whose cost matters (``run``, ``await_idle``,
``get_results``, ...) from the process that holds a :class:`~runic.runner.Runner` straight to
the worker host that runs the workflow, over a Unix socket; thespian keeps carrying control
(start, resume, stop, supervision). See :mod:`runic.runner.endpoint` (the host side) and
:mod:`runic.runner.channel` (the caller's side).

**Trust.** A frame is a 4-byte big-endian length and a pickle of one of the request or reply
classes of :mod:`runic.runner.messages` (values inside travel as ``cloudpickle`` bytes, as on
thespian). Pickle runs code, so the channel only accepts peers that are this same user: the
socket lives in the actor system's private scratch directory (mode 0700), the socket file is
mode 0600, and every accepted connection's peer credentials (``SO_PEERCRED``) are checked
against this process's uid (root excepted: it can do anything anyway). Another local user cannot
connect, let alone send a frame.
"""

from __future__ import annotations

import os
import pickle
import socket
import struct
from pathlib import Path
from typing import Any

__all__ = ["MAX_FRAME", "endpoint_path", "send_frame", "FrameReader", "peer_uid", "trusted_peer"]

MAX_FRAME = 1 << 30
"""Frames larger than this (1 GiB) are refused (a corrupt length, or a value nobody should send)."""

_LEN = struct.Struct(">I")
_SO_PEERCRED = getattr(socket, "SO_PEERCRED", 17)
_CRED = struct.Struct("3i")


def endpoint_path(scratch_dir: str | os.PathLike[str], host_id: str) -> Path:
    """Where the worker host ``host_id`` listens, inside its actor system's scratch directory."""
    safe = host_id.replace("%", "%25").replace("/", "%2F")
    return Path(scratch_dir) / "endpoints" / f"{safe}.sock"


def send_frame(sock: socket.socket, obj: Any) -> None:
    """Pickle ``obj`` and send it as one frame (the caller serialises writes on ``sock``)."""
    payload = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    sock.sendall(_LEN.pack(len(payload)) + payload)


class FrameReader:
    """Accumulates bytes from a socket and yields complete frames (unpickled)."""

    def __init__(self) -> None:
        self.buffer = bytearray()

    def feed(self, data: bytes) -> list[Any]:
        self.buffer += data
        out = []
        while len(self.buffer) >= 4:
            (size,) = _LEN.unpack_from(self.buffer)
            if size > MAX_FRAME:
                raise ValueError(f"a frame of {size} bytes is larger than the {MAX_FRAME}-byte limit")
            if len(self.buffer) < 4 + size:
                break
            payload = bytes(self.buffer[4:4 + size])
            del self.buffer[:4 + size]
            out.append(pickle.loads(payload))
        return out


def peer_uid(sock: socket.socket) -> int:
    """The uid of the process at the other end of a Unix socket."""
    _pid, uid, _gid = _CRED.unpack(sock.getsockopt(socket.SOL_SOCKET, _SO_PEERCRED, _CRED.size))
    return uid


def trusted_peer(sock: socket.socket) -> bool:
    """True if the peer is this user (or root)."""
    try:
        uid = peer_uid(sock)
    except OSError:
        return False
    return uid == os.getuid() or uid == 0
