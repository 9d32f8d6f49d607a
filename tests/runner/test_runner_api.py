"""Runner and Worker basics (spec §8.1 runner_test, worker_test, results_test), on both stores."""

from __future__ import annotations

import pytest

import runic
from runic.runner import AlreadyStartedError, Runner, WorkflowNotFoundError
from runic.store import MnesiaStore
from runic.supervisor import Supervisor

from . import fns


def pipeline():
    return runic.workflow("pipe", steps=[(runic.step(fns.add1, name="a"),
                                          [(runic.step(fns.double, name="b"), [runic.step(fns.minus1, name="c")])])])


def test_runner_starts_with_its_tree(runner):
    tree = runner.tree()
    roles = [e["role"] for e in tree]
    assert roles[:3] == ["supervisor", "store", "runner"] and "host" in roles
    assert all(e["pid"] for e in tree)
    assert runner.list_workflows() == []
    assert runner.lookup("nope") is None


def test_starting_without_a_name_raises_key_error(actor_system):
    with pytest.raises(KeyError):
        Runner.start_link(name="", system=actor_system)


def test_two_runners_side_by_side(make_runner):
    a, b = make_runner("memory"), make_runner("mnesia")
    a.start_workflow("x", pipeline(), input=5)
    b.start_workflow("x", pipeline(), input=6)
    a.await_idle("x", timeout=20)
    b.await_idle("x", timeout=20)
    assert a.get_results("x", ["c"]) == {"c": 11}
    assert b.get_results("x", ["c"]) == {"c": 13}


def test_unknown_ids_raise_workflow_not_found(runner):
    for call in (lambda: runner.run("ghost", 1), lambda: runner.get_results("ghost"),
                 lambda: runner.get_workflow("ghost"), lambda: runner.stop("ghost"),
                 lambda: runner.checkpoint("ghost"), lambda: runner.await_idle("ghost", timeout=5),
                 lambda: runner.resume("ghost")):
        with pytest.raises(WorkflowNotFoundError) as exc:
            call()
        assert "ghost" in str(exc.value)
        assert isinstance(exc.value, LookupError)


def test_start_run_and_results(runner):
    wf = runic.workflow("inc", steps=[runic.step(fns.add1, name="inc")])
    host = runner.start_workflow("w", wf)
    assert host.startswith(runner.name)
    with pytest.raises(AlreadyStartedError):
        runner.start_workflow("w", wf)
    runner.run("w", 5)
    assert runner.await_idle("w", timeout=20) == "idle"
    assert runner.get_results("w") == [6]
    runner.run("w", 10)
    runner.await_idle("w", timeout=20)
    assert sorted(runner.get_results("w")) == [6, 11]
    got = runner.get_workflow("w")
    assert isinstance(got, runic.Workflow) and "inc" in got
    assert runner.lookup("w").host == host
    assert runner.list_workflows() == ["w"]


def test_stop_removes_the_worker(runner):
    runner.start_workflow("a", pipeline())
    runner.start_workflow("b", pipeline())
    assert sorted(runner.list_workflows()) == ["a", "b"]
    runner.stop("a")
    assert runner.lookup("a") is None and runner.list_workflows() == ["b"]


def test_stop_without_persist_on_a_never_run_workflow_leaves_no_snapshot(make_runner, tmp_path):
    r = make_runner("mnesia")
    r.start_workflow("w", pipeline())
    r.stop("w", persist=False)
    with MnesiaStore(r.name, dir=tmp_path / "data") as store:
        with pytest.raises(LookupError):
            store.load("w")  # no snapshot log
        assert store.exists("w")  # the build log was appended at start


def test_pipelines_branches_joins_and_rules(runner):
    runner.start_workflow("p", pipeline(), input=5)
    branch = runic.workflow("br", steps=[(runic.step(fns.add1, name="a"),
                                          [runic.step(fns.double, name="b"), runic.step(lambda x: x * 3, name="c")])])
    runner.start_workflow("br", branch, input=5)
    j = runic.Workflow("join")
    j.add(runic.step(lambda x: x, name="a"))
    j.add(runic.step(lambda x: x * 3, name="b"), to="a").add(runic.step(lambda x: x * 5, name="c"), to="a")
    j.add(runic.step(fns.add, name="d"), to=["b", "c"])
    runner.start_workflow("join", j, input=5)
    rules = runic.workflow("rules", rules=[runic.rule(fns.positive, fns.label_positive, name="pos")])
    runner.start_workflow("rules", rules, input=4)
    for wid in ("p", "br", "join", "rules"):
        runner.await_idle(wid, timeout=20)
    assert runner.get_results("p", ["c"]) == {"c": 11}
    assert sorted(runner.get_results("br", ["b", "c"]).values()) == [12, 18]
    assert runner.get_results("join", ["d"]) == {"d": 40}
    assert runner.get_results("rules", ["pos"]) == {"pos": "positive"}


def test_two_runs_into_a_doubler(runner):
    runner.start_workflow("d", runic.workflow(steps=[runic.step(fns.double, name="d")]))
    runner.run("d", 3)
    runner.run("d", 7)
    runner.await_idle("d", timeout=20)
    assert sorted(runner.get_results("d")) == [6, 14]


def test_results_options(runner):
    wf = runic.workflow("r", steps=[(runic.step(fns.add1, name="add"), [runic.step(fns.double, name="double")])],
                        output_ports={"result": "double"})
    runner.start_workflow("r", wf, input=4)
    runner.await_idle("r", timeout=20)
    assert runner.get_results("r") == [5, 10]
    assert runner.get_results("r", []) == {"result": 10}
    assert runner.get_results("r", ["add"]) == {"add": 5}
    facts = runner.get_results("r", ["double"], facts=True)
    assert isinstance(facts["double"], runic.Fact) and facts["double"].value == 10
    assert runner.get_results("r", ["add"], all=True) == {"add": [5]}


def test_stop_then_resume_gives_equal_results(runner):
    runner.start_workflow("p", pipeline(), input=5)
    runner.await_idle("p", timeout=20)
    before = sorted(runner.get_results("p"))
    runner.stop("p")
    if runner.stored("p").exists is False:  # MemoryStore lives in a host process: still there
        pytest.fail("the store lost the workflow")
    runner.resume("p")
    assert sorted(runner.get_results("p")) == before
    wf = runner.get_workflow("p")
    assert not any(isinstance(v, runic.FactRef) for v in wf.graph.vertices.values())  # full resume
    runner.run("p", 10)
    runner.await_idle("p", timeout=20)
    assert 21 in runner.get_results("p")  # 10 -> 11 -> 22 -> 21


def test_stored_state_after_runs_and_stops(runner):
    runner.start_workflow("s", pipeline())
    assert runner.stored("s").exists  # the build log is appended at start
    runner.run("s", 1)
    runner.await_idle("s", timeout=20)
    answer = runner.stored("s")
    assert answer.exists and answer.cursor > 0 and answer.status == "idle"
    runner.stop("s")
    assert runner.stored("s").status == "stopped"


def test_runner_under_a_users_own_supervisor(actor_system, tmp_path):
    children = [(MnesiaStore, {"runner_name": "own", "dir": str(tmp_path / "d")}),
                (Runner, {"name": "own", "store": MnesiaStore, "store_opts": {"dir": str(tmp_path / "d")}})]
    with Supervisor.start_link(children, strategy="one_for_one", system=actor_system, name="mine") as sup:
        runner = Runner.attach(sup, "own")
        runner.start_workflow("w", pipeline(), input=1)
        runner.await_idle("w", timeout=20)
        assert runner.get_results("w", ["c"]) == {"c": 3}
        assert [c.id for c in sup.which_children()] == ["own.Store", "own.Runner"]


def test_the_store_tables_exist_after_start(make_runner, tmp_path):
    r = make_runner("mnesia")
    with MnesiaStore(r.name, dir=tmp_path / "data") as store:
        assert store.table_info(f"{r.name}.WorkflowStore", "type") == "set"
        assert store.table_info(f"{r.name}.EventStream", "type") == "ordered_set"
        assert store.table_info(f"{r.name}.WorkflowStore", "attributes") == ["workflow_id", "log", "updated_at"]


def use_context(x, *, context):
    return f"{x}:{context['tenant']}"


def test_run_context_reaches_steps_through_the_runner(runner):
    runner.start_workflow("ctx", runic.workflow(steps=[runic.step(use_context, name="use")]))
    runner.run("ctx", "a", run_context={"_global": {"tenant": "acme"}})
    runner.await_idle("ctx", timeout=20)
    runner.run("ctx", "b", run_context={"use": {"tenant": "globex"}})
    runner.await_idle("ctx", timeout=20)
    assert sorted(runner.get_results("ctx")) == ["a:acme", "b:globex"]


def test_start_many_and_await_many(runner):
    wf = runic.workflow("short", steps=[(runic.step(fns.add1, name="a"), [runic.step(fns.double, name="b")])])
    started = runner.start_many(wf, [(f"w{i}", i) for i in range(30)], await_idle=True)
    assert sorted(started) == sorted(f"w{i}" for i in range(30))
    assert all(host.startswith(runner.name) for host in started.values())
    assert runner.get_results("w7", ["b"]) == {"b": 16}
    assert sorted(runner.list_workflows()) == sorted(started)
    later = runner.start_many(wf, [("x1", None), ("x2", None)])
    runner.run("x1", 1)
    runner.run("x2", 2)
    assert runner.await_many(["x1", "x2"], timeout=20) == {"x1": "idle", "x2": "idle"}
    assert runner.get_results("x2", ["b"]) == {"b": 6} and set(later) == {"x1", "x2"}


def test_start_many_reports_ids_it_could_not_start(runner):
    wf = runic.workflow(steps=[runic.step(fns.add1, name="a")])
    runner.start_workflow("dup", wf)
    with pytest.raises(AlreadyStartedError) as exc:
        runner.start_many(wf, [("dup", 1), ("fresh", 2)], await_idle=True)
    assert "dup" in str(exc.value) and set(exc.value.errors) == {"dup"} and set(exc.value.done) == {"fresh"}
    assert runner.get_results("fresh") == [3]
    with pytest.raises(WorkflowNotFoundError):
        runner.await_many(["fresh", "ghost"], timeout=10)


def test_run_and_wait_in_one_request(runner):
    runner.start_workflow("rw", runic.workflow(steps=[(runic.step(fns.add1, name="a"), [runic.step(fns.double, name="b")])]))
    assert runner.run("rw", 4, await_idle=True, timeout=20) == "idle"
    assert runner.get_results("rw", ["b"]) == {"b": 10}
    assert runner.run("rw", 5) is None  # without waiting: accepted
    runner.await_idle("rw", timeout=20)
    assert sorted(runner.get_results("rw", ["b"], all=True)["b"]) == [10, 12]
