"""OpenTelemetry bridge (``pip install runic[otel]``): telemetry events become spans.

:func:`install` attaches handlers that open a span per workflow run (``workflow.start`` to
``workflow.stop``) and one per step dispatch (``runnable.start`` to ``runnable.stop`` or
``runnable.exception``, with the error recorded). Like every runic telemetry handler they run
in the worker host process, so install the bridge (and your OpenTelemetry SDK/exporter) before
the Runner starts, or in ``Runner.start_link(telemetry=...)``. When ``opentelemetry`` is not
installed, :func:`install` does nothing and returns ``False``.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from . import telemetry

__all__ = ["install", "uninstall", "available"]

log = logging.getLogger(__name__)

_IDS = ("runic.otel.workflow", "runic.otel.runnable")
_lock = threading.Lock()
_open: dict[Any, Any] = {}


def available() -> bool:
    """Whether ``opentelemetry-api`` can be imported."""
    try:
        import opentelemetry.trace  # noqa: F401
    except ImportError:
        return False
    return True


def install(tracer_name: str = "runic", tracer: Any = None) -> bool:
    """Attach the span-making handlers; ``False`` (and nothing attached) without OpenTelemetry.

    ``tracer``: use this tracer instead of ``opentelemetry.trace.get_tracer(tracer_name)``."""
    try:
        from opentelemetry import trace
    except ImportError:
        log.info("opentelemetry is not installed; the runic OpenTelemetry bridge stays off")
        return False
    tracer = tracer if tracer is not None else trace.get_tracer(tracer_name)
    p = ("runic", "runner")

    def on_workflow(name: tuple[Any, ...], measurements: dict[Any, Any], metadata: dict[Any, Any]) -> None:
        key = ("wf", metadata.get("id"))
        with _lock:
            if name[-1] == "start":
                _open[key] = tracer.start_span(f"workflow {metadata.get('workflow_name') or metadata.get('id')}",
                                               attributes={"runic.workflow_id": str(metadata.get("id"))})
                return
            span = _open.pop(key, None)
        if span is not None:
            span.end()

    def on_runnable(name: tuple[Any, ...], measurements: dict[Any, Any], metadata: dict[Any, Any]) -> None:
        key = ("r", metadata.get("workflow_id"), metadata.get("runnable_id"))
        with _lock:
            if name[-1] == "start":
                _open[key] = tracer.start_span(f"step {metadata.get('node_name')}", attributes={
                    "runic.workflow_id": str(metadata.get("workflow_id")),
                    "runic.runnable_id": str(metadata.get("runnable_id")),
                })
                return
            span = _open.pop(key, None)
        if span is None:
            return
        if name[-1] == "exception":
            from opentelemetry.trace import Status, StatusCode

            span.set_status(Status(StatusCode.ERROR, str(metadata.get("error"))))
        span.end()

    telemetry.attach([p + ("workflow", "start"), p + ("workflow", "stop")], on_workflow, _IDS[0])
    telemetry.attach([p + ("runnable", "start"), p + ("runnable", "stop"), p + ("runnable", "exception")],
                     on_runnable, _IDS[1])
    return True


def uninstall() -> None:
    """Detach the bridge's handlers and end any span still open."""
    for hid in _IDS:
        telemetry.detach(hid)
    with _lock:
        spans = list(_open.values())
        _open.clear()
    for s in spans:
        s.end()
