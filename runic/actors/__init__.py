"""The actor system's lifecycle, in one place (thespian ``multiprocTCPBase``).

* :func:`start_system` starts a new system on loopback with its own admin port and returns an
  :class:`ActorSystemHandle` (a context manager): ``.system``, ``.admin_port``,
  ``.scratch_dir``, ``.pids()``, ``.shutdown()``.
* :func:`attach` joins a system by admin port (to inspect it or stop one a dead driver left).
* :func:`default_system` is the process-wide system used when none is given.
* :func:`current_scratch_dir` tells any process of a system where its scratch directory is.

See ``docs/supervision.md`` for the trust model and the cleanup guarantees.
"""

from .errors import ActorSystemError, ActorSystemStartError, AttachError, UnsafeBindAddressError
from .network import DEFAULT_HOST, is_loopback
from .system import (
    BASE,
    ActorSystemHandle,
    attach,
    current_admin_port,
    current_scratch_dir,
    default_system,
    remove_stale_scratch_dirs,
    scratch_path,
    set_default_system,
    start_system,
)

__all__ = [
    "BASE",
    "DEFAULT_HOST",
    "ActorSystemError",
    "ActorSystemHandle",
    "ActorSystemStartError",
    "AttachError",
    "UnsafeBindAddressError",
    "attach",
    "current_admin_port",
    "current_scratch_dir",
    "default_system",
    "is_loopback",
    "remove_stale_scratch_dirs",
    "scratch_path",
    "set_default_system",
    "start_system",
]
