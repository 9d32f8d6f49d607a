"""Every Runner operation is a message: a thespian actor drives a Runner without the Python
handle; failures come back as ErrorReply with the exception's type and text."""

from __future__ import annotations

import time

import runic
from runic.runner.messages import ErrorReply, GetResults, ListWorkflows, Lookup, WorkflowList
from runic.supervisor.supervisor import _request

from . import fns
from .actors import Drive, Outcome, RunnerDriver


def test_an_actor_drives_a_runner_with_messages(make_runner, actor_system):
    runner = make_runner("mnesia")
    driver = actor_system.create_actor(RunnerDriver)
    outcome = actor_system.ask(driver, Drive(runner.address, "m1", 4), 30)
    assert isinstance(outcome, Outcome) and outcome.error is None
    assert outcome.steps == ["started", "accepted", "idle:idle", "results"]
    assert outcome.results == {"b": 10}
    again = actor_system.ask(driver, Drive(runner.address, "m1", 4), 30)  # same id again
    assert again.error.startswith("runic.runner.errors.AlreadyStartedError")


def test_replies_and_errors_from_the_runner_actor(make_runner, actor_system):
    runner = make_runner("memory")
    runner.start_workflow("x", runic.workflow(steps=[runic.step(fns.add1, name="a")]), input=1)
    runner.await_idle("x", timeout=20)
    assert _request(actor_system, runner.address, ListWorkflows(ref="l"), 10) == WorkflowList(["x"], "l")
    loc = _request(actor_system, runner.address, Lookup("x", ref="k"), 10)
    assert loc.host.startswith(runner.name) and loc.ref == "k"
    err = _request(actor_system, runner.address, GetResults("ghost", ref="g"), 10)
    assert isinstance(err, ErrorReply) and err.ref == "g"
    assert err.type == "runic.runner.errors.WorkflowNotFoundError" and "ghost" in err.message


def test_dedicated_host(make_runner):
    runner = make_runner("mnesia")
    runner.start_workflow("solo", runic.workflow(steps=[runic.step(fns.where, name="w")]), dedicated=True, input=1)
    runner.start_workflow("pooled", runic.workflow(steps=[runic.step(fns.where, name="w")]), input=1)
    runner.await_idle("solo", timeout=20)
    runner.await_idle("pooled", timeout=20)
    solo, pooled = runner.lookup("solo"), runner.lookup("pooled")
    assert solo.host == f"{runner.name}.host/solo" and solo.pid != pooled.pid
    assert runner.get_results("solo")[0]["pid"] == solo.pid  # the step ran in the dedicated host
    hosts = [e["id"] for e in runner.tree() if e["role"] == "host"]
    assert f"{runner.name}.host/solo" in hosts
    runner.stop("solo")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and f"{runner.name}.host/solo" in [e["id"] for e in runner.tree()]:
        time.sleep(0.05)
    assert f"{runner.name}.host/solo" not in [e["id"] for e in runner.tree()]  # its host went away
