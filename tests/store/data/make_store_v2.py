"""Generate ``store_v2.db.gz``: a small store file written by runic's schema version 2.

Run once with the code that writes schema 2 (commit 1cc1993 on main, before schema 3: one row
per event) and commit the output beside this script; ``test_migration.py`` proves that later
versions open it, upgrade it in place and read every workflow, event and fact back::

    git archive 1cc1993 runic | tar -x -C /tmp/runic-v2
    PYTHONPATH=/tmp/runic-v2:$SITE_PACKAGES python -S tests/store/data/make_store_v2.py  # -S: not the installed runic

:func:`expected` describes the content, so the test checks it without this script's writer.
Besides plain codec types it stores runic events (``runic.FactProduced``...: their record names
are part of the persisted format), fact values owned by the workflow that appended them, and a
node lease, which schema 2 introduced.
"""

from __future__ import annotations

import datetime as dt
import gzip
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

RUNNERS = ("app", "other.runner")


def expected(runner: str) -> dict[str, Any]:
    """What the fixture holds for ``runner``: every value the generator wrote there."""
    from runic.events import FactProduced, RunnableCompleted, WorkflowAnnotated
    from runic.facts import STRIPPED

    n = 1 if runner == "app" else 2
    return {
        # each inner list is one append (schema 2 stored one row per event anyway)
        "appends": {
            "order-1": [[{"i": i, "runner": runner} for i in range(k, k + 5)] for k in range(0, 30, 5)],
            ("tuple", n): [[("t", n), {1, 2, 3}, 2**70, dt.date(2026, 1, n)], []],
            "runic-events": [[WorkflowAnnotated("k", {"n": n})],
                             [FactProduced(2**63 + n, STRIPPED, (5, 6), "produced", 1),
                              FactProduced(77, {"v": [n]}, None, "input", 0),
                              RunnableCompleted(9, 10, None, 1_700_000_000_000, 1, 3, True)]],
            "empty": [[]],
        },
        "owned_facts": {"runic-events": {2**63 + n: {"big": "x" * 50}}},
        "facts": {h: {"fact": h, "runner": runner} for h in (1, 2**64 - 1, 12345 * n)},
        "logs": {"order-1": [{"log": runner}, ("snapshot", 1)]},
        "snapshots": {"order-1": (30, b"opaque-snapshot-" + runner.encode())},
        "status": {"order-1": "running", ("tuple", n): "idle", "runic-events": "stopped", "empty": "failed"},
        "owners": {"order-1": ("host-a/worker-1", 3), "runic-events": ("host-b/worker-9", 1)},
        "node": ("node-a", 30.0),
    }


def events_of(want: dict[str, Any], wid: Any) -> list[Any]:
    return [e for batch in want["appends"][wid] for e in batch]


def write(directory: str) -> None:
    from runic.store import MnesiaStore

    for runner in RUNNERS:
        want = expected(runner)
        with MnesiaStore(runner, dir=directory) as s:
            generation = s.register_node(*want["node"])
            for wid, (owner, epoch_wanted) in sorted(want["owners"].items(), key=lambda kv: kv[1][1]):
                epoch = s.acquire(wid, owner, node=want["node"][0], generation=generation)
                if wid == "order-1":
                    epoch = s.acquire(wid, owner, node=want["node"][0], generation=generation)
                assert epoch == epoch_wanted, (wid, epoch)
            for wid, batches in want["appends"].items():
                epoch = s.owner(wid)[1] if wid in want["owners"] else None
                for batch in batches:
                    s.append(wid, batch, epoch=epoch, facts=want["owned_facts"].get(wid))
            for wid, log in want["logs"].items():
                s.save(wid, log)
            for wid, (cursor, snap) in want["snapshots"].items():
                s.save_snapshot(wid, cursor, snap)
            s.save_facts(want["facts"])
            for wid, status in want["status"].items():
                s.set_status(wid, status)
            assert s.meta()["schema_version"] == 2, "run this with the code that writes schema 2"


def main() -> None:
    out = Path(__file__).with_name("store_v2.db.gz")
    with tempfile.TemporaryDirectory() as tmp:
        write(tmp)
        assert not os.path.exists(os.path.join(tmp, "runic.db-wal")), "the WAL was not checkpointed"
        with open(os.path.join(tmp, "runic.db"), "rb") as src, gzip.open(out, "wb", 9) as dst:
            shutil.copyfileobj(src, dst)
    print(f"wrote {out} ({out.stat().st_size} bytes)", file=sys.stderr)


if __name__ == "__main__":
    main()
