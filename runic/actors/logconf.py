"""Logging for the actor system: records reach the driver, a scratch file, and optional files.

Inside every actor process ``logging.getLogger(...)`` works as usual: thespian forwards each
record at or above the system's level to the system's logger process, which hands it to the
handlers configured here: the relay to the driver (``runic.actors.relay``: the records are
re-emitted in the driver's ``logging`` under their own names and levels) and a
``logging.FileHandler`` on ``<scratch>/runic.log`` (diagnostics, removed with the system).
thespian's own internal log (``thesplog``) goes to ``<scratch>/thespian.log``.

**The level** (:func:`log_level`): ``log_level=`` given to ``start_system``, else
``$RUNIC_LOG_LEVEL`` (a name such as ``INFO`` or a number), else the effective level of the
driver's root logger when the system starts (``WARNING`` unless the program configured
logging). Records below it are dropped in the process that logs them.

**Files that survive.** :func:`add_persistent_log` makes the calling process append its
records to a file of your choice (for example beside a store's data), one ``write`` per record
on an ``O_APPEND`` descriptor, so several processes can share one file.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

from ..errors import ArgumentError

__all__ = ["LEVEL_ENV", "log_level", "log_defs", "configure_thesplog", "add_persistent_log",
           "PERSISTENT_FORMAT"]

LEVEL_ENV = "RUNIC_LOG_LEVEL"


PERSISTENT_FORMAT = "%(asctime)s %(levelname)s pid=%(process)d %(name)s: %(message)s"


def log_level(explicit: str | int | None = None) -> int:
    """The level to use: ``explicit``, else ``$RUNIC_LOG_LEVEL``, else the driver's root level."""
    value: str | int | None = explicit if explicit is not None else os.environ.get(LEVEL_ENV)
    if value is None or value == "":
        return logging.getLogger().getEffectiveLevel()
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if text.isdigit():
        return int(text)
    level = logging.getLevelName(text.upper())
    if not isinstance(level, int):
        raise ArgumentError(
            f"unknown log level {value!r} (from {LEVEL_ENV} or log_level=); "
            "use DEBUG, INFO, WARNING, ERROR or CRITICAL"
        )
    return level


def log_defs(log_file: Path, level: int, relay_path: Path | None = None) -> dict:
    """The ``logging.config.dictConfig`` dict given to thespian as ``logDefs``.

    It configures thespian's logger process: the scratch log file and, with ``relay_path``,
    the relay to the driver.
    """
    handlers: dict = {
        "file": {
            "class": "logging.FileHandler",
            "filename": str(log_file),
            "formatter": "runic",
            "level": level,
        }
    }
    if relay_path is not None:
        handlers["relay"] = {"()": "runic.actors.relay.RelayHandler", "path": str(relay_path),
                             "level": level, "skip_own": True}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"runic": {"format": PERSISTENT_FORMAT}},
        "handlers": handlers,
        "root": {"level": level, "handlers": list(handlers)},
    }


def configure_thesplog(log_file: Path, level: int) -> None:
    """Point thespian's internal log at ``log_file`` for processes forked from now on."""
    os.environ["THESPLOG_FILE"] = str(log_file)
    os.environ["THESPLOG_THRESHOLD"] = logging.getLevelName(level)
    try:
        from thespian.system import utilis

        utilis._thesplog_file = None  # re-read THESPLOG_FILE on next use
        utilis._thesplog_old_file = None
        settings = list(utilis._thesplog_control_settings)
        settings[0] = level
        utilis._thesplog_control_settings = tuple(settings)
    except (ImportError, AttributeError):  # pragma: no cover - other thespian version
        pass


class _AppendHandler(logging.Handler):
    """Appends each record as one ``write`` on an ``O_APPEND`` descriptor (shared by processes)."""

    def __init__(self, path: Path, level: int) -> None:
        super().__init__(level)
        self.path = path
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        self.setFormatter(logging.Formatter(PERSISTENT_FORMAT))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            data = (self.format(record) + "\n").encode("utf-8", "backslashreplace")
            while data:
                written = os.write(self.fd, data)
                data = data[written:]
        except Exception:  # noqa: BLE001 - logging must never raise
            self.handleError(record)

    def close(self) -> None:
        with _persistent_lock:
            key = (os.getpid(), str(self.path))
            if _persistent.get(key) is self:
                del _persistent[key]
        try:
            os.close(self.fd)
        except OSError:
            pass
        super().close()


def append_handler(path: str | os.PathLike, level: int = logging.NOTSET) -> logging.Handler:
    """A handler appending one line per record to ``path`` (not registered anywhere)."""
    return _AppendHandler(Path(path), level)


_persistent: dict[tuple[int, str], _AppendHandler] = {}
_persistent_lock = threading.Lock()


def add_persistent_log(path: str | os.PathLike, level: str | int | None = None) -> logging.Handler:
    """Append this process's log records to ``path`` (created 0600 if missing); returns the handler.

    Every record that reaches this process's root logger (in an actor process: every record
    at or above the system's level) is written as one line (plus its traceback) by one
    ``write`` on an ``O_APPEND`` descriptor, so any number of processes can append to the same
    file without interleaving. The file survives the actor system. Calling it again for the
    same path in the same process returns the same handler. ``level`` (default: the
    :func:`log_level` rule) filters further. Remove it with
    ``logging.getLogger().removeHandler(handler); handler.close()``.

    Raises ``OSError`` if the file cannot be opened (for example, its directory is missing).
    """
    resolved = Path(path).resolve()
    key = (os.getpid(), str(resolved))
    with _persistent_lock:
        handler = _persistent.get(key)
        if handler is not None:
            return handler
        handler = _AppendHandler(resolved, log_level(level) if level is not None else logging.NOTSET)
        _persistent[key] = handler
    # thespian's root logger in actor processes refuses addHandler; the base method works
    logging.Logger.addHandler(logging.getLogger(), handler)
    return handler
