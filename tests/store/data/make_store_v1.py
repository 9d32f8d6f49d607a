"""Generate ``store_v1.db.gz``: a small store file written by runic's schema version 1.

Run once with the release that writes schema 1 (runic 0.1.0, commit 3e443a0 on main) and commit
the output beside this script; ``test_migration.py`` proves that later versions open it, upgrade
it in place and read every workflow, event and fact back::

    python tests/store/data/make_store_v1.py            # writes tests/store/data/store_v1.db.gz

:func:`expected` describes the content, so the test checks it without this script's writer.
Only plain codec types are stored (no runic events or records), so the fixture does not depend on
classes that later versions may rename.
"""

from __future__ import annotations

import datetime as dt
import decimal
import gzip
import os
import shutil
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

RUNNERS = ("app", "other.runner")


def expected(runner: str) -> dict[str, Any]:
    """What the fixture holds for ``runner``: every value the generator wrote there."""
    n = 1 if runner == "app" else 2
    wf_events = {
        "order-1": [{"i": i, "pad": "x" * 10, "runner": runner} for i in range(40)],
        ("tuple", n): [("t", n), {1, 2, 3}, frozenset({"a"}), 2**70, dt.date(2026, 1, n)],
        7 * n: [None, True, 1.5, b"\x00\xff", [1, [2, [3]]]],
        uuid.UUID(int=n): [decimal.Decimal("1.10"), dt.timedelta(seconds=n)],
        "empty": [],
    }
    return {
        "events": wf_events,
        "logs": {"order-1": [{"log": runner}, ("snapshot", 1)], 7 * n: ["int id log"]},
        "snapshots": {"order-1": (40, b"opaque-snapshot-" + runner.encode())},
        "facts": {h: {"fact": h, "runner": runner} for h in (1, 2**63 + 5, 2**64 - 1, 12345 * n)},
        "status": {"order-1": "running", ("tuple", n): "idle", 7 * n: "stopped", "empty": "failed"},
        "owners": {"order-1": ("host-a/worker-1", 3), ("tuple", n): ("host-b/worker-9", 1)},
    }


def write(directory: str) -> None:
    from runic.store import MnesiaStore

    for runner in RUNNERS:
        want = expected(runner)
        with MnesiaStore(runner, dir=directory) as s:
            for wid, events in want["events"].items():
                s.append(wid, events)
            for wid, log in want["logs"].items():
                s.save(wid, log)
            for wid, (cursor, snap) in want["snapshots"].items():
                s.save_snapshot(wid, cursor, snap)
            s.save_facts(want["facts"])
            for wid, (owner, _epoch) in sorted(want["owners"].items(), key=lambda kv: kv[1][1]):
                epoch = s.acquire(wid, owner)
                if wid == "order-1":  # a second acquire: epoch 3 (epochs are per runner)
                    epoch = s.acquire(wid, owner)
                assert epoch == want["owners"][wid][1], (wid, epoch)
            for wid, status in want["status"].items():
                s.set_status(wid, status)
            assert s.meta()["schema_version"] == 1, "run this with the release that writes schema 1"


def main() -> None:
    out = Path(__file__).with_name("store_v1.db.gz")
    with tempfile.TemporaryDirectory() as tmp:
        write(tmp)
        assert not os.path.exists(os.path.join(tmp, "runic.db-wal")), "the WAL was not checkpointed"
        with open(os.path.join(tmp, "runic.db"), "rb") as src, gzip.open(out, "wb", 9) as dst:
            shutil.copyfileobj(src, dst)
    print(f"wrote {out} ({out.stat().st_size} bytes)", file=sys.stderr)


if __name__ == "__main__":
    main()
