"""`runic demo` end to end: a real SIGKILL of the worker host, the automatic resume, the data kept."""

from __future__ import annotations

import re
from collections import Counter

from runic.actors import procs
from runic.events import RunnableCompleted, RunnableDispatched
from runic.store import MnesiaStore


def _stream(data, wid):
    with MnesiaStore("runic", dir=data) as store:
        return store.status(wid), store.owner(wid), list(store.stream(wid))


def test_demo_kills_its_worker_host_resumes_and_keeps_the_data(cli, workdir):
    first = cli("demo")  # the default store directory: ./runic-data/<node>
    assert first.code == 0, first
    out = first.out
    assert "This store is new" in out, first
    killed = re.search(r"killing worker host pid (\d+) \(SIGKILL\) with (\d+) steps done and (\d+) in flight", out)
    restarted = re.search(r"worker host restarted as pid (\d+), resuming demo-1 from the store", out)
    assert killed and restarted, first
    victim, new_pid = int(killed.group(1)), int(restarted.group(1))
    assert victim != new_pid and not procs.is_alive(victim)
    assert int(killed.group(3)) > 0, "the host was killed while work was in flight"
    assert out.index("killing worker host") < out.index("worker host restarted") < out.index("3. results")
    assert 'invoice: {"customer": "Ada Lovelace", "tier": "gold", "subtotal": 178.8, "discount": 17.88, "total": 160.92}' in out
    assert "large_order_review: \"manager review requested: Ada Lovelace ordered 160.92 (over 100)\"" in out
    assert re.search(r"none of the \d+ step runs completed before the kill ran again", out), first
    assert re.search(r"retried \d+× before it answered", out), first
    data_dirs = list((workdir / "runic-data").iterdir())
    assert len(data_dirs) == 1 and (data_dirs[0] / "runic.db").is_file()
    data = data_dirs[0]
    assert f"data lives in {data / 'runic.db'}" in out and "`runic ls`" in out, first

    # what the store holds, checked independently of the CLI's own story
    status, owner, events = _stream(data, "demo-1")
    assert status == "idle"
    assert owner[0].endswith(f"/{new_pid}") and owner[1] >= 2, owner  # taken over by the restarted host
    completed = Counter(e.runnable_id for e in events if isinstance(e, RunnableCompleted))
    assert completed and max(completed.values()) == 1, "a step that completed ran again"
    retries = [e for e in events if isinstance(e, RunnableDispatched) and e.attempt > 0]
    assert {e.node_name for e in retries} == {"lookup_customer"}

    # a second run shows the first one, and both are listed
    second = cli("demo", "--no-kill")
    assert second.code == 0, second
    assert "earlier workflows in this store (1)" in second.out, second
    assert re.search(r"demo-1\s+│\s+idle\s+│\s+\d+\s+│\s+Ada Lovelace: total 160.92", second.out), second
    assert "running demo-2: order B-2002" in second.out and "killing" not in second.out, second
    assert "large_order_review: did not fire" in second.out, second
    listing = cli("ls")
    assert listing.code == 0, listing
    assert re.search(r"demo-1\s+│\s+idle\s+│\s+order-pipeline", listing.out), listing
    assert re.search(r"demo-2\s+│\s+idle\s+│\s+order-pipeline", listing.out), listing
