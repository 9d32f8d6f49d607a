"""Batches: one ``StartMany``/``AwaitMany`` request split across worker hosts, answered once.

The runner actor sends each host its part and merges the parts' answers; :class:`Batch` is that
bookkeeping as a plain class (tested without actors). **Thread territory:** the runner actor's
thread only.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from .messages import ManyIdle, ManyStarted

__all__ = ["Batch"]


@dataclasses.dataclass
class Batch:
    """A request split into parts. ``done``: workflow id -> host (start) or status (await);
    ``errors``: workflow id -> ``(type, message, attrs)``."""

    sender: Any
    ref: Any
    kind: str  # "start" | "await"
    parts: int = 0
    done: dict[Any, Any] = dataclasses.field(default_factory=dict)
    errors: dict[Any, Any] = dataclasses.field(default_factory=dict)
    answered: bool = False

    def sent_part(self) -> None:
        self.parts += 1

    def part_answered(self, done: dict[Any, Any], errors: dict[Any, Any]) -> None:
        self.done.update(done)
        self.errors.update(errors)
        self.parts -= 1

    def reply(self) -> Any | None:
        """The merged answer once every part has answered (once); else ``None``."""
        if self.parts > 0 or self.answered or self.sender is None:
            return None
        self.answered = True
        cls = ManyStarted if self.kind == "start" else ManyIdle
        return cls(self.done, self.errors, self.ref)
