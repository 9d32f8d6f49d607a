"""Authenticated frames on thespian's TCP transport: nothing is unpickled before its MAC checks.

thespian's ``multiprocTCPBase`` sends every message as a frame ``b"<length>>" + pickle`` and
unpickles whatever arrives on its listening sockets, so any local user who can open a TCP
connection to loopback could otherwise run code as the user running the actor system.

**What this module does.** Each actor system gets a 32-byte secret, created by the driver when
it starts the system (:func:`new_secret`). It lives in memory (inherited by every process of
the system, which are all forked from the driver) and in a ``0600`` file in the system's
``0700`` scratch directory, so :func:`runic.actors.attach` from another process of the same
user can read it. Every frame is sent as ``b"<length>>" + key_id + mac + pickle`` where
``key_id`` (8 bytes) names the secret and ``mac`` is the keyed BLAKE2b-256 of the pickle under
it (BLAKE2's keyed mode is a MAC by design, RFC 7693; chosen over HMAC-SHA256, which is as
sound, because it costs 0.8 µs instead of 1.9 µs per 300-byte frame here, with a smaller code
path on the cache-cold hop of every message).
A receiver looks the key id up in its keyring (the secrets of the systems this process started,
joined or belongs to) and checks the MAC with :func:`hmac.compare_digest` *before* handing the
bytes to ``pickle``. A frame that fails is dropped without being unpickled, the connection is
closed, and one warning is logged per :data:`REJECT_LOG_INTERVAL` seconds with a count.

**Where it patches** (:func:`install`, idempotent; installed in the driver before the admin is
forked, so every process of the system inherits it, like ``network.install_bind_patch``):

* ``TCPTransport.serializer`` (the one place that frames outgoing messages) seals with the
  sending transport's secret, chosen when the transport is created (``_runic_secret``);
* ``TCPTransport._addedDataToIncoming`` (where a complete incoming frame is deserialized)
  verifies the frame first and closes the connection on failure;
* the module-level ``serializer`` of ``TCPTransport`` (used by every ``ReceiveBuffer``, including
  the one that reads acknowledgements on outgoing connections) verifies too. thespian's two
  acknowledgement packets are fixed, unauthenticated byte strings (the pickles of ``'ACK'`` and
  ``'ACK+DATAERR'``); they are recognised by exact comparison, never unpickled.

What it does not protect against (see ``docs/supervision.md``, "Trust model"): root, and any
process of the same user (it can read the secret file, or ptrace the actors).

Threads: the patched methods run on whatever thread runs thespian's transport (the actor's
main thread, or the driver thread holding the handle's lock); the keyring is only written by
the driver while it starts or joins a system, under ``runic.actors.system``'s start lock.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import pickle
import threading
import time
from pathlib import Path
from typing import Any

__all__ = [
    "SECRET_BYTES",
    "SECRET_FILE",
    "REJECT_LOG_INTERVAL",
    "new_secret",
    "key_id",
    "trust",
    "use_secret",
    "seal",
    "verify",
    "write_secret",
    "read_secret",
    "install",
    "rejected_count",
]

log = logging.getLogger(__name__)

SECRET_BYTES = 32
SECRET_FILE = "secret"
KEY_ID_BYTES = 8
MAC_BYTES = 32
HEADER_BYTES = KEY_ID_BYTES + MAC_BYTES
REJECT_LOG_INTERVAL = 60.0

_keys: dict[bytes, bytes] = {}  # key id -> secret
_key_ids: dict[bytes, bytes] = {}  # secret -> key id (cache)
_current: bytes | None = None  # the secret new transports of this process seal with
_installed = False
_reject_lock = threading.Lock()
_rejected_total = 0
_rejected_unlogged = 0
_last_reject_log = 0.0


def new_secret() -> bytes:
    """A fresh random secret for a new actor system."""
    return os.urandom(SECRET_BYTES)


def key_id(secret: bytes) -> bytes:
    """The public 8-byte name of ``secret`` carried in each frame (a hash: reveals nothing)."""
    kid = _key_ids.get(secret)
    if kid is None:
        kid = _key_ids[secret] = hashlib.sha256(b"runic actor system key\0" + secret).digest()[:KEY_ID_BYTES]
    return kid


def trust(secret: bytes) -> None:
    """Accept frames sealed with ``secret`` (without sealing anything with it)."""
    if len(secret) != SECRET_BYTES:
        raise ValueError(f"an actor system secret is {SECRET_BYTES} bytes, got {len(secret)}")
    _keys[key_id(secret)] = secret


def use_secret(secret: bytes) -> None:
    """Trust ``secret`` for incoming frames and seal the frames of transports created from now on."""
    global _current
    trust(secret)
    _current = secret


def keep_only_current() -> None:
    """In a process forked for one system: forget the secrets of the driver's other systems."""
    if _current is not None:
        _keys.clear()
        _keys[key_id(_current)] = _current


def current_secret() -> bytes | None:
    return _current


def _mac(secret: bytes, body: Any) -> bytes:
    """Keyed BLAKE2b-256 of ``body`` (a MAC by design, RFC 7693 section 2.9)."""
    return hashlib.blake2b(body, key=secret, digest_size=MAC_BYTES, person=b"runic-frame-v1").digest()


def seal(body: bytes, secret: bytes) -> list[bytes]:
    """The authenticated payload of a frame, as parts to join: key id, MAC, body."""
    return [key_id(secret), _mac(secret, body), body]


def verify(payload: bytes) -> memoryview | None:
    """The pickle inside an authenticated payload, or ``None`` if it is not authentic."""
    if len(payload) < HEADER_BYTES:
        return None
    view = memoryview(payload)
    secret = _keys.get(bytes(view[:KEY_ID_BYTES]))
    if secret is None:
        return None
    body = view[HEADER_BYTES:]
    if not hmac.compare_digest(_mac(secret, body), view[KEY_ID_BYTES:HEADER_BYTES]):
        return None
    return body


def write_secret(scratch_dir: Path, secret: bytes) -> Path:
    """Store ``secret`` in ``<scratch_dir>/secret``, mode 0600 (the directory is 0700)."""
    path = Path(scratch_dir) / SECRET_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, secret)
    finally:
        os.close(fd)
    return path


def read_secret(scratch_dir: Path) -> bytes:
    """Read a system's secret; raises ``OSError``/``ValueError`` if it is missing or malformed."""
    path = Path(scratch_dir) / SECRET_FILE
    data = path.read_bytes()
    if len(data) != SECRET_BYTES:
        raise ValueError(f"{path} holds {len(data)} bytes, not a {SECRET_BYTES}-byte secret")
    return data


def rejected_count() -> int:
    """How many unauthenticated frames this process has dropped (for tests and diagnostics)."""
    return _rejected_total


def _note_rejected(where: str, peer: Any) -> None:
    global _rejected_total, _rejected_unlogged, _last_reject_log
    with _reject_lock:
        _rejected_total += 1
        _rejected_unlogged += 1
        now = time.monotonic()
        if _last_reject_log and now - _last_reject_log < REJECT_LOG_INTERVAL:
            return
        count, _rejected_unlogged = _rejected_unlogged, 0
        _last_reject_log = now
    log.warning(
        "dropped %d unauthenticated message(s) sent to %s (pid %d), last from %s, without "
        "unpickling them; something on this machine that does not hold the actor system's "
        "secret is connecting to its ports (next report in %d s at the earliest)",
        count, where, os.getpid(), peer, int(REJECT_LOG_INTERVAL),
    )


class _FrameCodec:
    """Replaces ``pickle`` as ``TCPTransport.serializer``: ``loads`` verifies before unpickling."""

    def __init__(self, acks: dict[bytes, str]) -> None:
        self._acks = acks

    def loads(self, data: bytes) -> Any:
        ack = self._acks.get(bytes(data)) if len(data) < 64 else None
        if ack is not None:
            return ack
        body = verify(data)
        if body is None:
            raise _Rejected("unauthenticated frame")
        return pickle.loads(body)

    @staticmethod
    def dumps(obj: Any) -> bytes:  # pragma: no cover - every outgoing frame goes through serializer()
        raise _Rejected("runic seals thespian frames in TCPTransport.serializer; nothing else may pickle")


class _Rejected(Exception):
    """A frame that failed authentication (caught by thespian's own error handling)."""


def _trusted_loads(data: bytes) -> Any:
    """Deserializer for a frame already verified by the ``_addedDataToIncoming`` patch."""
    return pickle.loads(memoryview(data)[HEADER_BYTES:])


def install() -> None:
    """Patch thespian's TCP transport to seal and verify every frame (idempotent).

    Call :func:`use_secret` first: a transport created with no secret in force cannot send.
    """
    global _installed
    if _installed:
        return
    from thespian.system.transport import TCPTransport as tcp
    from thespian.system.transport import streamBuffer

    acks = {}
    for packet, framed in ((streamBuffer.ackPacket, streamBuffer.ackMsg),
                           (streamBuffer.ackDataErrPacket, streamBuffer.ackDataErrMsg)):
        acks[framed[framed.index(b">") + 1:]] = packet
    codec = _FrameCodec(acks)
    cls = tcp.TCPTransport

    original_init = cls.__init__

    def __init__(self, initType, *args):
        self._runic_secret = _current
        original_init(self, initType, *args)

    original_clone = cls.external_transport_clone

    def external_transport_clone(self):
        global _current
        saved = _current
        _current = getattr(self, "_runic_secret", None)  # a clone talks to the same system
        try:
            return original_clone(self)
        finally:
            _current = saved

    def serializer(self, intent):
        secret = getattr(self, "_runic_secret", None)
        if secret is None:
            raise RuntimeError(
                "this thespian transport has no runic secret: start or join actor systems "
                "with runic.actors.start_system() or runic.actors.attach()"
            )
        body = pickle.dumps((self.myAddress, intent.message))
        parts = seal(body, secret)
        return b"".join([b"%d>" % (HEADER_BYTES + len(body))] + parts)

    original_added = cls._addedDataToIncoming

    def _addedDataToIncoming(self, inc, skipFinish=False, has_exclusive_flag=False):
        buf = getattr(inc, "_rData", None)
        if buf is not None and inc.receivedAllData():
            size = getattr(buf, "_size", None)
            data = getattr(buf, "_buf", b"")
            if size is None or len(data) != size or verify(data) is None:
                try:
                    peer = inc.socket.getpeername() if inc.socket else None
                except OSError:
                    peer = None
                _note_rejected(f"{self.myAddress}", peer)
                inc.close()
                return None
            buf._deserialize = _trusted_loads
        return original_added(self, inc, skipFinish, has_exclusive_flag)

    cls.__init__ = __init__
    cls.external_transport_clone = external_transport_clone
    cls.serializer = serializer
    cls._addedDataToIncoming = _addedDataToIncoming
    tcp.serializer = codec
    _installed = True
