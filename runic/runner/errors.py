"""Exceptions raised by the Runner."""

from __future__ import annotations

from typing import Any

from ..errors import FunctionRestoreError, RunicError

__all__ = ["RunnerError", "WorkflowNotFoundError", "AlreadyStartedError", "RunnerTimeoutError",
           "RunnerNotRunningError", "RunnerBusyError", "error_for"]


class RunnerError(RunicError):
    """Base class of the Runner's errors."""


class WorkflowNotFoundError(RunnerError, LookupError):
    """No running workflow has that id (for ``resume``: nothing is stored under it either)."""

    def __init__(self, message: str, workflow_id: Any = None) -> None:
        super().__init__(message)
        self.workflow_id = workflow_id


class AlreadyStartedError(RunnerError):
    """``start_workflow``/``resume`` of an id that is already running; ``location`` says where."""

    def __init__(self, message: str, location: Any = None) -> None:
        super().__init__(message)
        self.location = location


class RunnerTimeoutError(RunnerError, TimeoutError):
    """A Runner call got no answer in time (the workflow may still be running)."""


class RunnerNotRunningError(RunnerError):
    """The Runner was shut down, or its processes are gone."""


class RunnerBusyError(RunnerError):
    """The worker host of that workflow is restarting; retry in a moment."""


class RemoteFunctionRestoreError(FunctionRestoreError):
    """A :class:`~runic.errors.FunctionRestoreError` raised in a worker host, re-raised here."""

    def __init__(self, message: str) -> None:  # noqa: D107 - the remote text is complete
        Exception.__init__(self, message)


_BY_NAME = {f"{c.__module__}.{c.__qualname__}": c for c in
            (WorkflowNotFoundError, AlreadyStartedError, RunnerTimeoutError, RunnerNotRunningError,
             RunnerBusyError, RunnerError)}


def error_for(type_name: str, message: str) -> Exception:
    """The exception to raise in the caller for an error reply from a runner actor."""
    cls = _BY_NAME.get(type_name)
    if cls is not None:
        return cls(message)
    from ..store import errors as store_errors
    from ..supervisor.messages import ErrorReply

    short = type_name.rsplit(".", 1)[-1]
    store_cls = getattr(store_errors, short, None)
    if isinstance(store_cls, type) and issubclass(store_cls, Exception) and type_name.startswith("runic.store"):
        try:
            return store_cls(message)
        except TypeError:
            pass
    if type_name.endswith("FunctionRestoreError"):
        return RemoteFunctionRestoreError(message)
    return ErrorReply(type_name, message).to_exception()
