"""Every example script runs, prints what it promises, and leaves no process behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"

EXPECTED = {
    "quick_start.py": ["results: {'add_one': 6, 'double': 12, 'square': 36}", "rule: ['20 is big']", "flowchart TD"],
    "text_processing.py": ["count: 6", "first: anybody", "longest: sandwich"],
    "rules_and_accumulator.py": ["balance history: [0, 100, 70, -50, 10]", "alerts: ['ALERT: balance -50']",
                                "alarms: ['ALARM: door forced']"],
    "map_reduce.py": ["line prices: [1.5, 2.0, 3.0]", "order total: 6.5", "empty order total: [6.5, 0.0]"],
    "durable_pipeline.py": ["decision: {'id': 7, 'amount': 42, 'tax': 8.4, 'verdict': 'manual-review'}",
                            "fetch attempts: [0, 1, 2]", "stored: stopped",
                            "order-7 failure: step 'fraud' timed out after 200 ms -> fallback",
                            "after resume: {'id': 7, 'amount': 42, 'tax': 8.4, 'verdict': 'manual-review'}",
                            "pay-8: failed - step 'charge' raised ValueError: card expired for order 8"],
    "own_supervisor.py": ["result: ['HELLO!']", "restarts: 1", "runner undisturbed: ['HELLO!', 'STILL HERE!']"],
    "actor_messages.py": ["squares: [1, 4, 9, 16]", "again (same id): error: runic.runner.errors.AlreadyStartedError"],
}


def test_every_example_is_covered():
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted(EXPECTED)


def processes_mentioning(marker: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if marker.encode() in cmd:
            pids.append(int(entry.name))
    return pids


@pytest.mark.parametrize("script", sorted(EXPECTED))
def test_example_runs(script, tmp_path):
    marker = str(tmp_path / "data")
    proc = subprocess.run([sys.executable, str(EXAMPLES / script), marker], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr
    for line in EXPECTED[script]:
        assert line in proc.stdout, f"{script}: {line!r} missing from:\n{proc.stdout}\n{proc.stderr}"
    deadline = time.monotonic() + 5
    while processes_mentioning(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = processes_mentioning(marker)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left, f"{script} left processes behind: {left}"
