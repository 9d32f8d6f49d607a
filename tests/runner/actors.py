"""A thespian actor that drives a Runner with messages only (used by test_messages.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from thespian.actors import ActorTypeDispatcher

import runic
from runic.runner.messages import (
    Accepted,
    AwaitIdle,
    ErrorReply,
    GetResults,
    Idle,
    Results,
    Run,
    StartWorkflow,
    WorkflowStarted,
    pack,
    unpack,
)

from . import fns


@dataclass
class Drive:
    """Ask the driver to run ``value`` through a fresh workflow ``workflow_id`` on ``runner``."""

    runner: Any
    workflow_id: str
    value: int


@dataclass
class Outcome:
    steps: list
    results: Any = None
    error: str | None = None


class RunnerDriver(ActorTypeDispatcher):
    """Start -> run -> await idle -> get results, each a message to the runner actor."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.job: Drive | None = None
        self.client: Any = None
        self.steps: list = []

    def receiveMsg_Drive(self, msg: Drive, sender: Any) -> None:  # noqa: N802
        self.job, self.client, self.steps = msg, sender, []
        wf = runic.workflow("by-messages", steps=[(runic.step(fns.add1, name="a"), [runic.step(fns.double, name="b")])])
        self.send(msg.runner, StartWorkflow(msg.workflow_id, pack(wf), ref="start"))

    def receiveMsg_WorkflowStarted(self, msg: WorkflowStarted, sender: Any) -> None:  # noqa: N802
        self.steps.append("started")
        self.send(self.job.runner, Run(self.job.workflow_id, pack(self.job.value), ref="run"))

    def receiveMsg_Accepted(self, msg: Accepted, sender: Any) -> None:  # noqa: N802
        self.steps.append("accepted")
        self.send(self.job.runner, AwaitIdle(self.job.workflow_id, ref="idle"))

    def receiveMsg_Idle(self, msg: Idle, sender: Any) -> None:  # noqa: N802
        self.steps.append(f"idle:{msg.status}")
        self.send(self.job.runner, GetResults(self.job.workflow_id, ["b"], ref="results"))

    def receiveMsg_Results(self, msg: Results, sender: Any) -> None:  # noqa: N802
        self.steps.append("results")
        self.send(self.client, Outcome(self.steps, unpack(msg.value_blob)))

    def receiveMsg_ErrorReply(self, msg: ErrorReply, sender: Any) -> None:  # noqa: N802
        self.send(self.client, Outcome(self.steps, error=f"{msg.type}: {msg.message}"))
