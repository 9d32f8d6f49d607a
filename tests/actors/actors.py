"""Actor classes and step functions for the tests of ``runic.actors`` (module level: thespian and
the worker hosts import them by name)."""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass
from typing import Any

from runic.actors import add_persistent_log
from runic.supervisor import ChildActor

log = logging.getLogger("tests.actors.talker")
audit_log = logging.getLogger("tests.actors.audit")  # created in the driver, inherited by actors

#: read by ``read_setting`` in a worker host; tests monkeypatch it
SETTING = "original"


@dataclass
class Say:
    """Ask a Talker to log ``count`` records at ``level`` and print ``count`` lines."""

    text: str
    count: int = 1
    level: int = logging.WARNING


class Talker(ChildActor):
    """Logs and prints on request, on start and on stop; may append to a persistent log."""

    def on_start(self, opts: dict) -> dict:
        if opts.get("persistent_log"):
            add_persistent_log(opts["persistent_log"])
        log.warning("talker %s started in pid %d", self.child_id, os.getpid())
        return {"pid": os.getpid()}

    def on_stop(self, reason: str) -> None:
        for i in range(int(self.opts.get("stop_lines", 0))):
            log.warning("stop record %d of %s", i, self.child_id)
            print(f"stop line {i} of {self.child_id}")
            print(f"stop err line {i} of {self.child_id}", file=sys.stderr)

    def receiveMsg_Say(self, msg: Say, sender: Any) -> None:  # noqa: N802
        for i in range(msg.count):
            log.log(msg.level, "%s #%d", msg.text, i)
            print(f"{msg.text} printed #{i}")
        self.send(sender, "said")


def noisy_step(x: int) -> int:
    """A step that logs at INFO and WARNING and prints to stdout and stderr."""
    steplog = logging.getLogger("tests.actors.steps")
    steplog.info("info from the step, x=%s", x)
    steplog.warning("warning from the step, x=%s", x)
    print(f"stdout from the step, x={x}")
    print(f"stderr from the step, x={x}", file=sys.stderr)
    return x + 1


def read_setting(x: Any) -> str:
    """A step returning the module attribute ``SETTING`` as the worker host sees it."""
    return f"{SETTING}:{os.environ.get('RUNIC_TEST_SETTING', '')}"


class Auditor(ChildActor):
    """Logs each Say on the ``tests.actors.audit`` logger (which the test makes non-propagating)."""

    def receiveMsg_Say(self, msg: Say, sender: Any) -> None:  # noqa: N802
        audit_log.warning(msg.text)
        self.send(sender, "said")
