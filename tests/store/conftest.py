"""Fixtures of the store tests: one factory per adapter, parametrized for the contract suite."""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path
from typing import Callable, Iterator

import pytest

from runic.store import BaseStore, MemoryStore, MnesiaStore

ADAPTERS = ["memory", "mnesia_disc", "mnesia_ram"]

WORKER = Path(__file__).with_name("_worker.py")


def open_store(adapter: str, runner: str, tmp_path: Path) -> BaseStore:
    """Open a store of ``adapter`` for ``runner`` (disc stores live in ``tmp_path/data``)."""
    if adapter == "memory":
        return MemoryStore(runner)
    if adapter == "mnesia_disc":
        return MnesiaStore(runner, disc_copies=True, dir=tmp_path / "data")
    if adapter == "mnesia_ram":
        return MnesiaStore(runner, disc_copies=False)
    raise ValueError(adapter)


@pytest.fixture(params=ADAPTERS)
def adapter(request: pytest.FixtureRequest) -> str:
    """The adapter under test (the contract suite runs once per adapter)."""
    return request.param


@pytest.fixture
def runner_name() -> str:
    """A runner name unique to the test (RAM and memory tables are per process)."""
    return f"t{uuid.uuid4().hex[:12]}"


@pytest.fixture
def open_(adapter: str, runner_name: str, tmp_path: Path) -> Iterator[Callable[[], BaseStore]]:
    """Open more handles on the test's store; every handle is closed and tables dropped after."""
    handles: list[BaseStore] = []

    def opener() -> BaseStore:
        s = open_store(adapter, runner_name, tmp_path)
        handles.append(s)
        return s

    yield opener
    for h in handles:
        h.close()
    if adapter != "mnesia_disc":  # in-process tables: drop them so the test leaves nothing
        with open_store(adapter, runner_name, tmp_path) as s:
            s.drop_tables()


@pytest.fixture
def store(open_: Callable[[], BaseStore]) -> BaseStore:
    """A fresh store of the adapter under test."""
    return open_()


@pytest.fixture
def worker_env() -> dict[str, str]:
    """Environment for helper processes (``_worker.py``) that import runic from this checkout."""
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("RUNIC_DATA_DIR", None)
    return env


PYTHON = sys.executable
