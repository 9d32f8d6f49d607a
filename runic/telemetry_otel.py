"""OpenTelemetry bridge (``pip install runic[otel]``): workflow runs and steps become spans.

:func:`install` attaches telemetry handlers that make **one trace per workflow run**: a span
``workflow <name>`` from the moment an input is accepted to the moment the workflow settles, and
one span ``step <component>`` per dispatched step, a child of its run's span (a join or a reduce
without a name of its own is named after what it joins, e.g. ``step join(a, b)``; a failed step's
span has status ERROR). The run's span is a child of **the caller's span**: the Runner handle
sends the current trace context (W3C ``traceparent``, :func:`trace_carrier`) with ``run`` and
``start_workflow``, the worker host continues it, and a run resumed after a crash continues in the
trace it began in (the context is persisted with the run).

The handlers run in the worker hosts, where the steps run. Set up your ``TracerProvider`` and span
processors (``BatchSpanProcessor`` with any exporter) **before** the Runner starts its actor
system, then call :func:`install` — the worker hosts are forked from it and inherit both (the SDK
restarts a batch processor's thread after a fork); or call them from a module the hosts import. A
worker host flushes its spans when it stops (:func:`flush`), so nothing batched is lost at a
clean shutdown. Without ``opentelemetry`` installed, :func:`install` does nothing and returns
``False``, and :func:`trace_carrier` returns ``None``.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from . import telemetry

__all__ = ["install", "uninstall", "available", "trace_carrier", "flush"]

log = logging.getLogger(__name__)

_IDS = ("runic.otel.workflow", "runic.otel.runnable")
_lock = threading.Lock()
_open: dict[Any, Any] = {}
_installed = False


def available() -> bool:
    """Whether ``opentelemetry-api`` can be imported."""
    try:
        import opentelemetry.trace  # noqa: F401
    except ImportError:
        return False
    return True


def trace_carrier() -> dict[str, str] | None:
    """The caller's current trace context as W3C headers (``traceparent``...), or ``None`` when
    the bridge is not installed, OpenTelemetry is missing or no span is active."""
    if not _installed:
        return None
    try:
        from opentelemetry import propagate, trace
    except ImportError:
        return None
    if not trace.get_current_span().get_span_context().is_valid:
        return None
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier or None


def flush(timeout_ms: int = 5000) -> None:
    """Export what the span processors still hold (a worker host calls it when it stops)."""
    if not _installed:
        return
    try:
        from opentelemetry import trace
    except ImportError:
        return
    provider = trace.get_tracer_provider()
    force = getattr(provider, "force_flush", None)
    if callable(force):
        try:
            force(timeout_ms)
        except Exception:  # noqa: BLE001 - telemetry never breaks a stop
            log.exception("flushing OpenTelemetry spans failed")


def install(tracer_name: str = "runic", tracer: Any = None) -> bool:
    """Attach the span-making handlers; ``False`` (and nothing attached) without OpenTelemetry.

    ``tracer``: use this tracer instead of ``opentelemetry.trace.get_tracer(tracer_name)``."""
    global _installed
    try:
        from opentelemetry import propagate, trace
        from opentelemetry.trace import Status, StatusCode
    except ImportError:
        log.info("opentelemetry is not installed; the runic OpenTelemetry bridge stays off")
        return False
    the_tracer = tracer if tracer is not None else trace.get_tracer(tracer_name)
    p = ("runic", "runner")

    def on_workflow(name: tuple[Any, ...], measurements: dict[Any, Any], metadata: dict[Any, Any]) -> None:
        key = ("wf", metadata.get("id"))
        if name[-1] == "start":
            parent = propagate.extract(metadata["trace_context"]) if metadata.get("trace_context") else None
            span = the_tracer.start_span(f"workflow {metadata.get('workflow_name') or metadata.get('id')}",
                                         context=parent,
                                         attributes={"runic.workflow_id": str(metadata.get("id"))})
            with _lock:
                old = _open.pop(key, None)
                _open[key] = span
            if old is not None:  # a run that never settled here (e.g. it was resumed): close it
                old.end()
            return
        with _lock:
            span = _open.pop(key, None)
        if span is not None:
            span.end()

    def on_runnable(name: tuple[Any, ...], measurements: dict[Any, Any], metadata: dict[Any, Any]) -> None:
        wid = metadata.get("workflow_id")
        key = ("r", wid, metadata.get("runnable_id"))
        if name[-1] == "start":
            with _lock:
                run = _open.get(("wf", wid))
            parent = trace.set_span_in_context(run) if run is not None else None
            label = metadata.get("label") or metadata.get("node_name")
            span = the_tracer.start_span(f"step {label}", context=parent, attributes={
                "runic.workflow_id": str(wid),
                "runic.runnable_id": str(metadata.get("runnable_id")),
                "runic.component": str(label),
            })
            with _lock:
                _open[key] = span
            return
        with _lock:
            span = _open.pop(key, None)
        if span is None:
            return
        if name[-1] == "exception":
            span.set_status(Status(StatusCode.ERROR, str(metadata.get("error"))))
        span.end()

    telemetry.attach([p + ("workflow", "start"), p + ("workflow", "stop")], on_workflow, _IDS[0])
    telemetry.attach([p + ("runnable", "start"), p + ("runnable", "stop"), p + ("runnable", "exception")],
                     on_runnable, _IDS[1])
    _installed = True
    return True


def uninstall() -> None:
    """Detach the bridge's handlers and end any span still open."""
    global _installed
    for hid in _IDS:
        telemetry.detach(hid)
    _installed = False
    with _lock:
        spans = list(_open.values())
        _open.clear()
    for s in spans:
        s.end()
