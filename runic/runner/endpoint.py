"""A worker host's end of the direct channel: a Unix socket served by one thread.

Requests that arrive here are handled exactly like those thespian delivers (the same
:data:`~runic.runner.service.HANDLERS`, on the host loop thread); only the way back differs:
the reply is written straight to the caller's connection by the thread that produces it (the
loop thread, or a step thread whose result settled a workflow), under that connection's write
lock — no actor hop, no outbox.

**Thread territory:**

====================  ======================  ===========================================
method                thread                  state
====================  ======================  ===========================================
``start``, ``stop``   the host's actor thread  the listening socket, the serving thread
``_serve``            the endpoint thread      the selector, every connection's read buffer
``ConnReply.send``    loop or step thread      one connection's socket (its write lock)
====================  ======================  ===========================================

See :mod:`runic.runner.wire` for the frames and for who may connect.
"""

from __future__ import annotations

import logging
import os
import selectors
import socket
import threading
from pathlib import Path
from typing import Any, Callable

from . import messages
from .wire import FrameReader, send_frame, trusted_peer

__all__ = ["Endpoint", "ConnReply"]

log = logging.getLogger("runic.runner")

#: the requests a caller may send on the direct channel (anything else is refused)
ACCEPTED: tuple[type, ...] = (
    messages.Run, messages.AwaitIdle, messages.AwaitMany, messages.GetResults, messages.GetWorkflow,
    messages.GetStatus, messages.GetFailures, messages.Checkpoint, messages.WorkerState,
)


class ConnReply:
    """Where a reply to a direct request goes: the caller's connection."""

    __slots__ = ("sock", "lock", "closed")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.lock = threading.Lock()
        self.closed = False

    def send(self, message: Any) -> None:
        if self.closed:
            return
        try:
            with self.lock:
                send_frame(self.sock, message)
        except OSError:  # the caller went away: nobody waits for this reply any more
            self.closed = True


class Endpoint:
    """Serves direct requests for one worker host (see the module docs)."""

    def __init__(self, path: str | os.PathLike[str], dispatch: Callable[[Any, ConnReply], None]) -> None:
        self.path = Path(path)
        self.dispatch = dispatch
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._wake_r, self._wake_w = os.pipe()

    def start(self) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)
        try:
            listener.bind(str(self.path))
        finally:
            os.umask(old)
        os.chmod(self.path, 0o600)
        listener.listen(128)
        listener.setblocking(False)
        self._listener = listener
        self._thread = threading.Thread(target=self._serve, name=f"runic-endpoint-{self.path.stem}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping = True
        try:
            os.write(self._wake_w, b"!")
        except OSError:
            pass
        if self._thread is not None:
            self._thread.join(5)
        try:
            self.path.unlink()
        except OSError:
            pass

    def _serve(self) -> None:
        sel = selectors.DefaultSelector()
        assert self._listener is not None
        sel.register(self._listener, selectors.EVENT_READ, None)
        sel.register(self._wake_r, selectors.EVENT_READ, "wake")
        conns: dict[socket.socket, tuple[FrameReader, ConnReply]] = {}
        try:
            while not self._stopping:
                for key, _ in sel.select():
                    if key.data == "wake":
                        continue
                    if key.fileobj is self._listener:
                        self._accept(sel, conns)
                        continue
                    sock = key.fileobj
                    assert isinstance(sock, socket.socket)
                    self._read(sock, sel, conns)
        finally:
            for sock, (_r, reply) in list(conns.items()):
                reply.closed = True
                sock.close()
            sel.close()
            self._listener.close()
            for fd in (self._wake_r, self._wake_w):
                try:
                    os.close(fd)
                except OSError:
                    pass

    def _accept(self, sel: selectors.BaseSelector, conns: dict) -> None:
        assert self._listener is not None
        try:
            sock, _ = self._listener.accept()
        except BlockingIOError:
            return
        if not trusted_peer(sock):
            log.warning("direct channel %s: refused a connection from another user", self.path)
            sock.close()
            return
        sock.setblocking(True)
        sel.register(sock, selectors.EVENT_READ, "conn")
        conns[sock] = (FrameReader(), ConnReply(sock))

    def _read(self, sock: socket.socket, sel: selectors.BaseSelector, conns: dict) -> None:
        reader, reply = conns[sock]
        try:
            data = sock.recv(1 << 20)
            frames = reader.feed(data) if data else None
        except (OSError, ValueError, Exception) as exc:  # noqa: BLE001 - a broken peer: drop it
            log.debug("direct channel %s: dropping a connection: %s", self.path, exc)
            frames = None
        if frames is None:
            sel.unregister(sock)
            reply.closed = True
            sock.close()
            del conns[sock]
            return
        for msg in frames:
            if not isinstance(msg, ACCEPTED):
                log.warning("direct channel %s: refused a %s", self.path, type(msg).__name__)
                continue
            self.dispatch(msg, reply)
