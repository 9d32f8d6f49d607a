"""Where a Runner's log records go besides the driver: a file beside the store's data.

Records logged by steps, hooks and runic itself in a Runner's processes reach the ``logging`` of
the process that started the Runner (relayed by the actor system, see
:mod:`runic.actors.relay`), and are also appended to ``<store dir>/<runner>.log``, which survives
shutdown and crashes, so ``runic show`` can point at it after every process is gone. Stores with no
local directory (in-process tables, a database server) keep no such file.

**Thread territory:** :func:`attach` runs once per process, on the thread that starts it (a worker
host's ``on_start``, the runner actor's start, an attempt process's first line).
"""

from __future__ import annotations

import logging
import os
from typing import Any

from ..actors import add_persistent_log

__all__ = ["log_file", "attach"]

log = logging.getLogger("runic.runner")


def log_file(store: Any, runner_name: str) -> str | None:
    """``<dir>/<runner>.log`` for a store that keeps its data in a local directory on disk."""
    directory = getattr(store, "local_dir", None)
    if not directory:
        return None
    return os.path.join(os.fspath(directory), f"{runner_name}.log")


def attach(path: str | None) -> None:
    """Append this process's records to ``path`` (no-op for ``None``); a failure is logged, never
    raised (logs must not stop a Runner)."""
    if path is None:
        return
    try:
        add_persistent_log(path)
    except OSError as exc:
        log.warning("cannot write the Runner's log file %s: %s", path, exc)
