"""Fixtures of the Runner tests: a Runner on a real actor system, per store kind."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Callable, Iterator

import pytest

from runic.runner import Runner
from runic.store import MemoryStore, MnesiaStore

STORES = ["memory", "mnesia"]


def store_args(kind: str, tmp_path: Path) -> tuple[type, dict]:
    if kind == "memory":
        return MemoryStore, {}
    return MnesiaStore, {"dir": str(tmp_path / "data")}


@pytest.fixture(params=STORES)
def store_kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def make_runner(actor_system, tmp_path: Path) -> Iterator[Callable[..., Runner]]:
    """Start Runners on the test's actor system; all are shut down after the test."""
    started: list[Runner] = []

    def make(kind: str = "mnesia", name: str | None = None, **kw) -> Runner:
        store, opts = store_args(kind, tmp_path)
        opts.update(kw.pop("store_opts", {}))
        r = Runner.start_link(name=name or f"r{uuid.uuid4().hex[:8]}", store=store, store_opts=opts,
                              system=actor_system, timeout=kw.pop("timeout", 30), **kw)
        started.append(r)
        return r

    yield make
    for r in reversed(started):
        r.shutdown()


@pytest.fixture
def runner(make_runner, store_kind: str) -> Runner:
    """A Runner with the parametrized store (MemoryStore and MnesiaStore on disc)."""
    return make_runner(store_kind)


class Journal:
    """A file that steps, hooks and callbacks running in worker hosts append JSON lines to."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.touch()

    def writer(self) -> Callable:
        path = str(self.path)

        def write(*record) -> None:
            with open(path, "a") as f:
                f.write(json.dumps(record, default=repr) + "\n")

        return write

    def read(self) -> list:
        return [json.loads(line) for line in self.path.read_text().splitlines() if line]


@pytest.fixture
def journal(tmp_path: Path) -> Journal:
    return Journal(tmp_path / f"journal-{uuid.uuid4().hex[:6]}.jsonl")
