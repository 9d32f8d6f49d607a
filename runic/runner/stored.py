"""Reading a workflow that no Worker holds, straight from the store.

``status``, ``get_results``, ``get_workflow`` and ``failures`` answer for every workflow the
store holds, live or not: a finished workflow can be read after every process that ran it is
gone. These functions do that from a store handle (the runner actor's, or a worker host's for an
in-process store). They never need the workflow's code: functions that cannot be restored here
are stood in for (the workflow is for reading, not for running), and stripped fact values are
loaded from the fact table.

A stored workflow whose events cannot be decoded (damaged bytes, a value of a type this process
does not know) is reported, not raised past the caller: :func:`failures` then returns one
failure record describing the damage, and the status is whatever the store recorded.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from ..core import Workflow
from ..errors import RunicError
from ..failures import Failure
from ..rehydration import FactResolver, resolve_all
from ..remote import qualified_name
from ..store import NotFoundError, StoreError
from .errors import WorkflowNotFoundError

__all__ = ["stored_status", "load", "results", "failures", "damage_failure"]

log = logging.getLogger("runic.runner")


def _missing(store: Any, workflow_id: Any) -> WorkflowNotFoundError:
    return WorkflowNotFoundError(
        f"workflow {workflow_id!r} is neither running nor stored in runner {store.runner_name!r}; "
        "check the id (`runic ls`)", workflow_id)


def stored_status(store: Any, workflow_id: Any) -> str:
    """The status the store recorded (``idle`` when only events exist); raises
    :class:`WorkflowNotFoundError` when nothing is stored."""
    status = store.status(workflow_id)
    if status is not None:
        return str(status)
    if store.exists(workflow_id):
        return "idle"
    raise _missing(store, workflow_id)


def load(store: Any, workflow_id: Any) -> Workflow:
    """The stored workflow rebuilt for reading (values loaded, missing functions stubbed)."""
    try:
        try:
            events = list(store.stream(workflow_id))
        except NotFoundError:
            events = store.load(workflow_id)
    except NotFoundError:
        raise _missing(store, workflow_id) from None
    wf = Workflow.from_events(events, fact_mode="ref", stub_missing=True)
    resolve_all(wf, FactResolver(store))
    return wf


def results(store: Any, workflow_id: Any, components: list[Any] | None, facts: bool, all: bool) -> Any:  # noqa: A002
    """What ``get_results`` answers for a stored workflow."""
    wf = load(store, workflow_id)
    if components is None and not facts and not all:
        return wf.raw_productions()
    return wf.results(components, facts=facts, all=all)


def damage_failure(workflow_id: Any, exc: BaseException) -> Failure:
    """A failure record for a workflow that cannot be read back (see the module docs)."""
    return Failure(component="<stored events>", error_type=qualified_name(exc),
                   message=f"workflow {workflow_id!r} cannot be read back from the store: {exc}",
                   traceback="", attempts=1, at=time.time_ns() // 1_000_000, final=True, action="halt",
                   kind="exception", component_kind="store")


def failures(store: Any, workflow_id: Any) -> list[Any]:
    """The failure records of a stored workflow (oldest first)."""
    try:
        wf = load(store, workflow_id)
    except WorkflowNotFoundError:
        raise
    except (StoreError, RunicError) as exc:
        log.warning("workflow %r cannot be read back: %s", workflow_id, exc)
        return [damage_failure(workflow_id, exc)]
    return list(wf.failures)
