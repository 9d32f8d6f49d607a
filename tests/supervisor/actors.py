"""Actor classes for the supervisor tests (module level: thespian re-imports them by name)."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

from runic.supervisor import ChildActor, ChildSpec
from runic.supervisor.child import set_parent_death_signal


@dataclass
class Ping:
    ref: Any = None


@dataclass
class Pong:
    child_id: str
    pid: int
    ref: Any = None


@dataclass
class Crash:
    """how: 'raise' (exception in the handler), 'exit' (os._exit), 'normal' (exit_normally)."""

    how: str = "raise"


@dataclass
class Put:
    key: str
    value: Any


@dataclass
class Get:
    key: str


@dataclass
class Value:
    key: str
    value: Any
    pid: int


@dataclass
class AskSupervisor:
    """Ask the actor to send ``request`` to ``supervisor`` and forward the reply to the asker."""

    supervisor: Any
    request: Any


def journal(opts: dict, line: str) -> None:
    path = opts.get("journal")
    if path:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, (line + "\n").encode())
        finally:
            os.close(fd)


class Echo(ChildActor):
    """Answers Ping; crashes on demand; journals its starts and stops."""

    def on_start(self, opts: dict) -> dict:
        if opts.get("start_delay"):
            time.sleep(opts["start_delay"])
        journal(opts, f"start {self.child_id} {os.getpid()}")
        return {"started_pid": os.getpid()}

    def on_stop(self, reason: str) -> None:
        if self.opts.get("stop_delay"):
            time.sleep(self.opts["stop_delay"])
        journal(self.opts, f"stop {self.child_id} {reason}")

    def receiveMsg_Ping(self, msg: Ping, sender: Any) -> None:  # noqa: N802
        self.send(sender, Pong(self.child_id or "", os.getpid(), msg.ref))

    def receiveMsg_Crash(self, msg: Crash, sender: Any) -> None:  # noqa: N802
        if msg.how == "raise":
            raise RuntimeError(f"boom in {self.child_id}")
        if msg.how == "exit":
            os._exit(3)
        if msg.how == "normal":
            self.exit_normally()
            return
        raise ValueError(f"unknown crash kind {msg.how!r}")


class FailingStart(Echo):
    """on_start raises while the file opts['fail_flag'] exists (or always with opts['fail'])."""

    def on_start(self, opts: dict) -> dict:
        journal(opts, f"try {self.child_id} {os.getpid()}")
        if opts.get("fail") or (opts.get("fail_flag") and os.path.exists(opts["fail_flag"])):
            raise RuntimeError(f"{self.child_id} refuses to start")
        return super().on_start(opts)


class NoDeathSignal(Echo):
    """An Echo without PR_SET_PDEATHSIG: proves the orphan polling on its own."""

    def __init__(self) -> None:
        super().__init__()
        set_parent_death_signal(0)


class StoreActor(Echo):
    """A key/value store shaped like the runner's store child."""

    @classmethod
    def child_spec(cls, opts: dict) -> ChildSpec:
        return ChildSpec(id=f"{opts.get('runner_name', 'app')}.Store", start=(cls, opts))

    def on_start(self, opts: dict) -> dict:
        self.data: dict = {}
        return super().on_start(opts)

    def receiveMsg_Put(self, msg: Put, sender: Any) -> None:  # noqa: N802
        self.data[msg.key] = msg.value
        self.send(sender, Value(msg.key, msg.value, os.getpid()))

    def receiveMsg_Get(self, msg: Get, sender: Any) -> None:  # noqa: N802
        self.send(sender, Value(msg.key, self.data.get(msg.key), os.getpid()))


class RunnerActor(Echo):
    """Shaped like the runner: answers Ping, and can drive a supervisor from inside an actor."""

    @classmethod
    def child_spec(cls, opts: dict) -> ChildSpec:
        return ChildSpec(id=f"{opts.get('name', 'app')}.Runner", start=(cls, opts))

    def on_start(self, opts: dict) -> dict:
        self.pending: list = []
        return super().on_start(opts)

    def receiveMsg_AskSupervisor(self, msg: AskSupervisor, sender: Any) -> None:  # noqa: N802
        self.pending.append(sender)
        self.send(msg.supervisor, msg.request)

    def receiveUnrecognizedMessage(self, msg: Any, sender: Any) -> None:  # noqa: N802
        # replies from the supervisor (ChildStarted, Done, ErrorReply, ...) go back to the asker
        if self.pending and hasattr(msg, "ref"):
            self.send(self.pending.pop(0), msg)


def spawn_spec(child_id: str, **opts: Any) -> ChildSpec:
    return ChildSpec(id=child_id, start=(Echo, opts))



@dataclass
class WhereAmI:
    """Reply with this process's view of the actor system: Value('scratch', path, pid)."""


@dataclass
class LogWarning:
    text: str


class Introspect(ChildActor):
    """Answers WhereAmI and logs on demand (for the runic.actors tests)."""

    def receiveMsg_WhereAmI(self, msg: WhereAmI, sender: Any) -> None:  # noqa: N802
        from runic.actors import current_scratch_dir

        self.send(sender, Value("scratch", str(current_scratch_dir()), os.getpid()))

    def receiveMsg_LogWarning(self, msg: LogWarning, sender: Any) -> None:  # noqa: N802
        import logging

        logging.getLogger("tests.supervisor.introspect").warning("%s", msg.text)
        self.send(sender, Value("logged", msg.text, os.getpid()))


class BadInit(ChildActor):
    """Raises in __init__ (thespian reports the child as exited before it ever answers)."""

    def __init__(self) -> None:
        super().__init__()
        raise RuntimeError("broken constructor")


class PlainActor:
    """Not a ChildActor: a supervisor must refuse to start it."""
