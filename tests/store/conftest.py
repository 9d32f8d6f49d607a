"""Fixtures of the store tests: one factory per adapter, parametrized for the contract suite, and
the session's throwaway PostgreSQL server (``pg_server``; see ``tests/store/pg.py``), skipped with
the reason when the server binaries are not installed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Callable, Iterator

import pytest

from runic.store import BaseStore, MemoryStore, MnesiaStore

from . import pg

ADAPTERS = ["memory", "mnesia_disc", "mnesia_ram",
            pytest.param("postgres", marks=pytest.mark.postgres)]

#: the connection string of the session's PostgreSQL server, once the ``pg_server`` fixture
#: started it (tests are independent through their runner names: one schema serves them all)
PG_DSN: str | None = None

WORKER = Path(__file__).with_name("_worker.py")


def open_store(adapter: str, runner: str, tmp_path: Path) -> BaseStore:
    """Open a store of ``adapter`` for ``runner`` (disc stores live in ``tmp_path/data``)."""
    if adapter == "memory":
        return MemoryStore(runner)
    if adapter == "mnesia_disc":
        return MnesiaStore(runner, disc_copies=True, dir=tmp_path / "data")
    if adapter == "mnesia_ram":
        return MnesiaStore(runner, disc_copies=False)
    if adapter == "postgres":
        assert PG_DSN is not None, "the postgres adapter needs the pg_server fixture"
        from runic.store import PostgresStore

        return PostgresStore(runner, dsn=PG_DSN)
    raise ValueError(adapter)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[pg.Cluster]:
    """Where the session's PostgreSQL servers live (a temporary directory, removed at the end);
    skips with the reason when the server binaries are not installed."""
    reason = pg.available()
    if reason:
        pytest.skip(reason)
    cluster = pg.Cluster()
    try:
        yield cluster
    finally:
        cluster.close()


@pytest.fixture(scope="session")
def pg_server(pg_cluster: pg.Cluster) -> Iterator[pg.Server]:
    """One PostgreSQL server for the session (tests use their own runner names or schemas)."""
    global PG_DSN
    server = pg_cluster.server("main")
    server.initdb()
    server.start()
    PG_DSN = server.dsn()
    try:
        yield server
    finally:
        PG_DSN = None
        server.stop()


@pytest.fixture(params=ADAPTERS)
def adapter(request: pytest.FixtureRequest) -> str:
    """The adapter under test (the contract suite runs once per adapter)."""
    return request.param


@pytest.fixture
def runner_name() -> str:
    """A runner name unique to the test (RAM and memory tables are per process)."""
    return f"t{uuid.uuid4().hex[:12]}"


@pytest.fixture
def open_(adapter: str, runner_name: str, tmp_path: Path,
          request: pytest.FixtureRequest) -> Iterator[Callable[[], BaseStore]]:
    """Open more handles on the test's store; every handle is closed and tables dropped after."""
    if adapter == "postgres":
        request.getfixturevalue("pg_server")
    handles: list[BaseStore] = []

    def opener() -> BaseStore:
        s = open_store(adapter, runner_name, tmp_path)
        handles.append(s)
        return s

    yield opener
    for h in handles:
        h.close()
    if adapter != "mnesia_disc":  # in-process (or server) tables: drop them so the test leaves nothing
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


class Proc:
    """A helper process running ``_worker.py``; its stdout is read as JSON lines."""

    def __init__(self, popen: "subprocess.Popen[bytes]") -> None:
        self.popen = popen
        self.pid = popen.pid
        self._buf = b""

    def line(self, timeout: float = 60.0) -> dict | None:
        """The next JSON line, or ``None`` at end of output. Fails the test after ``timeout``."""
        import json
        import select

        deadline = time.monotonic() + timeout
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"helper process {self.pid} printed nothing for {timeout} s")
            ready, _, _ = select.select([self.popen.stdout], [], [], left)
            if ready:
                chunk = os.read(self.popen.stdout.fileno(), 65536)  # type: ignore[union-attr]
                if not chunk:
                    if self._buf:
                        break
                    return None
                self._buf += chunk
        raw, _, self._buf = self._buf.partition(b"\n")
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            # the last line can be cut by kill -9 in the middle of os.write: not an ack
            return {"partial": raw.decode(errors="replace")}

    def lines(self, timeout: float = 60.0) -> list[dict]:
        """Every remaining line until the process closes its output."""
        got = []
        while (item := self.line(timeout)) is not None:
            got.append(item)
        return got

    def wait(self, timeout: float = 60.0) -> int:
        return self.popen.wait(timeout)

    def stderr(self) -> str:
        return self.popen.stderr.read().decode(errors="replace") if self.popen.stderr else ""


@pytest.fixture
def spawn(worker_env: dict[str, str]) -> Iterator[Callable[..., Proc]]:
    """Start ``_worker.py`` processes; any still running at teardown is killed (by pid)."""
    procs: list[Proc] = []

    def start(*args: object, preexec_fn: Callable[[], None] | None = None) -> Proc:
        popen = subprocess.Popen(
            [PYTHON, str(WORKER), *map(str, args)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
            env=worker_env, preexec_fn=preexec_fn,
        )
        proc = Proc(popen)
        procs.append(proc)
        return proc

    yield start
    for p in procs:
        if p.popen.poll() is None:
            os.kill(p.pid, signal.SIGKILL)
        p.popen.wait(30)
        for stream in (p.popen.stdout, p.popen.stderr):
            if stream:
                stream.close()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: long-running (soak) tests; run them with `-m slow`")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``slow`` run only when asked for with ``-m`` (e.g. ``-m slow``)."""
    if config.getoption("-m"):
        return
    skip = pytest.mark.skip(reason="slow: run with `-m slow`")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
