"""Where the actor system listens, and the trust boundary that decides it.

thespian's TCP transport unpickles what reaches its sockets. runic authenticates every frame
before that (``runic.actors.auth``), and in addition binds every socket of the system (admin,
logger, every actor, the driver's own endpoint) to the loopback interface by default, refusing
any other address unless the caller opts in with ``allow_remote=True``: off loopback, frames
travel in clear, any host can flood the ports, and a leaked secret would be remote code
execution.

Stock thespian binds every listening socket to ``0.0.0.0`` whatever ``THESPIAN_BASE_IPADDR``
says (``IPActorAddress.bindname`` is ``('', port)`` for every "external" address, and every
actor address is external). :func:`install_bind_patch` makes it bind to the advertised address
instead. The patch is installed in the driver before the admin is forked, so the admin and every
actor (forked from it) inherit it.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import random
import socket

from .errors import UnsafeBindAddressError

__all__ = [
    "DEFAULT_HOST",
    "is_loopback",
    "check_bind_host",
    "install_bind_patch",
    "free_port",
]

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"

_BIND_ENV = "RUNIC_BIND_HOST"
_patched = False


def is_loopback(host: str) -> bool:
    """True if ``host`` (an address or a name) resolves only to loopback addresses."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, socket.AF_INET)
    except OSError:
        return False
    addrs = {info[4][0] for info in infos}
    return bool(addrs) and all(ipaddress.ip_address(a).is_loopback for a in addrs)


def check_bind_host(host: str, allow_remote: bool) -> str:
    """Validate the address the system will listen on; returns it.

    Raises :class:`UnsafeBindAddressError` for a non-loopback address unless ``allow_remote``
    is true: such a port is remote code execution for whoever can reach it.
    """
    if not host:
        raise UnsafeBindAddressError(
            "an empty bind address means every interface; pass host='127.0.0.1' "
            "(the default) or an explicit interface address with allow_remote=True"
        )
    if is_loopback(host):
        return host
    if not allow_remote:
        raise UnsafeBindAddressError(
            f"refusing to listen on {host!r}: messages between actors travel in clear and are "
            "unpickled once authenticated, so a network that can reach the ports must be trusted. "
            "Use the default host '127.0.0.1', or pass allow_remote=True if every machine that "
            f"can reach {host!r} is trusted (see docs/supervision.md, 'Trust model')"
        )
    log.warning(
        "actor system listens on non-loopback address %s (allow_remote=True): its messages "
        "travel in clear, and every host that can reach it can flood its ports",
        host,
    )
    return host


def install_bind_patch(host: str | None) -> None:
    """Make thespian bind listening sockets to ``host`` instead of ``0.0.0.0``.

    ``host=None`` or ``'0.0.0.0'`` (only reachable with ``allow_remote=True``) keeps
    thespian's behaviour. The host is also exported as ``THESPIAN_BASE_IPADDR`` (the address
    thespian advertises) and ``RUNIC_BIND_HOST`` (read by the patch at bind time).
    """
    global _patched
    if host in (None, "", "0.0.0.0"):
        os.environ.pop(_BIND_ENV, None)
        os.environ.pop("THESPIAN_BASE_IPADDR", None)
    else:
        os.environ[_BIND_ENV] = host
        os.environ["THESPIAN_BASE_IPADDR"] = host
    if _patched:
        return
    from thespian.system.transport import IPBase

    original = IPBase.IPActorAddress.__init__

    def __init__(self, af, socktype, proto, baseaddr, port, external=False):
        original(self, af, socktype, proto, baseaddr, port, external)
        bind_host = os.environ.get(_BIND_ENV)
        if bind_host and self.bindname and self.bindname[0] in ("", "0.0.0.0"):
            self.bindname = (bind_host, self.bindname[1])

    setattr(__init__, "__wrapped__", original)  # noqa: B010 - a function attribute, for inspection
    setattr(IPBase.IPActorAddress, "__init__", __init__)  # noqa: B010
    IPBase.thisSystem.add_local_addr(host or DEFAULT_HOST)
    _patched = True


#: admin ports are drawn below Linux's ephemeral range (32768-60999 by default), from which
#: every actor's own sockets take their ports: a port checked free here cannot then be taken
#: by an actor of another system before our admin binds it
ADMIN_PORT_RANGE = (20000, 32000)


def free_port(host: str = DEFAULT_HOST) -> int:
    """A TCP port that is free on ``host`` right now, outside the ephemeral range."""
    low, high = ADMIN_PORT_RANGE
    for _ in range(200):
        port = random.randrange(low, high)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:  # the kernel's choice, then
        s.bind((host, 0))
        return s.getsockname()[1]
