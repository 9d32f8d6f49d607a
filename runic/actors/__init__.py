"""The actor system's lifecycle, in one place (thespian ``multiprocTCPBase``).

* :func:`start_system` starts a new system on loopback with its own admin port and returns an
  :class:`ActorSystemHandle` (a context manager): ``.system``, ``.admin_port``,
  ``.scratch_dir``, ``.pids()``, ``.shutdown()``, ``.kill()``.
* :func:`attach` joins a system by admin port (to inspect it or stop one a dead driver left).
* :func:`default_system` is the process-wide system used when none is given.
* :func:`current_scratch_dir` tells any process of a system where its scratch directory is.
* :func:`add_persistent_log` makes a process append its log records to a file that outlives
  the system; :func:`relay_this_process` sends the logs and output of a process an actor
  started with ``exec`` (spawn, forkserver, subprocess) to the driver too.

Every message between the system's processes is authenticated (``runic.actors.auth``); the
system's logs and ``print()`` output reach the process that started it
(``runic.actors.relay``); a guardian process removes the system if that process dies at any
moment (``runic.actors.guardian``). See ``docs/supervision.md`` for the trust model and the
cleanup guarantees.
"""

from .errors import (
    ActorSystemError,
    ActorSystemStartError,
    AttachError,
    UnsafeBindAddressError,
)
from .logconf import LEVEL_ENV, add_persistent_log
from .network import DEFAULT_HOST, is_loopback
from .relay import relay_this_process
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
    "LEVEL_ENV",
    "ActorSystemError",
    "ActorSystemHandle",
    "ActorSystemStartError",
    "AttachError",
    "UnsafeBindAddressError",
    "add_persistent_log",
    "attach",
    "current_admin_port",
    "current_scratch_dir",
    "default_system",
    "is_loopback",
    "relay_this_process",
    "remove_stale_scratch_dirs",
    "scratch_path",
    "set_default_system",
    "start_system",
]
