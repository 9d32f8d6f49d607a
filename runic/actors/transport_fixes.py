"""Two fixes to thespian's transport in the driver: close what it leaves open, bound its waits.

* **Sockets.** ``TCPTransport.close()`` closes the incoming sockets and fails pending
  transmits, but not the idle outgoing sockets it keeps for reuse (``_openSockets``), nor the
  sockets of pending transmits, nor — because its helper tests ``isinstance(socket.error,
  Exception)``, which is always false — its own listening socket. thespian closes every temporary
  transport it creates for a ``createActor`` and its own at ``shutdown()``, so those sockets
  were left to the garbage collector, which reports each as a ``ResourceWarning`` (an error
  under ``pytest -W error::ResourceWarning``). :func:`install` makes ``close()`` close them too.
* **Waits.** thespian's ``shutdown()`` waits up to 10 s for its admin to confirm; a driver
  interrupted at the wrong moment blocked that long at exit. :func:`install` bounds the wait to
  :data:`ADMIN_SHUTDOWN_SECONDS`; whatever is still running after it is killed by pid.

Both are installed in the driver with the other patches, before any system is started.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

__all__ = ["ADMIN_SHUTDOWN_SECONDS", "install", "close_system_transport"]

ADMIN_SHUTDOWN_SECONDS = 3.0
_installed = False


def _close_quietly(sock: Any) -> None:
    sock = getattr(sock, "socket", sock)
    if sock is None or not hasattr(sock, "close"):
        return
    try:
        sock.close()
    except OSError:
        pass


def install() -> None:
    """Patch ``TCPTransport.close`` and thespian's shutdown wait (idempotent)."""
    global _installed
    if _installed:
        return
    from thespian.system import systemBase
    from thespian.system.transport import TCPTransport as tcp

    systemBase.MAX_SYSTEM_SHUTDOWN_DELAY = timedelta(seconds=ADMIN_SHUTDOWN_SECONDS)
    cls = tcp.TCPTransport
    original_close = cls.close

    def close(self):
        intents = list(getattr(self, "_transmitIntents", {}).values())
        intents += list(getattr(self, "_waitingTransmits", []))
        idle = list(getattr(self, "_openSockets", {}).values())
        listener = getattr(self, "socket", None)
        original_close(self)
        _close_quietly(listener)  # thespian's own attempt is a no-op (a wrong isinstance test)
        for intent in intents:
            _close_quietly(getattr(intent, "socket", None))
        for each in idle:
            _close_quietly(each)
        if hasattr(self, "_openSockets"):
            self._openSockets = {}

    cls.close = close
    _installed = True


def close_system_transport(system: Any) -> None:
    """Close the driver-side transport of a thespian ``ActorSystem`` (idempotent, never raises)."""
    base = getattr(system, "_systemBase", None)
    transport = getattr(base, "transport", None)
    if transport is None:
        return
    try:
        transport.close()
    except Exception:  # noqa: BLE001 - best effort at cleanup
        pass
