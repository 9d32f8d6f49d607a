"""A StoreActor -> RunnerActor shaped tree: killing the store restarts only the store
(one_for_one) and the runner keeps answering throughout."""

from __future__ import annotations

import os
import signal

from runic.supervisor import Supervisor

from .actors import Get, Put, RunnerActor, StoreActor, Value
from .helpers import all_gone, children, ping, wait_restarted


def test_store_crash_restarts_only_the_store(actor_system) -> None:
    sup = Supervisor.start_link(
        [(StoreActor, {"runner_name": "app"}), (RunnerActor, {"name": "app"})],
        strategy="one_for_one",
        system=actor_system,
        name="app",
    )
    kids = children(sup)
    assert list(kids) == ["app.Store", "app.Runner"]
    store, runner = kids["app.Store"], kids["app.Runner"]
    assert isinstance(actor_system.ask(store.address, Put("k", 1), 5), Value)
    os.kill(store.pid, signal.SIGKILL)
    # the runner answers while the store is down and being restarted
    for _ in range(20):
        assert ping(actor_system, runner.address).pid == runner.pid
    new_store = wait_restarted(sup, "app.Store", store.pid)
    assert children(sup)["app.Runner"].pid == runner.pid
    assert children(sup)["app.Runner"].restarts == 0
    reply = actor_system.ask(new_store.address, Get("k"), 5)
    assert reply.pid == new_store.pid and reply.value is None  # a new process, its RAM is new
    assert ping(actor_system, runner.address).pid == runner.pid
    tree = sup.pids()
    sup.stop()
    all_gone(tree)


def test_rest_for_one_store_crash_restarts_the_runner_too(actor_system) -> None:
    sup = Supervisor.start_link(
        [(StoreActor, {"runner_name": "app"}), (RunnerActor, {"name": "app"})],
        strategy="rest_for_one",
        system=actor_system,
    )
    kids = children(sup)
    os.kill(kids["app.Store"].pid, signal.SIGKILL)
    wait_restarted(sup, "app.Runner", kids["app.Runner"].pid)
    wait_restarted(sup, "app.Store", kids["app.Store"].pid)
    sup.stop()
