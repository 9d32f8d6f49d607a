"""Supervisor errors. Every message names the thing and says what to do."""

from __future__ import annotations

from ..errors import RunicError
from ..remote import RemoteError as _RemoteError

__all__ = [
    "SupervisorError",
    "InvalidChildSpecError",
    "ChildStartError",
    "SupervisorStartError",
    "ChildNotFoundError",
    "ChildAlreadyPresentError",
    "ChildRunningError",
    "SupervisorNotRunningError",
    "SupervisorTimeoutError",
    "RemoteError",
]


class SupervisorError(RunicError):
    """Base class of every error raised by :mod:`runic.supervisor`."""


class InvalidChildSpecError(SupervisorError, ValueError):
    """A child specification is malformed (bad id, start, restart, shutdown or type)."""


class ChildStartError(SupervisorError):
    """A child could not be started (its ``on_start`` raised, it died, or it timed out)."""


class SupervisorStartError(SupervisorError):
    """A supervisor could not start (one of its children failed to start)."""


class ChildNotFoundError(SupervisorError, LookupError):
    """No child with that id under this supervisor."""


class ChildAlreadyPresentError(SupervisorError, ValueError):
    """A child with that id already exists under this supervisor."""


class ChildRunningError(SupervisorError):
    """The operation needs the child to be stopped, and it is running."""


class SupervisorNotRunningError(SupervisorError):
    """The supervisor does not answer: it has exited (stopped, or gave up after too many restarts)."""


class SupervisorTimeoutError(SupervisorError, TimeoutError):
    """The supervisor did not answer in time."""


RemoteError = _RemoteError
"""Re-exported from :mod:`runic.remote` (errors crossing processes are rebuilt there)."""
