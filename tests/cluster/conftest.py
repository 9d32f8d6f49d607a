"""Fixtures of the cluster tests: a cluster of nodes in network namespaces (see ``harness.py``),
skipped with the reason when this machine cannot make one (not root, no iproute2, no
PostgreSQL server binaries)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

import pytest

from ..store import pg
from . import netns
from .harness import TestCluster


def _why_not() -> str | None:
    return netns.unavailable() or pg.available()


@pytest.fixture
def make_cluster(tmp_path: Path) -> Iterator[Callable[..., TestCluster]]:
    """Make a cluster (``make_cluster(lease=1.0)``); everything it started is stopped and its
    namespaces deleted after the test."""
    reason = _why_not()
    if reason:
        pytest.skip(reason)
    pytest.importorskip("psycopg")
    made: list[TestCluster] = []

    def make(lease: float = 1.0) -> TestCluster:
        c = TestCluster(tmp_path, lease)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()
