"""What every command shares: the options naming the store, the console, logging, import paths."""

from __future__ import annotations

import logging
import math
import os
import sys
from dataclasses import dataclass
from typing import Any, Callable

import click
from rich.console import Console

__all__ = ["Settings", "Seconds", "store_options", "debug_option", "make_console", "setup_logging", "add_cwd_to_path",
           "DEFAULT_RUNNER", "debug_requested"]

DEFAULT_RUNNER = "runic"
"""The runner name the command line uses (it is also the prefix of the store's table names)."""


@dataclass(frozen=True)
class Settings:
    """Where the command finds its store: ``dir`` (``None``: the default directory) or ``dsn``
    (a PostgreSQL connection string: ``--dsn`` or ``$RUNIC_DATABASE_URL``, which selects
    ``PostgresStore``), and the runner name whose tables it uses."""

    dir: str | None
    runner: str
    debug: bool = False
    dsn: str | None = None

    @property
    def store_name(self) -> str:
        """The store the command uses, as :mod:`runic.store.registry` names it."""
        return "postgres" if self.dsn else "mnesia"

    @property
    def store_opts(self) -> dict[str, Any]:
        """The options that open it (``dsn=``, or ``dir=``)."""
        return {"dsn": self.dsn} if self.dsn else {"dir": self.data_dir}

    @property
    def location(self) -> str:
        """The store directory, or the PostgreSQL server and database (never its password)."""
        if not self.dsn:
            return self.data_dir
        return f"PostgreSQL {_describe_dsn(self.dsn)}"

    @property
    def data_dir(self) -> str:
        """The absolute store directory (``--dir``, else ``$RUNIC_DATA_DIR``, else
        ``./runic-data/<node>``)."""
        if self.dir:
            return os.path.abspath(os.path.expanduser(self.dir))
        from ..store.mnesia import default_dir

        return default_dir()

    @property
    def where(self) -> str:
        """``<dir> (runner '<name>')`` for messages."""
        return f"{self.location} (runner {self.runner!r})"

    def hint_flags(self) -> str:
        """The ``--dir``/``--dsn``/``--runner`` flags to repeat in suggested commands (empty for
        defaults; a connection string from ``$RUNIC_DATABASE_URL``, or one with a password, is
        not repeated)."""
        parts = []
        if self.dsn:
            if self.dsn != os.environ.get("RUNIC_DATABASE_URL") and "password" not in self.dsn \
                    and "@" not in self.dsn.split("//", 1)[-1].split("/", 1)[0]:
                parts.append(f"--dsn {_quote(self.dsn)}")
        elif self.dir:
            parts.append(f"--dir {_quote(self.dir)}")
        if self.runner != DEFAULT_RUNNER:
            parts.append(f"--runner {_quote(self.runner)}")
        return (" " + " ".join(parts)) if parts else ""

    def command(self, verb: str, workflow_id: object = None) -> str:
        """The command line to suggest for ``verb`` on ``workflow_id``, with the flags that find
        this store (``runic resume order-7 --dir ./data``); an id that looks like an option
        comes after ``--``."""
        line = f"runic {verb}{self.hint_flags()}"
        if workflow_id is None:
            return line
        text = str(workflow_id)
        return f"{line} -- {_quote(text)}" if text.startswith("-") else f"runic {verb} {_quote(text)}{self.hint_flags()}"


class Seconds(click.ParamType):
    """A duration in seconds: a finite number greater than 0 (``nan``, ``inf``, 0 and negative
    numbers are refused with a usage error)."""

    name = "seconds"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            seconds = float(value)
        else:
            try:
                seconds = float(str(value).strip())
            except ValueError:
                self.fail(f"{value!r} is not a number of seconds; give one like 30 or 2.5", param, ctx)
        if not math.isfinite(seconds) or seconds <= 0:
            self.fail(f"{value!r} is not a duration: give a finite number of seconds greater than 0, like 30",
                      param, ctx)
        return seconds


def _describe_dsn(dsn: str) -> str:
    """``host:port/dbname`` of a connection string, without its password."""
    try:
        from ..store._pg import describe
    except ImportError:  # psycopg missing: opening the store says how to install it
        return "(the database of --dsn)"
    return describe(dsn)


def _quote(text: str) -> str:
    import shlex

    return shlex.quote(text)


def debug_requested() -> bool:
    """``--debug`` anywhere on the command line, or ``RUNIC_DEBUG=1``."""
    return "--debug" in sys.argv[1:] or os.environ.get("RUNIC_DEBUG", "") not in ("", "0")


def debug_option(fn: Callable) -> Callable:
    """``--debug``: show tracebacks and debug logs."""
    return click.option("--debug", is_flag=True, default=False, expose_value=False, is_eager=True,
                        help="Show tracebacks and debug logs (also RUNIC_DEBUG=1).")(fn)


def store_options(fn: Callable) -> Callable:
    """``--dir``, ``--dsn`` and ``--runner`` (and ``--debug``), folded into a ``settings``
    argument. A connection string (``--dsn`` or ``$RUNIC_DATABASE_URL``) selects the
    PostgreSQL store; ``--dir`` on the command line together with ``--dsn`` is an error."""

    fn = click.option("--runner", "runner", default=DEFAULT_RUNNER, show_default=True, envvar="RUNIC_RUNNER",
                      show_envvar=True, metavar="NAME",
                      help="Runner name: the prefix of the store tables the workflows live in.")(fn)
    fn = click.option("--dsn", "dsn", default=None, envvar="RUNIC_DATABASE_URL", show_envvar=True,
                      metavar="DSN",
                      help="PostgreSQL connection string or URL: use the PostgresStore there instead "
                           "of a store directory.")(fn)
    fn = click.option("--dir", "data_dir", default=None, envvar="RUNIC_DATA_DIR", show_envvar=True,
                      metavar="DIR",
                      help="Store directory (default: ./runic-data/<host name>).")(fn)
    fn = debug_option(fn)

    import functools

    @functools.wraps(fn)
    def wrapper(*args: Any, data_dir: str | None, runner: str, dsn: str | None, **kwargs: Any) -> Any:
        from .errors import UsageProblem

        if not runner or not runner.strip():
            raise UsageProblem("--runner needs a non-empty name (the default is 'runic')")
        if dsn is not None and not dsn.strip():
            dsn = None
        if dsn and data_dir:
            ctx = click.get_current_context(silent=True)
            source = ctx.get_parameter_source("data_dir") if ctx is not None else None
            if source == click.core.ParameterSource.COMMANDLINE:
                raise UsageProblem("give either --dir (a store directory) or --dsn (a PostgreSQL database), not both")
            data_dir = None  # $RUNIC_DATA_DIR yields to a connection string
        return fn(*args, settings=Settings(data_dir, runner, debug_requested(), dsn), **kwargs)

    return wrapper


def make_console() -> Console:
    """The console user-facing output goes to (stdout). Outside a terminal it is 120 columns
    wide, without colours or animation."""
    probe = Console()
    if probe.is_terminal:
        return probe
    return Console(width=int(os.environ.get("COLUMNS", "0") or 0) or 120, no_color=True, highlight=False,
                   emoji=False)


def setup_logging(debug: bool) -> None:
    """Warnings (or everything, with ``--debug``) of runic's loggers to stderr, one line each."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s" if debug else "warning: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if debug else logging.WARNING)
    if not debug:
        logging.getLogger("thespian").setLevel(logging.ERROR)


def add_cwd_to_path() -> None:
    """Make modules in the working directory importable here and in the worker hosts this
    process starts (as ``python -m`` does): ``sys.path`` and ``PYTHONPATH``."""
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)
    current = os.environ.get("PYTHONPATH", "")
    parts = [p for p in current.split(os.pathsep) if p]
    if cwd not in parts:
        os.environ["PYTHONPATH"] = os.pathsep.join([cwd, *parts])
