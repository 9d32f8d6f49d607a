"""Exceptions raised by the Runner.

``runic.runner.WorkflowFailedError`` is the core's :class:`runic.WorkflowFailedError` (one
class, re-exported here): a waiter of a workflow that settled as failed gets it, with
``.failures``."""

from __future__ import annotations

from typing import Any

from ..errors import RunicError, WorkflowFailedError
from ..remote import rebuild
from ..store.errors import StoreError

__all__ = ["RunnerError", "WorkflowNotFoundError", "AlreadyStartedError", "RunnerTimeoutError",
           "RunnerNotRunningError", "RunnerBusyError", "WorkflowFailedError", "WorkflowTakenOverError",
           "PersistenceError", "WorkflowLostError", "WorkflowCancelledError", "RequestInterruptedError",
           "SelfFencedError", "RequestRefusedError", "error_for"]


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


class WorkflowTakenOverError(RunnerError):
    """Another Runner (or process) took the workflow over; ``owner`` names it."""

    def __init__(self, message: str, workflow_id: Any = None, owner: Any = None) -> None:
        super().__init__(message)
        self.workflow_id = workflow_id
        self.owner = owner


class PersistenceError(RunnerError):
    """The workflow's events could not be written to the store for too long (the Worker keeps
    them and keeps retrying; waiting on it again is safe)."""

    def __init__(self, message: str, workflow_id: Any = None) -> None:
        super().__init__(message)
        self.workflow_id = workflow_id


class WorkflowLostError(RunnerError):
    """The process running the workflow died and no Worker took it over (see the message)."""

    def __init__(self, message: str, workflow_id: Any = None) -> None:
        super().__init__(message)
        self.workflow_id = workflow_id


class RequestInterruptedError(RunnerError):
    """The process that was taking a request died before it answered: whether the request took
    effect is unknown (the message says how to find out)."""

    def __init__(self, message: str, workflow_id: Any = None) -> None:
        super().__init__(message)
        self.workflow_id = workflow_id


class WorkflowCancelledError(RunnerError):
    """The workflow was cancelled (a ``cancelled`` workflow is not resumed)."""

    def __init__(self, message: str, workflow_id: Any = None) -> None:
        super().__init__(message)
        self.workflow_id = workflow_id


class RequestRefusedError(RunnerError):
    """The node that runs a workflow refused a request sent to it through the store (the
    message says why: an input its workflow cannot take, a policy for a component it lacks)."""

    def __init__(self, message: str, workflow_id: Any = None) -> None:
        super().__init__(message)
        self.workflow_id = workflow_id


class SelfFencedError(StoreError, RunnerError):
    """A write refused by this node itself: its lease could not be renewed in time, so it stopped
    writing before another node may take its workflows over (see :mod:`runic.runner.gate`). A
    :class:`~runic.store.StoreError`: a Worker keeps what it could not write and retries."""


def error_for(type_name: str, message: str, attrs: dict[Any, Any] | None = None) -> Exception:
    """The exception to raise in the caller for an error reply (see :mod:`runic.remote`)."""
    return rebuild(type_name, message, attrs)
