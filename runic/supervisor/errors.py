"""Supervisor errors. Every message names the thing and says what to do."""

from __future__ import annotations

from ..errors import RunicError

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
    "error_class",
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


class RemoteError(SupervisorError):
    """An error reply whose type is not a known runic supervisor error (``type`` names it)."""

    def __init__(self, type_name: str, message: str) -> None:
        self.type_name = type_name
        super().__init__(f"{type_name}: {message}")


_BY_NAME = {
    cls.__name__: cls
    for cls in (
        SupervisorError,
        InvalidChildSpecError,
        ChildStartError,
        SupervisorStartError,
        ChildNotFoundError,
        ChildAlreadyPresentError,
        ChildRunningError,
        SupervisorNotRunningError,
        SupervisorTimeoutError,
    )
}


def error_class(type_name: str) -> type[SupervisorError] | None:
    """The supervisor error class named by an ``ErrorReply.type`` (qualified or not)."""
    return _BY_NAME.get(type_name.rpartition(".")[2]) if type_name.startswith("runic.") else None
