"""``runic nodes`` lists the nodes sharing a store with their leases; ``runic ls`` names the
node that owns each workflow."""

from __future__ import annotations

import time
from pathlib import Path

from runic.store import MnesiaStore


def cells(line: str) -> list[str]:
    return [w for w in line.split() if w != "│"]


def test_runic_nodes_and_the_owner_node_in_ls(cli, workdir: Path) -> None:
    with MnesiaStore("runic", dir=workdir / "data") as store:
        ga = store.register_node("node-a", 60.0, {"host": "host-a", "pid": 4242})
        gone = store.register_node("node-gone", 0.01, {"host": "host-b", "pid": 7})
        old = store.register_node("node-old", 60.0)
        store.release_node("node-old", old)
        for wid, node, gen in (("wa1", "node-a", ga), ("wa2", "node-a", ga), ("wg", "node-gone", gone)):
            epoch = store.acquire(wid, f"runic/{node}", node=node, generation=gen)
            store.append(wid, [{"e": 1}], epoch=epoch, status="running")
    time.sleep(0.05)
    r = cli("nodes", "--dir", "data")
    assert r.code == 0, r.err
    rows = {cells(line)[0]: cells(line) for line in r.out.splitlines() if line.strip().startswith("node-")}
    assert rows["node-a"][1:3] == ["1", "yes"] and rows["node-a"][-3:] == ["2", "host-a", "4242"]
    assert rows["node-gone"][1:3] == ["1", "no"] and rows["node-gone"][-3] == "1"  # dead, still owns one
    assert "node-old" not in rows, "a dead node that owns nothing is listed with --all only"
    assert "1 live node(s)" in r.out
    every = cli("nodes", "--dir", "data", "--all")
    assert "node-old" in every.out
    listing = cli("ls", "--dir", "data")
    assert listing.code == 0, listing.err
    nodes_of = {cells(line)[0]: cells(line)[-1] for line in listing.out.splitlines()
                if line.strip().startswith(("wa", "wg"))}
    assert nodes_of == {"wa1": "node-a", "wa2": "node-a", "wg": "node-gone"}
    none = cli("nodes", "--dir", "data", "--runner", "other")
    assert none.code != 0 and "other" in none.err
