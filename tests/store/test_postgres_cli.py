"""The command line on PostgreSQL: ``--dsn`` (or ``$RUNIC_DATABASE_URL``) selects the
PostgresStore for every command: ``run`` stores the workflow in the database, and ``ls``,
``show`` and ``delete`` find it there; a database without runic's tables, or without the
runner, is refused with a usage error; ``--dir`` with ``--dsn`` is refused."""

from __future__ import annotations

import json
import re
import shutil
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest

from ..cli.helpers import HERE, Cli, marked_pids
from ..waiting import wait_for
from . import pg

pytestmark = pytest.mark.postgres

pytest.importorskip("psycopg")

ORDER = {"items": [{"qty": 2, "price": 10}, {"qty": 1, "price": 35}, {"qty": 4, "price": 0.5}]}


@pytest.fixture
def database(pg_server: pg.Server) -> Iterator[str]:
    """A database of the test's own, as a URL (dropped after)."""
    name = f"cli_{uuid.uuid4().hex[:8]}"
    with pg_server.admin() as conn:
        conn.execute(f"CREATE DATABASE {name}")
    yield pg_server.url(name)
    with pg_server.admin() as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def cli(tmp_path: Path) -> Iterator[Cli]:
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(HERE / "userflows.py", work / "flows.py")
    mark = uuid.uuid4().hex
    yield Cli(work, mark)
    wait_for(lambda: not marked_pids(mark), timeout=15)


def test_every_command_uses_the_database_of_dsn(cli: Cli, database: str, pg_server: pg.Server) -> None:
    empty = cli("ls", "--dsn", database)
    assert empty.code != 0 and "holds no runic workflows yet" in empty.err, empty
    assert pg.PASSWORD not in empty.err + empty.out

    run = cli("run", "flows:pipeline", "--input", json.dumps(ORDER), "--id", "order-1", "--dsn", database)
    assert run.code == 0, run
    assert f"PostgreSQL {pg_server.node}/" in run.out and pg.PASSWORD not in run.out, run

    from runic.store import PostgresStore

    with PostgresStore("runic", dsn=database) as store:
        assert store.status("order-1") == "idle" and store.cursor("order-1") > 10

    listed = cli("ls", env={"RUNIC_DATABASE_URL": database})  # the database from the environment
    assert listed.code == 0 and re.search(r"order-1\s+│\s+idle", listed.out), listed
    shown = cli("show", "order-1", "--dsn", database)
    assert shown.code == 0 and re.search(r"total\s+│\s+reduce\s+│\s+1\s+│\s+57\.0", shown.out), shown
    other = cli("ls", "--dsn", database, "--runner", "elsewhere")
    assert other.code != 0 and "--runner runic" in other.err, other
    both = cli("ls", "--dsn", database, "--dir", "data")
    assert both.code != 0 and "not both" in both.err, both
    gone = cli("delete", "order-1", "--yes", "--dsn", database)
    assert gone.code == 0, gone
    with PostgresStore("runic", dsn=database) as store:
        assert not store.exists("order-1")


def test_an_unreachable_database_is_a_clear_error(cli: Cli) -> None:
    url = f"postgresql://u:secret@127.0.0.1:{pg.free_port()}/app?connect_timeout=2"
    r = cli("ls", "--dsn", url)
    assert r.code != 0 and "cannot reach a PostgreSQL server" in r.err and "secret" not in r.err, r
    assert "Traceback" not in r.err


def test_the_dashboard_reads_the_database_of_dsn(database: str) -> None:
    from runic.cli.context import Settings
    from runic.store import PostgresStore
    from runic.ui.sources import source_for, status_times

    with PostgresStore("runic", dsn=database) as s:
        s.append("wf", ["e"], status="idle")
    source = source_for(Settings(None, "runic", dsn=database))
    assert "PostgreSQL" in source.where
    store = source.open()
    try:
        assert store.status("wf") == "idle" and status_times(store)["wf"] > 0
    finally:
        store.close()
