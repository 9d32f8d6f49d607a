"""The dashboard's server without a browser: its JSON, its pages' escaping, its security checks,
its actions, its live view, and that reading changes nothing in the store."""

from __future__ import annotations

import hashlib
import re
import socket
import sqlite3
import threading
import time
from pathlib import Path
from urllib.parse import quote

import pytest

from runic.cli.context import Settings
from runic.store import FencedError, MnesiaStore
from runic.ui import Dashboard, MnesiaSource, PortInUseError
from runic.ui.assets import VENDORED, sha256_of, static_names

from .conftest import HOSTILE_ID, HOSTILE_VALUE, Client


def store_status(d: Path, wid: str) -> str | None:
    with MnesiaStore("runic", dir=d) as store:
        return store.status(wid)


def test_the_list_has_every_workflow_with_status_owner_events_and_time(client: Client) -> None:
    data = client.get("/api/workflows")
    rows = {r["id"]: r for r in data["rows"]}
    assert set(rows) == {"good", "bad", "busy", "paused", HOSTILE_ID}
    assert {k: r["status"] for k, r in rows.items()} == {"good": "idle", "bad": "failed", "busy": "running",
                                                        "paused": "stopped", HOSTILE_ID: "idle"}
    assert rows["bad"]["owner"]["name"] == "runic/runic.host-0/4242" and rows["bad"]["owner"]["epoch"] > 0
    assert rows["bad"]["name"] == "failing shop"
    assert rows["good"]["events"] > 5
    assert all(abs(r["updated"] - data["now"]) < 600_000 for r in rows.values())  # a real wall-clock time
    assert data["counts"] == {"running": 1, "idle": 2, "stopped": 1, "failed": 1, "cancelled": 0}


def test_the_list_filters_by_status_and_text(client: Client) -> None:
    assert [r["id"] for r in client.get("/api/workflows?status=failed")["rows"]] == ["bad"]
    both = client.get("/api/workflows?status=failed&status=stopped")["rows"]
    assert sorted(r["id"] for r in both) == ["bad", "paused"]
    assert [r["id"] for r in client.get("/api/workflows?q=BUS")["rows"]] == ["busy"]  # id, case-insensitive
    assert [r["id"] for r in client.get("/api/workflows?q=failing")["rows"]] == ["bad"]  # workflow name
    status, data = client.json("GET", "/api/workflows?status=finished")
    assert status == 400 and "unknown status finished; the statuses are running, idle" in data["error"]


def test_a_failed_workflow_has_its_failure_with_the_traceback_and_a_failed_node(client: Client) -> None:
    data = client.get("/api/workflows/bad")
    assert data["status"] == "failed" and data["failed_for_good"] == 1
    (failure,) = data["failures"]
    assert failure["label"] == "ship" and failure["error_type"] == "ValueError"
    assert failure["message"] == "cannot ship an order of 65" and failure["input"] == "65"
    assert failure["outcome"] == "failed" and failure["halted"] is True
    assert "Traceback (most recent call last)" in failure["traceback"]
    assert 'raise ValueError(f"cannot ship an order of {total}")' in failure["traceback"]
    states = {n["label"]: n["state"] for n in data["graph"]["nodes"]}
    assert states == {"input": "idle", "parse": "ran", "prices": "ran", "price": "ran", "total": "ran",
                      "ship": "failed"}
    ship = next(n for n in data["graph"]["nodes"] if n["label"] == "ship")
    assert ship["error"] == "ValueError: cannot ship an order of 65"
    price = next(n for n in data["graph"]["nodes"] if n["label"] == "price")
    assert price["values"] == ["60", "5"]  # the values shown on hover
    edges = {(e["from"], e["to"], e["kind"]) for e in data["graph"]["edges"]}
    ids = {n["label"]: n["id"] for n in data["graph"]["nodes"]}
    assert (ids["total"], ids["ship"], "flow") in edges and (ids["prices"], ids["total"], "fan_in") in edges


def test_a_running_workflow_shows_its_pending_work(client: Client) -> None:
    data = client.get("/api/workflows/busy")
    states = {n["label"]: n["state"] for n in data["graph"]["nodes"]}
    assert states == {"input": "idle", "s0": "pending", "s1": "idle", "s2": "idle"}
    assert data["pending"] == [{"step": "s0", "input": "0"}]


def test_the_timeline_pages_through_the_events(client: Client) -> None:
    total = client.get("/api/workflows/bad")["events"]
    last = client.get("/api/workflows/bad/events?limit=5")
    assert [e["seq"] for e in last["events"]] == list(range(total - 4, total + 1)) and last["total"] == total
    assert last["first"] == total - 4
    older = client.get(f"/api/workflows/bad/events?before={total - 4}&limit=3")
    assert [e["seq"] for e in older["events"]] == [total - 7, total - 6, total - 5]
    newer = client.get(f"/api/workflows/bad/events?after={total - 2}")
    assert [e["seq"] for e in newer["events"]] == [total - 1, total]
    everything = client.get("/api/workflows/bad/events?after=0&limit=1000")["events"]
    failure = [e for e in everything if e["type"] == "FailureRecorded"]
    assert len(failure) == 1 and failure[0]["failure"] is True and failure[0]["at"]
    assert "ship attempt 1 failed (halt): ValueError: cannot ship an order of 65" in failure[0]["text"]
    assert everything[0] == {"seq": 1, "type": "WorkflowDefined", "text": "workflow 'failing shop', 0 scheduler policies",
                             "at": None, "failure": False}


def test_pages_escape_what_the_workflow_chose(client: Client) -> None:
    status, headers, body = client.request("GET", "/workflows/" + quote(HOSTILE_ID, safe=""))
    text = body.decode()
    assert status == 200
    assert "<img src=x" not in text and 'onerror="alert' not in text
    assert 'data-id="&lt;img src=x onerror=&quot;alert(1)&quot;&gt;"' in text
    assert "script-src 'self'" in headers["content-security-policy"] and headers["x-frame-options"] == "DENY"
    data = client.get("/api/workflows/" + quote(HOSTILE_ID, safe=""))
    assert data["id"] == HOSTILE_ID and data["name"] == "<b>named</b>"  # JSON carries the text as it is
    assert data["productions"][0]["latest"] == f'"{HOSTILE_VALUE}"'


def test_unknown_things_are_404_with_a_message(client: Client) -> None:
    status, data = client.json("GET", "/api/workflows/nope")
    assert status == 404 and "no workflow 'nope' in " in data["error"]
    status, _h, body = client.request("GET", "/static/../server.py")
    assert status == 404
    status, _h, body = client.request("GET", "/elsewhere")
    assert status == 404 and b"the workflows page is /" in body


def test_requests_for_another_host_name_are_refused(dashboard: Dashboard) -> None:
    client = Client(dashboard.port)
    status, data = client.json("GET", "/api/workflows", {"Host": f"evil.example:{dashboard.port}"})
    assert status == 421 and f"answers only as http://127.0.0.1:{dashboard.port}/" in data["error"]
    status, _data = client.json("GET", "/api/workflows", {"Host": f"localhost:{dashboard.port}"})
    assert status == 200


def test_actions_need_the_dashboards_header_and_origin(client: Client, seeded_dir: Path) -> None:
    status, data = client.json("POST", "/api/workflows/busy/cancel")  # what a cross-site form could send
    assert status == 403 and "X-Runic-UI: 1" in data["error"]
    status, data = client.act("busy", "cancel", {"Origin": "http://evil.example"})
    assert status == 403 and "own pages only" in data["error"]
    status, data = client.act("busy", "cancel", {"Sec-Fetch-Site": "cross-site"})
    assert status == 403
    assert store_status(seeded_dir, "busy") == "running"  # nothing happened
    status, data = client.act("busy", "cancel", {"Origin": f"http://127.0.0.1:{client.port}",
                                                 "Sec-Fetch-Site": "same-origin"})
    assert status == 200 and data["changed"] is True, data
    assert store_status(seeded_dir, "busy") == "cancelled"


def test_cancel_takes_the_workflow_over_and_fences_its_owner(client: Client, seeded_dir: Path) -> None:
    old = client.get("/api/workflows/busy")["owner"]["epoch"]
    status, data = client.act("busy", "cancel")
    assert status == 200 and data["status"] == "cancelled" and data["changed"] is True
    assert f"it was owned by runic/runic.host-0/4242 (epoch {old}), which is now fenced" in data["message"]
    assert data["owner"]["name"].startswith("runic-ui/") and data["owner"]["epoch"] > old
    with MnesiaStore("runic", dir=seeded_dir) as store:
        with pytest.raises(FencedError):  # the old owner's next write is refused
            store.append("busy", [], epoch=old)
    status, data = client.act("busy", "cancel")
    assert status == 200 and data["changed"] is False and "already cancelled" in data["message"]
    status, data = client.act("busy", "resume")
    assert status in (409, 422) and store_status(seeded_dir, "busy") == "cancelled"


def test_stop_only_stops_a_running_workflow(client: Client, seeded_dir: Path) -> None:
    status, data = client.act("good", "stop")
    assert status == 200 and data["changed"] is False and "is not running (status idle)" in data["message"]
    assert store_status(seeded_dir, "good") == "idle"
    status, data = client.act("busy", "stop")
    assert status == 200 and data["changed"] is True and data["status"] == "stopped"
    assert store_status(seeded_dir, "busy") == "stopped"


def test_resume_without_a_runner_says_what_to_do(client: Client, seeded_dir: Path) -> None:
    status, data = client.act("paused", "resume")
    assert status == 422 and "use `runic resume ID`" in data["error"]
    assert store_status(seeded_dir, "paused") == "stopped"


def _dump(d: Path) -> str:
    """Every row of the store file, as text (what a write would change)."""
    conn = sqlite3.connect(f"file:{d / 'runic.db'}?mode=ro", uri=True)
    try:
        return "\n".join(conn.iterdump())
    finally:
        conn.close()


def test_reading_changes_nothing_and_read_only_refuses_actions(seeded_dir: Path) -> None:
    before = _dump(seeded_dir)
    with Dashboard(MnesiaSource(Settings(str(seeded_dir), "runic")), port=0, read_only=True) as ui:
        client = Client(ui.port)
        assert client.get("/api/workflows")["read_only"] is True
        for wid in ("good", "bad", "busy", "paused", HOSTILE_ID):
            path = "/api/workflows/" + quote(wid, safe="")
            client.get(path)
            client.get(path + "/events?after=0&limit=1000")
            assert client.request("GET", "/workflows/" + quote(wid, safe=""))[0] == 200
        for action in ("stop", "cancel", "resume"):
            status, data = client.act("busy", action)
            assert status == 403 and "read-only" in data["error"]
        _status, _h, page = client.request("GET", "/workflows/busy")
        assert b'data-read-only="1"' in page
    assert _dump(seeded_dir) == before


def test_every_file_is_served_from_the_package_and_the_vendored_one_matches_its_pin(client: Client) -> None:
    names = static_names()
    assert {"app.css", "common.js", "graph.js", "workflow.js", "workflows.js", "vendor/dagre.min.js"} <= names
    for name in names:
        status, headers, body = client.request("GET", f"/static/{name}")
        assert status == 200 and body, name
        assert headers["x-content-type-options"] == "nosniff"
    for v in VENDORED:
        assert sha256_of(v.path) == v.sha256, f"{v.path} is not the pinned {v.package} {v.version}"
        status, _h, body = client.request("GET", f"/static/{v.path}")
        assert hashlib.sha256(body).hexdigest() == v.sha256
    for page in ("/", "/workflows/good"):
        _status, _h, html = client.request("GET", page)
        refs = re.findall(rb'(?:src|href)="([^"]*)"', html)
        assert refs and all(r.startswith((b"/", b"data:")) for r in refs), refs  # nothing from another host


def _sse_events(sock_file, deadline: float) -> "list[str]":
    event: list[str] = []
    while time.monotonic() < deadline:
        line = sock_file.readline()
        if not line:
            return event
        line = line.decode().rstrip("\r\n")
        if line == "" and event:
            return event
        if line:
            event.append(line)
    raise AssertionError("no server-sent event in time")


def test_the_live_view_pushes_each_change_and_ends_when_the_dashboard_stops(seeded_dir: Path) -> None:
    ui = Dashboard(MnesiaSource(Settings(str(seeded_dir), "runic")), port=0, live_poll=0.05).start()
    threads_before = threading.active_count()
    try:
        sock = socket.create_connection(("127.0.0.1", ui.port), timeout=30)
        sock.sendall(f"GET /api/workflows/busy/live HTTP/1.1\r\nHost: 127.0.0.1:{ui.port}\r\n\r\n".encode())
        f = sock.makefile("rb")
        head = _sse_events(f, time.monotonic() + 30)
        assert head[0] == "HTTP/1.0 200 OK" and "Content-Type: text/event-stream; charset=utf-8" in head
        assert _sse_events(f, time.monotonic() + 30) == ["retry: 2000"]
        first = _sse_events(f, time.monotonic() + 30)
        assert first[0] == "event: state" and '"status": "running"' in first[1]
        with MnesiaStore("runic", dir=seeded_dir) as store:
            epoch = store.acquire("busy", "someone")
            store.set_status("busy", "stopped", epoch=epoch)
        second = _sse_events(f, time.monotonic() + 30)
        assert second[0] == "event: state" and '"status": "stopped"' in second[1] and '"someone"' in second[1]
    finally:
        ui.close()
    assert f.readline() == b""  # the stream ended with the dashboard
    sock.close()
    assert threading.active_count() <= threads_before - 1  # the serving thread and the live view are gone


def test_a_port_in_use_is_refused_with_what_to_do(dashboard: Dashboard, seeded_dir: Path) -> None:
    with pytest.raises(PortInUseError, match=rf"port {dashboard.port} on 127.0.0.1 is in use .*--port 0"):
        Dashboard(MnesiaSource(Settings(str(seeded_dir), "runic")), port=dashboard.port).start()
