"""How a Worker judges and reports the outcome of a workflow: failed or not, and why.

A workflow's status when it settles is ``"failed"`` if at least one runnable failed *for good*
since its last input (its retries ran out and its policy neither skipped it nor answered it with
a fallback), else ``"idle"``. The core records one failure per failed attempt
(``Workflow.failures``, append-only); the Worker remembers how many there were when the last
input arrived and judges only those that came after.

This module is the only place that reads failure records for the Runner, so the rule lives in
one place: :func:`halting` picks the failures that fail a workflow, :func:`failed_error` builds
the :class:`~runic.runner.errors.WorkflowFailedError` a waiter receives.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

__all__ = ["halting", "failed_error", "records"]


def records(failures: Iterable[Any]) -> list[Any]:
    """The failure records as :class:`runic.Failure` objects (older tuple forms converted)."""
    import runic

    cls = getattr(runic, "Failure", None)
    out = []
    for f in failures:
        if cls is not None and isinstance(f, cls):
            out.append(f)
        elif isinstance(f, tuple):  # TEMPORARY until the core records Failure objects
            from types import SimpleNamespace

            err = f[2]
            out.append(SimpleNamespace(component=str(f[0]), error_type=getattr(err, "type", type(err).__name__),
                                       message=str(getattr(err, "message", err)), traceback="", attempts=1,
                                       at=0, final=True, action="halt", kind="step"))
    return out


def halting(failures: Sequence[Any], since: int = 0) -> list[Any]:
    """The records after index ``since`` that fail a workflow (final, and halted)."""
    return [f for f in records(failures[since:]) if f.final and f.action == "halt"]


def failed_error(workflow_id: Any, failures: Sequence[Any]) -> Exception:
    """The exception a waiter gets for a workflow that settled as failed."""
    from .errors import WorkflowFailedError

    return WorkflowFailedError.for_failures(workflow_id, list(failures))
