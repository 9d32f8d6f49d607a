"""`runic run` and the inspection commands on a real store: ls, show, events, graph, delete."""

from __future__ import annotations

import json
import re
import shutil
import uuid

import pytest

from runic.store import MnesiaStore

from ..waiting import wait_for
from .helpers import HERE, Cli, marked_pids

ORDER = {"items": [{"qty": 2, "price": 10}, {"qty": 1, "price": 35}, {"qty": 4, "price": 0.5}]}


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    """One `runic run` of the shop pipeline (order-1), shared read-only by the tests here."""
    work = tmp_path_factory.mktemp("shop")
    shutil.copy(HERE / "userflows.py", work / "flows.py")
    mark = uuid.uuid4().hex
    run = Cli(work, mark)("run", "flows:pipeline", "--input", json.dumps(ORDER), "--id", "order-1", "--dir", "data")
    wait_for(lambda: not marked_pids(mark), timeout=15)
    return work, work / "data", run


def test_run_happy_path(shop):
    _work, data, r = shop
    assert r.code == 0, r
    assert f"running flows:pipeline() as workflow order-1 in {data} (runner 'runic')" in r.out, r
    table = r.out[r.out.index("workflow order-1"):]
    assert re.search(r"price\s+│\s+step\s+│\s+3\s+│\s+·\s+│\s+3\s+│", table), r  # 3 dispatched, 3 done
    assert re.search(r"total\s+│\s+reduce\s+│", table), r
    assert re.search(r"\btotal\s+57\.0\b", r.out) and "big order: 57.0" in r.out, r
    assert f"workflow order-1 finished (status idle); stored in {data}" in r.out, r
    with MnesiaStore("runic", dir=data) as store:
        assert store.status("order-1") == "idle" and store.cursor("order-1") > 10


def test_run_with_a_workflow_attribute_memory_store_and_generated_id(cli):
    r = cli("run", "flows:PIPELINE", "--input", json.dumps(ORDER), "--store", "memory")
    assert r.code == 0, r
    m = re.search(r"running flows:PIPELINE as workflow (shop-[0-9a-f]{6}) in a memory store", r.out)
    assert m, r
    assert "big order: 57.0" in r.out and "in memory" in r.out, r
    assert not (cli.cwd / "runic-data").exists(), "a memory run wrote a store"
    odd = cli("run", "flows:pipeline", "--input", json.dumps(ORDER), "--store", "memory", "--id", "[red]x[/red]")
    assert odd.code == 0 and "as workflow [red]x[/red] in" in odd.out, odd  # ids are text, not markup


def test_run_input_from_a_file_and_default_store_dir(cli, workdir):
    (workdir / "order.json").write_text(json.dumps({"items": [{"qty": 1, "price": 3}]}))
    r = cli("run", "flows:pipeline", "--input", "@order.json", "--id", "small")
    assert r.code == 0, r
    assert "big" not in r.out.split("results")[1].split("✓")[0], r  # the rule did not fire for 3
    listing = cli("ls")
    assert listing.code == 0 and re.search(r"small\s+│\s+idle\s+│\s+shop", listing.out), listing


def test_run_of_a_failing_workflow_exits_1_and_names_the_step(cli):
    r = cli("run", "flows:failing", "--input", json.dumps(ORDER), "--id", "bad", "--dir", "data")
    assert r.code == 1, r
    assert "failed ship on 57.0: ValueError: cannot ship an order of 57.0" in r.out, r
    assert r.error_line == "error: workflow 'bad' finished with 1 failed step(s); `runic show bad --dir data` shows it all", r
    show = cli("show", "bad", "--dir", "data")
    assert show.code == 0 and re.search(r"#1 ship \(step\) attempt 1: failed at .*\n    ValueError: cannot ship an "
                                        r"order of 57\.0\n    input: 57\.0\n", show.out), show


def test_run_refuses_an_existing_id(cli, shop):
    _work, data, _r = shop
    r = cli("run", "flows:pipeline", "--input", "{}", "--id", "order-1", "--dir", str(data))
    assert r.code == 2, r
    assert r.error_line.startswith("error: workflow 'order-1' already exists in ") and "runic resume order-1" in r.err, r


def test_ls(cli, shop):
    _work, data, _r = shop
    r = cli("ls", "--dir", str(data))
    assert r.code == 0, r
    assert re.search(r"order-1\s+│\s+idle\s+│\s+shop\s+│\s+\d+\s+│\s+runic/runic\.host-0/\d+ \(1\)", r.out), r
    env = cli("ls", env={"RUNIC_DATA_DIR": str(data)})  # the directory from the environment
    assert env.code == 0 and f"workflows in {data} (runner 'runic')" in env.out and "order-1" in env.out, env
    none = cli("ls", "--dir", str(data), "--status", "running")
    assert none.code == 0 and "no workflows with status running" in none.out, none


def test_show(cli, shop):
    _work, data, _r = shop
    r = cli("show", "order-1", "--dir", str(data))
    assert r.code == 0, r
    with MnesiaStore("runic", dir=data) as store:
        cursor = store.cursor("order-1")
    assert re.search(r"workflow\s+order-1 \(shop\)", r.out), r
    assert re.search(r"status\s+idle", r.out) and re.search(r"owner\s+runic/runic\.host-0/\d+ \(epoch 1(, node [^)]+)?\)", r.out), r
    assert re.search(rf"events\s+{cursor} in the stream", r.out), r
    assert re.search(rf"last checkpoint\s+event {cursor} at \d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d", r.out), r
    assert "pending work: none" in r.out and "failures: none" in r.out, r
    assert re.search(r"price\s+│\s+step\s+│\s+3\s+│\s+(20|35|2\.0)\b", r.out), r  # three prices
    assert re.search(r"total\s+│\s+reduce\s+│\s+1\s+│\s+57\.0", r.out), r
    assert re.search(r"big\s+│\s+rule\s+│\s+1\s+│\s+\"big order: 57\.0\"", r.out), r


def test_events_pages_and_filters(cli, shop):
    _work, data, _r = shop
    with MnesiaStore("runic", dir=data) as store:
        total = store.cursor("order-1")
    first = cli("events", "order-1", "--dir", str(data), "--limit", "10")
    assert first.code == 0, first
    lines = [line for line in first.out.splitlines() if re.match(r"\s*\d+ ", line)]
    assert [int(line.split()[0]) for line in lines] == list(range(1, 11)), first
    assert lines[0].split()[1] == "WorkflowDefined"
    assert f"events 1–10 of {total}; next page: `runic events order-1 --start 11 --dir {data} --limit 10`" in first.out
    # stripped values are loaded from the fact table
    assert re.search(r"FactProduced\s+#[0-9a-f]{8} input: \{\"items\"", first.out), first
    last = cli("events", "order-1", "--dir", str(data), "--start", str(total - 1))
    assert last.code == 0 and f"events {total - 1}–{total} of {total}" in last.out and "next page" not in last.out
    failed = cli("events", "order-1", "--dir", str(data), "--type", "RunnableCompleted", "--json", "--limit", "0")
    assert failed.code == 0, failed
    records = [json.loads(line) for line in failed.out.splitlines()]
    assert records and {r["type"] for r in records} == {"RunnableCompleted"}
    assert all(set(r) == {"seq", "type", "fields"} and "duration_ms" in r["fields"] for r in records)
    produced = cli("events", "order-1", "--dir", str(data), "--type", "factproduced", "--json", "--limit", "0")
    values = [json.loads(line)["fields"]["value"] for line in produced.out.splitlines()]
    assert ORDER in values and {20, 35, 2.0} <= {v for v in values if isinstance(v, (int, float))}
    assert "big order: 57.0" in values
    reduced = cli("events", "order-1", "--dir", str(data), "--type", "FanInCompleted")
    assert reduced.code == 0 and re.search(r"FanInCompleted\s+total → #[0-9a-f]{8}: 57\.0", reduced.out), reduced


@pytest.mark.parametrize("fmt, head", [("mermaid", "%% workflow shop\nflowchart TD\n"), ("dot", 'digraph "shop" {')])
def test_graph(cli, shop, fmt, head):
    _work, data, _r = shop
    r = cli("graph", "order-1", "--dir", str(data), "--format", fmt)
    assert r.code == 0, r
    assert r.out.startswith(head), r
    assert "step: price" in r.out and "ran 3×" in r.out and "57.0" in r.out, r
    out = cli.cwd / f"g.{fmt}"
    w = cli("graph", "order-1", "--dir", str(data), "--format", fmt, "--output", str(out))
    assert w.code == 0 and out.read_text() == r.out, w


def test_delete(cli, shop, workdir):
    _work, data, _r = shop
    copy = workdir / "copy"
    shutil.copytree(data, copy)
    no = cli("delete", "order-1", "--dir", str(copy))
    assert no.code == 2 and no.error_line == "error: not deleting 'order-1' without confirmation; pass --yes", no
    r = cli("delete", "order-1", "--dir", str(copy), "--yes")
    assert r.code == 0 and re.search(r"deleted workflow order-1 \(\d+ events\)", r.out), r
    gone = cli("show", "order-1", "--dir", str(copy))
    assert gone.code == 2 and "no workflow 'order-1'" in gone.err, gone
    empty = cli("ls", "--dir", str(copy))
    assert empty.code == 0 and "no workflows in" in empty.out, empty
