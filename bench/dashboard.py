"""Dashboard benchmark: how long the dashboard's answers take on a store with many workflows
and on a workflow with many events.

    .venv/bin/python bench/dashboard.py             # 1,000 workflows, one with ~14,000 events (seconds)
    .venv/bin/python bench/dashboard.py --quick     # 200 workflows, one with ~2,800 events

Builds a ``MnesiaStore`` in a temporary directory (workflows folded in this process, appended as
a Runner would), serves it with :class:`runic.ui.Dashboard` on a free port, and times HTTP
requests from this process (median and max of several, in ms):

* ``GET /api/workflows`` — the workflows page's data (every row: status, owner, name, events);
* ``GET /api/workflows/big`` — one workflow's page data: cold (rebuilt from its stream) and warm
  (unchanged since the last request: served from the cache after three small reads);
* ``GET /api/workflows/big/events`` — the last 200 events, described;
* one poll of the live view (status, event count, owner).

No targets: the figures say how the dashboard scales, for the docs.
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import runic  # noqa: E402
from runic.cli.context import Settings  # noqa: E402
from runic.store import MnesiaStore  # noqa: E402
from runic.ui import Dashboard, MnesiaSource  # noqa: E402
from runic.ui.views import live_state  # noqa: E402


def parse(order):
    return order["items"]


def price(item):
    return item["qty"] * item["price"]


def add(x, acc):
    return acc + x


def shop() -> runic.Workflow:
    wf = runic.Workflow("shop")
    wf.add(runic.step(parse, name="parse"))
    wf.add(runic.map(runic.step(price, name="price"), name="prices"), to="parse")
    wf.add(runic.reduce(0, add, name="total", map="prices"), to="prices")
    return wf


def record(store: Any, wid: str, items: int) -> None:
    wf = shop()
    wf.enable_event_emission()
    build = wf.build_log()
    wf.react_until_satisfied({"items": [{"qty": i % 5 + 1, "price": i} for i in range(items)]})
    epoch = store.acquire(wid, "bench")
    store.append(wid, build + wf.drain_events(), epoch=epoch)
    store.set_status(wid, "idle", epoch=epoch)


def timed(port: int, path: str, n: int) -> list[float]:
    out = []
    for _ in range(n):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        t0 = time.perf_counter()
        conn.request("GET", path)
        resp = conn.getresponse()
        resp.read()
        out.append((time.perf_counter() - t0) * 1000)
        conn.close()
        assert resp.status == 200, (path, resp.status)
    return out


def show(what: str, ms: list[float]) -> None:
    print(f"  {what:<52} median {statistics.median(ms):8.2f} ms   max {max(ms):8.2f} ms   (n={len(ms)})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    count, items = (200, 400) if args.quick else (1000, 2000)
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp) / "data"
        t0 = time.perf_counter()
        with MnesiaStore("runic", dir=d) as store:
            for i in range(count):
                record(store, f"order-{i:05d}", 3)
            record(store, "big", items)
            big_events, small_events = store.cursor("big"), store.cursor("order-00000")
        print(f"store: {count} workflows of {small_events} events and one of {big_events} events "
              f"(built in {time.perf_counter() - t0:.1f} s)")
        with Dashboard(MnesiaSource(Settings(str(d), "runic")), port=0) as ui:
            show(f"GET /api/workflows ({count + 1} rows)", timed(ui.port, "/api/workflows", 5))
            show("GET /api/workflows?status=failed (no rows)", timed(ui.port, "/api/workflows?status=failed", 5))
            cold = []
            for _ in range(3):
                ui.cache = type(ui.cache)()  # forget the rebuilt workflow
                cold += timed(ui.port, "/api/workflows/big", 1)
            show(f"GET /api/workflows/big, cold ({big_events} events)", cold)
            show("GET /api/workflows/big, warm (cached)", timed(ui.port, "/api/workflows/big", 10))
            show("GET /api/workflows/big/events (last 200)", timed(ui.port, "/api/workflows/big/events", 5))
            polls = []
            for _ in range(50):
                t = time.perf_counter()
                live_state(ui.store, "big")
                polls.append((time.perf_counter() - t) * 1000)
            show("one live-view poll (status, events, owner)", polls)


if __name__ == "__main__":
    main()
