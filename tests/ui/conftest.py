"""Fixtures of the dashboard tests: stores with workflows in known states, and a dashboard.

``seeded_dir`` builds its workflows in this process (no Runner, no actor system: fast) by
folding them with the core and appending their events to a ``MnesiaStore``, as a Runner
would; the browser tests (``test_browser.py``) use a real Runner instead.
"""

from __future__ import annotations

import http.client
import json
from pathlib import Path
from typing import Any, Iterator

import pytest

import runic
from runic.cli.context import Settings
from runic.store import MnesiaStore
from runic.ui import Dashboard, MnesiaSource

from . import flows

HOSTILE_ID = '<img src=x onerror="alert(1)">'
HOSTILE_VALUE = "</pre><script>alert(2)</script>"


def record(store: MnesiaStore, wid: str, wf: Any, value: Any, status: str, *, run: bool = True,
           owner: str = "runic/runic.host-0/4242") -> None:
    """Store ``wf`` run (or only planned, ``run=False``) on ``value`` under ``wid``."""
    wf.enable_event_emission()
    build = wf.build_log()
    if run:
        wf.react_until_satisfied(value)
    else:
        wf.plan(value)
    epoch = store.acquire(wid, owner)
    store.append(wid, build + wf.drain_events(), epoch=epoch)
    store.set_status(wid, status, epoch=epoch)


@pytest.fixture
def seeded_dir(tmp_path: Path) -> Path:
    """A store directory (runner ``runic``) holding ``good`` (idle), ``bad`` (failed: its
    ``ship`` step raised), ``busy`` (running: planned, nothing ran), ``paused`` (stopped) and a
    workflow whose id and value are HTML."""
    d = tmp_path / "data"
    with MnesiaStore("runic", dir=d) as store:
        record(store, "good", flows.shop(), flows.ORDER, "idle")
        record(store, "bad", flows.failing_shop(), flows.ORDER, "failed")
        record(store, "busy", flows.chain(3), 0, "running", run=False)
        record(store, "paused", flows.chain(3), 0, "stopped", run=False)
        wf = runic.Workflow("<b>named</b>")
        wf.add(runic.step(flows.echo, name="echo"))
        record(store, HOSTILE_ID, wf, HOSTILE_VALUE, "idle")
    return d


@pytest.fixture
def dashboard(seeded_dir: Path) -> Iterator[Dashboard]:
    """A dashboard of ``seeded_dir`` on a free port, without a Runner."""
    with Dashboard(MnesiaSource(Settings(str(seeded_dir), "runic")), port=0) as ui:
        yield ui


class Client:
    """Plain HTTP requests to a dashboard (as a script or curl would send them)."""

    def __init__(self, port: int) -> None:
        self.port = port

    def request(self, method: str, path: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
        finally:
            conn.close()

    def json(self, method: str, path: str, headers: dict | None = None) -> tuple[int, Any]:
        status, _headers, body = self.request(method, path, headers)
        return status, json.loads(body)

    def get(self, path: str) -> Any:
        status, data = self.json("GET", path)
        assert status == 200, (path, status, data)
        return data

    def act(self, wid: str, action: str, headers: dict | None = None) -> tuple[int, Any]:
        from urllib.parse import quote

        return self.json("POST", f"/api/workflows/{quote(wid, safe='')}/{action}",
                         {"X-Runic-UI": "1", **(headers or {})})


@pytest.fixture
def client(dashboard: Dashboard) -> Client:
    return Client(dashboard.port)
