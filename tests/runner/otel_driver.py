"""A driver for the OpenTelemetry test: a standard SDK set-up (BatchSpanProcessor, a file
exporter) made before the Runner starts, one caller span around a run, then a clean shutdown.

``python -m tests.runner.otel_driver STORE_DIR SPANS_FILE``
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, Sequence

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

import runic
from runic import telemetry_otel
from runic.runner import Runner
from runic.store import MnesiaStore

from . import fns


class FileExporter(SpanExporter):
    """Every span as one JSON line, appended (any process of the Runner may write)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = []
        for s in spans:
            ctx: Any = s.get_span_context()
            lines.append(json.dumps({
                "name": s.name, "trace": f"{ctx.trace_id:032x}", "span": f"{ctx.span_id:016x}",
                "parent": f"{s.parent.span_id:016x}" if s.parent is not None else None,
                "status": s.status.status_code.name, "pid": os.getpid(),
            }))
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, ("\n".join(lines) + "\n").encode())
        finally:
            os.close(fd)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass


def main() -> None:
    store_dir, spans_file = sys.argv[1:3]
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(FileExporter(spans_file), schedule_delay_millis=60_000))
    trace.set_tracer_provider(provider)
    telemetry_otel.install()
    wf = runic.Workflow("traced")
    wf.add(runic.step(fns.add1, name="a"))
    wf.add(runic.step(fns.double, name="b"))
    wf.add(runic.step(fns.add, name="sum"), to=["a", "b"])
    wf.add(runic.step(fns.boom, name="bad"), to="a")
    with Runner.start_link(name="traced", store=MnesiaStore, store_opts={"dir": store_dir}, pool_size=1) as runner:
        runner.start_workflow("t1", wf)
        with trace.get_tracer("caller").start_as_current_span("caller") as caller:
            runner.run("t1", 3)
            status = runner.await_idle("t1", timeout=60, raise_on_failure=False)
        ctx = caller.get_span_context()
        print(json.dumps({"status": status, "trace": f"{ctx.trace_id:032x}", "span": f"{ctx.span_id:016x}"}))
    provider.shutdown()


if __name__ == "__main__":
    main()
