"""The Runner: durable, supervised execution of many workflows.

* :class:`Runner` — the handle: ``Runner.start_link(name=..., store=..., store_opts=...)``;
* :mod:`runic.runner.messages` — every operation as a request a thespian actor can send;
* :class:`~runic.runner.worker.Worker`, :class:`~runic.runner.host.WorkerHost`,
  :class:`~runic.runner.actor.RunnerActor` — the moving parts (see ``docs/durable-execution.md``).
"""

from . import messages
from .aio import AsyncRunner
from .errors import (
    AlreadyStartedError,
    PersistenceError,
    RequestInterruptedError,
    RunnerBusyError,
    RunnerError,
    RunnerNotRunningError,
    RunnerTimeoutError,
    WorkflowCancelledError,
    WorkflowFailedError,
    WorkflowLostError,
    WorkflowNotFoundError,
    WorkflowTakenOverError,
)
from .runner import Runner

__all__ = [
    "Runner", "AsyncRunner", "messages", "RunnerError", "WorkflowNotFoundError", "AlreadyStartedError",
    "RunnerTimeoutError", "RunnerNotRunningError", "RunnerBusyError", "WorkflowFailedError",
    "WorkflowTakenOverError", "WorkflowLostError", "WorkflowCancelledError", "PersistenceError", "RequestInterruptedError",
]
