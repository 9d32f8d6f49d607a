"""Fixtures of the CLI tests: run ``runic`` as a user does, in a temporary working directory.

Every command runs as a subprocess (``python -m runic``, the same code as the ``runic``
console script) with an environment marker; after each test no process carrying the marker
may be left (the CLI shuts its actor system down; worker hosts, admin and watchdog included).
"""

from __future__ import annotations

import os
import shutil
import signal
import time
import uuid
from pathlib import Path
from typing import Iterator

import pytest

from .helpers import HERE, LEFTOVER_GRACE_SECONDS, Cli, marked_pids


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """The working directory of the test's commands, with the user's ``flows.py`` in it."""
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(HERE / "userflows.py", work / "flows.py")
    return work


@pytest.fixture
def cli(workdir: Path) -> Iterator[Cli]:
    """Run ``runic``; after the test, fail if any process the commands started is still alive."""
    mark = uuid.uuid4().hex
    runner = Cli(workdir, mark)
    yield runner
    deadline = time.monotonic() + LEFTOVER_GRACE_SECONDS
    left = marked_pids(mark)
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = marked_pids(mark)
    if left:
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        pytest.fail(f"processes started by the CLI outlived it and were killed: {left}", pytrace=False)
