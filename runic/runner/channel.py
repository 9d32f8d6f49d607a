"""The caller's end of the direct channel: one connection per worker host, many requests at once.

:class:`HostChannel` multiplexes every request of this process to one worker host over one Unix
socket: a request is a frame written under the connection's write lock, and its reply — whenever
it comes, in whatever order — completes the :class:`concurrent.futures.Future` registered under
the request's ``ref``. A reader thread per connection receives the replies. So any number of
threads (or asyncio tasks, through ``asyncio.wrap_future``) wait at once, none holding a lock
while it waits: a long ``await_idle`` never delays another caller's ``get_results``.

When the connection breaks (the host died or stopped), every request in flight fails with
:class:`ChannelBroken` at once — a waiter learns of a dead host immediately instead of at a
timeout — and the next request reconnects (to the restarted host listening at the same path).

**Thread territory:** ``request`` runs on any caller thread; the reader thread only completes
futures; ``_pending`` is guarded by ``_lock``.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from .errors import RunnerError
from .wire import FrameReader, send_frame

__all__ = ["ChannelBroken", "HostChannel", "Channels"]

log = logging.getLogger("runic.runner")


class ChannelBroken(RunnerError):
    """The connection to a worker host broke (it died or stopped) before the reply came."""


class HostChannel:
    """The connection of this process to one worker host (see the module docs)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._write = threading.Lock()
        self._sock: socket.socket | None = None
        self._pending: dict[Any, Future[Any]] = {}
        self._generation = 0

    def request(self, msg: Any) -> Future[Any]:
        """Send ``msg``; the future completes with its reply (or :class:`ChannelBroken`)."""
        fut: Future[Any] = Future()
        with self._lock:
            sock = self._sock or self._connect()
            self._pending[msg.ref] = fut
        try:
            with self._write:
                send_frame(sock, msg)
        except OSError as exc:
            self._broken(sock, exc)
        return fut

    def forget(self, ref: Any) -> None:
        """Nobody waits for ``ref`` any more (its reply, if it comes, is dropped)."""
        with self._lock:
            self._pending.pop(ref, None)

    def close(self) -> None:
        with self._lock:
            sock, self._sock = self._sock, None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def _connect(self) -> socket.socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(str(self.path))
        except OSError as exc:
            sock.close()
            raise ChannelBroken(f"cannot reach the worker host at {self.path}: {exc.strerror or exc}") from exc
        self._sock = sock
        self._generation += 1
        threading.Thread(target=self._read, args=(sock,), name=f"runic-channel-{self.path.stem}",
                         daemon=True).start()
        return sock

    def _read(self, sock: socket.socket) -> None:
        reader = FrameReader()
        try:
            while True:
                data = sock.recv(1 << 20)
                if not data:
                    break
                for reply in reader.feed(data):
                    with self._lock:
                        fut = self._pending.pop(getattr(reply, "ref", None), None)
                    if fut is not None and not fut.done():
                        fut.set_result(reply)
        except (OSError, ValueError, Exception) as exc:  # noqa: BLE001 - any failure breaks the connection
            self._broken(sock, exc)
            return
        self._broken(sock, None)

    def _broken(self, sock: socket.socket, exc: BaseException | None) -> None:
        with self._lock:
            if self._sock is sock:
                self._sock = None
                pending, self._pending = self._pending, {}
            else:
                pending = {}
        try:
            sock.close()
        except OSError:
            pass
        why = f": {exc}" if exc is not None else ""
        for fut in pending.values():
            if not fut.done():
                fut.set_exception(ChannelBroken(f"the connection to the worker host at {self.path} broke{why}"))


class Channels:
    """This process's channels, one per worker host path."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_path: dict[Path, HostChannel] = {}

    def get(self, path: str | os.PathLike[str]) -> HostChannel:
        key = Path(path)
        with self._lock:
            ch = self._by_path.get(key)
            if ch is None:
                ch = self._by_path[key] = HostChannel(key)
            return ch

    def close(self) -> None:
        with self._lock:
            channels, self._by_path = list(self._by_path.values()), {}
        for ch in channels:
            ch.close()
