"""How a Worker judges and reports the outcome of a workflow: failed or not, and why.

A workflow's status when it settles is ``"failed"`` if at least one runnable failed *for good*
since its last input (its retries ran out and its policy neither skipped it nor answered it with
a fallback: :attr:`runic.Failure.halted`), else ``"idle"``. The core records one failure per
failed attempt (``Workflow.failures``, append-only); the Worker remembers how many there were
when the last input arrived and judges only those that came after. A waiter of a failed workflow
gets :class:`runic.WorkflowFailedError` naming each failed component, the exception and its text.
"""

from __future__ import annotations

from typing import Any, Sequence

from ..errors import WorkflowFailedError

__all__ = ["halting", "failed_error"]


def halting(failures: Sequence[Any], since: int = 0) -> list[Any]:
    """The records after index ``since`` that fail a workflow (final, and halted)."""
    return [f for f in failures[since:] if f.halted]


def failed_error(workflow_id: Any, failures: Sequence[Any]) -> WorkflowFailedError:
    """The exception a waiter gets for a workflow that settled as failed."""
    return WorkflowFailedError(workflow_id, list(failures))
