"""Start, run and delete workflows directly on the store, over and over: the file stays flat.

Each workflow is written the way a Runner writes one (its build log, then appends carrying fact
values and statuses, under an acquired epoch), then deleted; every 100 workflows ``gc()`` runs.
The default suite runs 400 workflows; ``-m slow`` runs 5,000. Before schema 2 the fact values
stayed for ever and the file grew linearly (1.27 MiB/min in a 10-minute Runner soak).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from runic.store import MnesiaStore
from runic.store.mnesia import DB_FILE

ROOT = Path(__file__).resolve().parents[2]


def one_workflow(store: MnesiaStore, n: int) -> None:
    wid = f"order-{n}"
    epoch = store.acquire(wid, "host-a/worker-1")
    store.append(wid, [("built", i, "x" * 40) for i in range(5)], epoch=epoch, status="running")
    shared_input = 7  # the same input fed to every workflow: a shared fact value
    for step in range(4):
        facts = {((n + 1) << 8) | step: {"result": [n, step, "y" * 150]}, shared_input: {"input": 42}}
        events = [("produced", ((n + 1) << 8) | step, (1, 2)), ("consumed", shared_input)]
        store.append(wid, events, epoch=epoch, facts=facts)
    store.set_status(wid, "idle", epoch=epoch)
    store.delete(wid)


def sizes(d: Path) -> tuple[int, int]:
    wal = d / (DB_FILE + "-wal")
    return (d / DB_FILE).stat().st_size, wal.stat().st_size if wal.exists() else 0


def soak(d: Path, workflows: int) -> list[tuple[int, int, int]]:
    """Run the loop; return (workflows done, db bytes, wal bytes) every 100 workflows."""
    samples = []
    with MnesiaStore("app", dir=d) as store:
        store.save_fact(1, "pinned by hand: stays")
        for n in range(workflows):
            one_workflow(store, n)
            if (n + 1) % 100 == 0:
                store.gc()
                samples.append((n + 1, *sizes(d)))
        assert store.table_info("FactStore", "size") == 1
        assert store.load_fact(1) == "pinned by hand: stays"
        assert store.list_status() == {} and store.list() == []
    return samples


def check_flat(samples: list[tuple[int, int, int]]) -> None:
    warm = samples[1][1]  # after 200 workflows the freed pages are being reused
    for done, db, wal in samples[1:]:
        assert db <= warm * 1.05 + 16384, f"the store grew to {db} bytes after {done} workflows ({samples})"
        assert wal == 0, f"gc left a {wal}-byte WAL after {done} workflows"


def test_start_run_delete_keeps_the_file_flat(tmp_path: Path) -> None:
    check_flat(soak(tmp_path / "data", 400))


@pytest.mark.slow
def test_start_run_delete_soak_5000_workflows(tmp_path: Path) -> None:
    samples = soak(tmp_path / "data", 5000)
    check_flat(samples)
    print("db/WAL bytes every 100 workflows:", [(d, db, wal) for d, db, wal in samples[::10]])


def test_runic_gc_command(tmp_path: Path) -> None:
    d = tmp_path / "data"
    with MnesiaStore("runic", dir=d) as s:
        s.append("a", ["e"], facts={5: "shared"})
        s.append("b", ["e"], facts={5: "shared"})
        s.delete("a")
        s.delete("b")
        s.append("c", [("refs", 6)], facts={6: "kept"})
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-m", "runic.cli", "gc", "--dir", str(d)], capture_output=True,
                          text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "removed 1 fact values" in proc.stdout and "1 workflows scanned" in proc.stdout
    with MnesiaStore("runic", dir=d) as s:
        assert s.table_info("FactStore", "size") == 1 and s.load_fact(6) == "kept"
    missing = subprocess.run([sys.executable, "-m", "runic.cli", "gc", "--dir", str(tmp_path / "nowhere")],
                             capture_output=True, text=True, env=env, timeout=120)
    assert missing.returncode == 2 and "does not exist" in missing.stderr
