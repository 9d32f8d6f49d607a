"""Errors of the command line: one line saying what is wrong and what to do, and an exit code.

Exit codes (also in ``docs/cli.md``):

* ``0`` — success;
* ``1`` — the command ran but the work did not succeed: a step failed, a timeout, a runner
  that stopped answering, an unexpected error;
* ``2`` — the command could not start because of what it was given: a usage error, an unknown
  workflow id, a module that does not import, an attribute that is not a workflow, malformed
  JSON, a data directory that is not a runic store or is from an incompatible version;
* ``130`` — interrupted with Ctrl-C or SIGTERM (:class:`Interrupted`: one line, without the
  ``error:`` prefix, saying whether the workflow was saved and how to continue it).

:func:`describe` turns any exception into ``(message, exit code)``; tracebacks are shown only
with ``--debug`` (or ``RUNIC_DEBUG=1``).
"""

from __future__ import annotations

import logging

__all__ = ["CliError", "UsageProblem", "WorkFailed", "Interrupted", "describe", "EXIT_OK", "EXIT_FAILED", "EXIT_USAGE",
           "EXIT_INTERRUPTED"]

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class CliError(Exception):
    """An error the command line reports as one line (``message``) with ``exit_code``."""

    exit_code = EXIT_FAILED

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if exit_code is not None:
            self.exit_code = exit_code


class UsageProblem(CliError):
    """Bad input: an argument, an id, a module, a data directory (exit code 2)."""

    exit_code = EXIT_USAGE


class WorkFailed(CliError):
    """The command ran, but the workflow did not succeed (exit code 1)."""

    exit_code = EXIT_FAILED


class Interrupted(CliError):
    """Ctrl-C or SIGTERM (exit code 130); ``message`` says how to continue. It is printed
    without the ``error:`` prefix: nothing went wrong, the user stopped the command."""

    exit_code = EXIT_INTERRUPTED


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def describe(exc: BaseException) -> tuple[str, int]:
    """``(one-line message, exit code)`` for an exception raised while running a command."""
    from ..errors import FunctionRestoreError, RunicError
    from ..store import errors as store_errors

    if isinstance(exc, CliError):
        return _one_line(exc.message), exc.exit_code
    if isinstance(exc, (store_errors.CorruptStoreError, store_errors.ForeignStoreError)):
        return _one_line(f"not a usable runic store: {exc}"), EXIT_USAGE
    if isinstance(exc, store_errors.SchemaVersionError):
        return _one_line(f"incompatible runic store: {exc}"), EXIT_USAGE
    if isinstance(exc, store_errors.StoreAccessError):
        return _one_line(str(exc)), EXIT_USAGE
    if isinstance(exc, FunctionRestoreError):
        return _one_line(
            f"{exc} (run the command where the workflow's module is importable: from its directory, "
            "or with it on PYTHONPATH)"), EXIT_USAGE
    if isinstance(exc, RunicError):
        return _one_line(f"{type(exc).__name__}: {exc}"), EXIT_FAILED
    return _one_line(f"unexpected error: {type(exc).__name__}: {exc} (run again with --debug for the traceback)"), \
        EXIT_FAILED
