"""Telemetry (spec §7, §8.1 telemetry rows) and the OpenTelemetry bridge."""

from __future__ import annotations

import pytest

import runic
from runic import telemetry

from . import fns

P = ("runic", "runner")


def recorder(journal):
    write = journal.writer()

    def handler(name, measurements, metadata):
        keep = {k: metadata.get(k) for k in ("id", "workflow_id", "workflow_name", "node_name", "status",
                                             "operation", "error") if k in metadata}
        if "runnable_id" in metadata:
            keep["runnable_id"] = isinstance(metadata["runnable_id"], int)
        meas = {k: (v if isinstance(v, int) else repr(v)) for k, v in measurements.items()}
        write(list(name[2:]), meas, keep)

    return handler


def test_the_catalogue_has_twelve_names():
    names = telemetry.event_names()
    assert len(names) == 12 and all(n[:2] == P for n in names)
    with pytest.raises(ValueError):
        telemetry.attach([("runic", "nope")], lambda *a: None)


def test_span_returns_the_result_and_emits_start_and_stop():
    seen = []
    hid = telemetry.attach([P + ("store", "start"), P + ("store", "stop"), P + ("store", "exception")],
                           lambda n, m, md: seen.append((n[-1], m, md)))
    try:
        assert telemetry.span(P + ("store",), {"workflow_id": "w", "operation": "save"}, lambda: 42) == 42
        with pytest.raises(ZeroDivisionError):
            telemetry.span(P + ("store",), {"workflow_id": "w", "operation": "save"}, lambda: 1 / 0)
    finally:
        telemetry.detach(hid)
    kinds = [k for k, _, _ in seen]
    assert kinds == ["start", "stop", "start", "exception"]
    assert seen[0][2] == {"workflow_id": "w", "operation": "save"}
    assert isinstance(seen[1][1]["duration"], int) and seen[1][1]["duration"] >= 0


def test_a_raising_handler_is_detached_and_never_breaks_the_caller():
    def bad(*args):
        raise RuntimeError("handler bug")

    hid = telemetry.attach(P + ("workflow", "start"), bad)
    telemetry.execute(P + ("workflow", "start"), {}, {})  # no exception
    assert hid not in telemetry.handlers()


def test_the_core_emits_no_runner_telemetry():
    seen = []
    hid = telemetry.attach(telemetry.event_names(), lambda *a: seen.append(a))
    try:
        runic.workflow(steps=[runic.step(fns.add1, name="a")]).react_until_satisfied(1)
    finally:
        telemetry.detach(hid)
    assert seen == []


def test_runner_emits_workflow_runnable_and_store_events(make_runner, journal):
    r = make_runner("mnesia", telemetry=[(telemetry.event_names(), recorder(journal))])
    wf = runic.workflow("tele", steps=[(runic.step(fns.add1, name="a"), [runic.step(fns.boom, name="bad")])])
    r.start_workflow("t", wf)
    r.run("t", 1)
    assert r.await_idle("t", timeout=20, raise_on_failure=False) == "failed"
    records = journal.read()
    by = {}
    for name, meas, meta in records:
        by.setdefault(tuple(name), []).append((meas, meta))
    start_meas, start_meta = by[("workflow", "start")][0]
    assert "system_time" in start_meas and start_meta == {"id": "t", "workflow_name": "tele"}
    stop_meas, stop_meta = by[("workflow", "stop")][0]
    assert isinstance(stop_meas["duration"], int) and stop_meas["duration"] >= 0 and stop_meta["id"] == "t"
    starts = [meta["node_name"] for _, meta in by[("runnable", "start")]]
    assert starts == ["a", "bad"]
    assert all(meta["workflow_id"] == "t" and meta["runnable_id"] for _, meta in by[("runnable", "start")])
    [(stop_meas, stop_meta)] = by[("runnable", "stop")]
    assert stop_meta["status"] == "completed" and stop_meta["node_name"] == "a" and stop_meas["duration"] >= 0
    [(_, exc_meta)] = by[("runnable", "exception")]
    assert exc_meta["node_name"] == "bad" and "boom" in exc_meta["error"]
    store_ops = [meta["operation"] for _, meta in by[("store", "start")]]
    assert store_ops and set(store_ops) == {"checkpoint"}  # every_cycle: one write per applied result
    assert by[("store", "stop")]


def test_on_complete_strategy_writes_the_store_at_settlement(make_runner, journal):
    r = make_runner("mnesia", telemetry=[([P + ("store", "stop"), P + ("store", "start")], recorder(journal))])
    r.start_workflow("o", runic.workflow(steps=[(runic.step(fns.add1, name="a"), [runic.step(fns.double, name="b")])]),
                     checkpoint_strategy="on_complete", input=1)
    r.await_idle("o", timeout=20)
    ops = [meta.get("operation") for name, _, meta in journal.read() if name == ["store", "start"]]
    assert ops == ["save"]


def test_opentelemetry_bridge_does_nothing_without_opentelemetry(monkeypatch):
    import sys

    from runic import telemetry_otel

    monkeypatch.setitem(sys.modules, "opentelemetry", None)  # as if it were not installed
    monkeypatch.setitem(sys.modules, "opentelemetry.trace", None)
    assert telemetry_otel.available() is False
    assert telemetry_otel.install() is False
    assert not any(str(h).startswith("runic.otel") for h in telemetry.handlers())


def test_opentelemetry_bridge_makes_spans_for_workflows_and_steps():
    from runic import telemetry_otel

    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    assert telemetry_otel.install(tracer=provider.get_tracer("runic-test")) is True
    try:
        telemetry.execute(P + ("workflow", "start"), {}, {"id": "w", "workflow_name": "demo"})
        telemetry.execute(P + ("runnable", "start"), {}, {"workflow_id": "w", "runnable_id": 1, "node_name": "a"})
        telemetry.execute(P + ("runnable", "stop"), {"duration": 1}, {"workflow_id": "w", "runnable_id": 1, "node_name": "a"})
        telemetry.execute(P + ("runnable", "start"), {}, {"workflow_id": "w", "runnable_id": 2, "node_name": "b"})
        telemetry.execute(P + ("runnable", "exception"), {}, {"workflow_id": "w", "runnable_id": 2, "node_name": "b", "error": "x"})
        telemetry.execute(P + ("workflow", "stop"), {"duration": 3}, {"id": "w", "workflow_name": "demo"})
    finally:
        telemetry_otel.uninstall()
    spans = {s.name: s for s in exporter.get_finished_spans()}
    assert set(spans) == {"workflow demo", "step a", "step b"}
    assert spans["step b"].status.status_code.name == "ERROR"


def test_opentelemetry_one_trace_per_run_across_processes(tmp_path):
    """A standard BatchSpanProcessor in the driver; spans are made in the worker host, children
    of the caller's span, one trace; human names; flushed when the host stops."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    pytest.importorskip("opentelemetry.sdk")
    spans_file = tmp_path / "spans.jsonl"
    out = subprocess.run([sys.executable, "-m", "tests.runner.otel_driver", str(tmp_path / "data"), str(spans_file)],
                         cwd=Path(__file__).resolve().parents[2], capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr[-3000:]
    caller = json.loads(out.stdout.strip().splitlines()[-1])
    assert caller["status"] == "failed"
    spans = [json.loads(line) for line in spans_file.read_text().splitlines() if line]
    by_name: dict = {}
    for s in spans:
        by_name.setdefault(s["name"], []).append(s)
    [run] = by_name["workflow traced"]
    assert run["trace"] == caller["trace"] and run["parent"] == caller["span"]  # the caller's context reached the host
    assert run["pid"] != min(s["pid"] for s in by_name["caller"])  # made in the worker host, exported from there
    steps = [s for s in spans if s["name"].startswith("step ")]
    assert {s["name"] for s in steps} == {"step a", "step b", "step bad", "step join(a, b)", "step sum"}
    assert all(s["trace"] == caller["trace"] and s["parent"] == run["span"] for s in steps)  # one trace
    assert [s["status"] for s in steps if s["name"] == "step bad"] == ["ERROR"]
