"""Logging for the actor system: one log file per system, Python ``logging`` everywhere.

Inside every actor process ``logging.getLogger(...)`` works as usual: thespian forwards each
record to the system's logger process, which hands it to the handlers configured here (a
``logging.FileHandler`` on the system's log file). thespian's own internal log (``thesplog``)
goes to a second file next to it. Both are filtered by ``RUNIC_LOG_LEVEL`` (default
``WARNING``). The stdout/stderr of every process of the system are redirected to a third
file (``stdio.log``), so actors never write into the driver's terminal or pipes.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from ..errors import ArgumentError

__all__ = ["log_level", "log_defs", "configure_thesplog"]

LEVEL_ENV = "RUNIC_LOG_LEVEL"


def log_level(explicit: str | int | None = None) -> int:
    """The level to use: ``explicit``, else ``$RUNIC_LOG_LEVEL``, else ``WARNING``."""
    value: str | int | None = explicit if explicit is not None else os.environ.get(LEVEL_ENV)
    if value is None or value == "":
        return logging.WARNING
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


def log_defs(log_file: Path, level: int) -> dict:
    """The ``logging.config.dictConfig`` dict given to thespian as ``logDefs``."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "runic": {
                "format": "%(asctime)s %(levelname)s pid=%(process)d %(name)s: %(message)s",
            }
        },
        "handlers": {
            "file": {
                "class": "logging.FileHandler",
                "filename": str(log_file),
                "formatter": "runic",
                "level": level,
            }
        },
        "root": {"level": level, "handlers": ["file"]},
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
