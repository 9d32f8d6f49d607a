"""Requests for a workflow that another node runs: through the store's inbox, applied once.

A Runner asked to ``run``, ``stop`` or ``cancel`` a workflow it does not hold, whose owner is
another node, writes the request to the store's inbox (:mod:`runic.store.cluster`) and answers
once that write committed: the request is durable then, whatever happens to either node. The
owner — the node that holds the workflow when it reads, so the request survives the death of
the node it was meant for — delivers each pending request to the worker host running the
workflow, one at a time and in order, and marks it done when the host answered.

**Exactly once.** The host applies request *n* by writing its effect and the mark "inbox request
*n* applied" (an annotation of the workflow, :data:`MARK`) in **the same write**: the accepted
input and the mark for a ``run``, the last events and the mark for a ``stop`` or ``cancel``. An
owner that dies after that write and before marking the request done leaves it pending; the
next owner rebuilds the workflow from its stream, mark included, and the host answers the
redelivered request "already applied" (:func:`applied`) without applying it again.

This module holds the pieces both sides share: the mark (read and written on a worker host's
loop thread, with the host lock held), the payload of a request (built by the runner actor of
the node that received the call) and the message that delivers it (built by the owner's runner
actor).
"""

from __future__ import annotations

from typing import Any

from ..store.cluster import InboxItem
from .messages import CancelWorkflow, Request, Run, StopWorkflow, pack, unpack

__all__ = ["MARK", "applied", "mark", "run_payload", "delivery"]

MARK = "runner.inbox"
"""The workflow annotation holding the number of the newest inbox request applied to it."""


def applied(workflow: Any, seq: int) -> bool:
    """Whether inbox request ``seq`` was applied to ``workflow`` (its mark is at or past it)."""
    done = workflow.annotations.get(MARK, 0)
    return isinstance(done, int) and seq <= done


def mark(workflow: Any, seq: int) -> None:
    """Record that request ``seq`` is applied (an event: it is written with the next write)."""
    workflow.annotate(MARK, seq)


def run_payload(msg: Run) -> dict[str, Any]:
    """What a ``run`` request stores: the input, run context and policies as plain values (the
    store encodes them with :mod:`runic.codec`; one it cannot encode is refused at the door)."""
    return {"input": unpack(msg.input_blob), "run_context": unpack(msg.run_context_blob),
            "policies": unpack(msg.policies_blob), "trace": msg.trace}


def delivery(item: InboxItem) -> Request:
    """The request that applies ``item`` on the owner's worker host."""
    p = item.payload if isinstance(item.payload, dict) else {}
    if item.kind == "run":
        return Run(item.workflow_id, pack(p.get("input")), pack(p.get("run_context")), pack(p.get("policies")),
                   trace=p.get("trace"), inbox=item.seq)
    if item.kind == "stop":
        return StopWorkflow(item.workflow_id, bool(p.get("persist", True)), inbox=item.seq)
    return CancelWorkflow(item.workflow_id, inbox=item.seq)
