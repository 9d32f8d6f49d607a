"""A Runner on PostgreSQL: a SIGKILLed worker host's workflow resumes on a new host and
finishes, nothing lost and no completed step run twice; the seed's children list, with
``MnesiaStore`` and ``nodes`` naming the database host, runs a workflow durably.

The Runner chooses the store through its ``store=`` option (a class or a name) and reopens it
in each worker host by its ``module:Class`` path: nothing in the Runner knows PostgreSQL.
"""

from __future__ import annotations

import os
import signal
import uuid
from pathlib import Path
from typing import Any

import pytest

import runic
from runic.actors import procs
from runic.runner import Runner
from runic.store import MnesiaStore

from ..runner import fns
from ..runner.test_recovery import STEPS, assert_no_completed_step_ran_twice, journaled_pipeline, read_journal
from ..waiting import wait_for
from . import pg

pytestmark = pytest.mark.postgres

pytest.importorskip("psycopg")


@pytest.fixture
def schema(pg_server: pg.Server) -> Any:
    name = f"r_{uuid.uuid4().hex[:10]}"
    yield name
    with pg_server.admin() as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def test_a_sigkilled_worker_host_resumes_on_postgres(actor_system: Any, pg_server: pg.Server, schema: str,
                                                     tmp_path: Path) -> None:
    from runic.store import PostgresStore

    name = f"pg{uuid.uuid4().hex[:6]}"
    # (a "module:Class" path: the Runner's own name table does not list "postgres" until it
    # resolves names through runic.store.registry)
    runner = Runner.start_link(name=name, store="runic.store.postgres:PostgresStore", system=actor_system, timeout=60, pool_size=2,
                               store_opts={"dsn": pg_server.dsn(), "schema": schema, "pool_size": 2})
    try:
        path = tmp_path / "steps.jsonl"
        runner.start_workflow("job", journaled_pipeline(path), input=0)
        wait_for(lambda: len(read_journal(path)) >= 4)
        victim = runner.lookup("job").pid
        seen = read_journal(path)
        os.kill(victim, signal.SIGKILL)
        wait_for(lambda: (loc := runner.lookup("job")) is not None and loc.pid not in (None, victim))
        assert not procs.is_alive(victim)
        assert runner.await_idle("job", timeout=60) == "idle"
        assert runner.get_results("job", [f"s{STEPS - 1}"]) == {f"s{STEPS - 1}": STEPS}
        assert_no_completed_step_ran_twice(read_journal(path), in_flight={seen[-1][0], f"s{len(seen)}"})
    finally:
        runner.shutdown()
    with PostgresStore(name, dsn=pg_server.dsn(), schema=schema) as store:  # it is all in the database
        assert store.status("job") == "idle"
        assert store.cursor("job") > STEPS


def test_the_seed_children_list_with_database_nodes_runs_durably(actor_system: Any, pg_server: pg.Server,
                                                                 schema: str) -> None:
    from runic.store import PostgresStore
    from runic.supervisor import Supervisor

    # user, password and database from dsn= (or $RUNIC_DATABASE_URL in every process); the
    # hosts from nodes
    opts = {"nodes": [pg_server.node], "dsn": f"user={pg.USER} password={pg.PASSWORD} dbname=postgres",
            "schema": schema}
    name = f"seed{uuid.uuid4().hex[:6]}"
    children = [
        (MnesiaStore, {"runner_name": name, **opts}),
        (Runner, {"name": name, "store": MnesiaStore, "store_opts": opts, "pool_size": 1}),
    ]
    sup = Supervisor.start_link(children, strategy="one_for_one", system=actor_system, name=name)
    try:
        runner = Runner.attach(sup, name, timeout=60)
        store_child = next(c for c in sup.which_children() if c.id == f"{name}.Store")
        assert store_child.info["kind"] == "postgres"
        wf = runic.workflow(name="seed", steps=[runic.step(fns.add1, name="a")])
        runner.start_workflow("w1", wf, input=1)
        assert runner.await_idle("w1", timeout=60) == "idle"
        assert runner.get_results("w1", ["a"]) == {"a": 2}
    finally:
        sup.stop()
    with PostgresStore(name, dsn=pg_server.dsn(), schema=schema) as store:
        assert store.status("w1") == "idle" and store.cursor("w1") > 0
