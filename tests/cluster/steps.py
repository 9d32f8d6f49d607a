"""Step functions of the cluster tests (module-level: importable in every worker host)."""

from __future__ import annotations

import json
import os
import time


def journal_step(path: str, wid: str, name: str, delay: float, x: int) -> int:
    """Record the start and the end of this execution (workflow, step, idempotency key, node,
    wall-clock time) in the journal, sleeping ``delay`` in between; return ``x + 1``."""
    import runic

    key = runic.current_runnable().idempotency_key
    node = os.environ.get("RUNIC_TEST_NODE", "?")

    def record(phase: str) -> None:
        line = json.dumps({"wid": wid, "step": name, "key": str(key), "node": node, "phase": phase,
                           "t": time.time(), "pid": os.getpid()})
        with open(path, "a") as f:
            f.write(line + "\n")

    record("start")
    time.sleep(delay)
    record("end")
    return x + 1


def add1(x: int) -> int:
    return x + 1
