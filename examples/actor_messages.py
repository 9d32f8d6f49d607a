"""Drive a Runner from your own thespian actor, with messages only (runic.runner.messages).

Every Runner operation is a request dataclass; replies echo the request's ``ref`` and errors
come back as ``ErrorReply(type, message)``. User values travel packed (``pack``/``unpack``).
"""

import sys
import tempfile

from thespian.actors import ActorTypeDispatcher

import runic
from runic.actors import start_system
from runic.runner import Runner
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
from runic.store import MnesiaStore


def square(x):
    return x * x


class Client(ActorTypeDispatcher):
    """Receives (runner_address, numbers); starts a workflow, feeds it, answers with results."""

    def receiveMsg_tuple(self, msg, sender):  # noqa: N802 - thespian naming
        self.runner, numbers = msg
        self.client, self.numbers = sender, list(numbers)
        wf = runic.workflow("squares", steps=[runic.step(square)])
        self.send(self.runner, StartWorkflow("squares", pack(wf), ref="start"))

    def receiveMsg_WorkflowStarted(self, msg: WorkflowStarted, sender):  # noqa: N802
        for n in self.numbers:
            self.send(self.runner, Run("squares", pack(n), ref=f"run-{n}"))

    def receiveMsg_Accepted(self, msg: Accepted, sender):  # noqa: N802
        if msg.ref == f"run-{self.numbers[-1]}":
            self.send(self.runner, AwaitIdle("squares", ref="idle"))

    def receiveMsg_Idle(self, msg: Idle, sender):  # noqa: N802
        self.send(self.runner, GetResults("squares", ref="results"))

    def receiveMsg_Results(self, msg: Results, sender):  # noqa: N802
        self.send(self.client, sorted(unpack(msg.value_blob)))

    def receiveMsg_ErrorReply(self, msg: ErrorReply, sender):  # noqa: N802
        self.send(self.client, f"error: {msg.type}: {msg.message}")


def main() -> None:
    data_dir = sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="runic-example-")
    with start_system() as system, \
            Runner.start_link(name="msgs", store=MnesiaStore, store_opts={"dir": data_dir}, system=system) as runner:
        client = system.create_actor(Client)
        print("squares:", system.ask(client, (runner.address, (1, 2, 3, 4)), 30))
        print("again (same id):", system.ask(client, (runner.address, (5,)), 30))


if __name__ == "__main__":
    main()
