"""Worker behaviour: policies, concurrency, hooks, executors, checkpoints, durable execution
(spec §8.1 worker_test, worker_concurrency_test, worker_hooks_test, executor_test,
durable_execution_test), on both stores."""

from __future__ import annotations

import os

import pytest

import runic
from runic.runner import WorkflowFailedError
from runic.events import RunnableCompleted, RunnableDispatched, RunnableFailed
from runic.store import MnesiaStore

from . import fns


def diamond():
    wf = runic.Workflow("diamond")
    wf.add(runic.step(lambda x: x * 5, name="a"))
    wf.add(runic.step(lambda x: x * 3, name="b"), to="a").add(runic.step(lambda x: x * 5, name="c"), to="a")
    wf.add(runic.step(fns.add, name="d"), to=["b", "c"])
    return wf


# ---------------------------------------------------------------- policies

def test_retries_from_stored_policies(runner, tmp_path):
    flaky = fns.FlakyFile(tmp_path / "flaky.count", failures=2)
    wf = runic.workflow("f", steps=[runic.step(flaky, name="flaky")])
    wf.add_scheduler_policy("flaky", {"max_retries": 3})
    runner.start_workflow("f", wf, input=7)
    runner.await_idle("f", timeout=20)
    assert runner.get_results("f") == [70]


def test_timeout_fails_the_step_and_the_worker_still_settles(runner):
    wf = runic.workflow("t", steps=[(runic.step(fns.very_slow, name="slow"), [runic.step(fns.add1, name="after")])])
    wf.add_scheduler_policy("slow", {"timeout_ms": 10})
    runner.start_workflow("t", wf, input=1)
    # a timed-out step fails for good: the workflow settles as failed (not idle)
    assert runner.await_idle("t", timeout=20, raise_on_failure=False) == "failed"
    assert runner.get_results("t") == []


def test_skip_on_failure_settles_without_downstream(runner):
    wf = runic.workflow("s", steps=[(runic.step(fns.boom, name="bad"), [runic.step(fns.add1, name="after")])])
    wf.add_scheduler_policy("bad", {"on_failure": "skip"})
    runner.start_workflow("s", wf, input=1)
    runner.await_idle("s", timeout=20)
    assert runner.get_results("s") == []


def test_runtime_policies_passed_to_run(runner, tmp_path):
    flaky = fns.FlakyFile(tmp_path / "f2.count", failures=1)
    runner.start_workflow("rt", runic.workflow("rt", steps=[runic.step(flaky, name="flaky")]))
    runner.run("rt", 2, scheduler_policies=[("flaky", {"max_retries": 2})])
    runner.await_idle("rt", timeout=20)
    assert runner.get_results("rt") == [20]


def test_a_raising_step_does_not_kill_the_worker(runner):
    runner.start_workflow("r", runic.workflow("r", steps=[runic.step(fns.boom, name="bad")]))
    runner.run("r", 1)
    with pytest.raises(WorkflowFailedError, match="boom on 1"):
        runner.await_idle("r", timeout=20)
    assert runner.get_results("r") == []
    runner.run("r", 2)  # the Worker lives on and takes the next input
    assert runner.await_idle("r", timeout=20, raise_on_failure=False) == "failed"
    assert runner.lookup("r") is not None


# ---------------------------------------------------------------- concurrency

def three_way():
    wf = runic.Workflow("three")
    wf.add(runic.step(lambda x: x, name="root"))
    for n, k in (("x", 1), ("y", 2), ("z", 3)):
        wf.add(runic.step(lambda v, k=k: v + k, name=n), to="root")
    wf.add(runic.step(fns.add3, name="sum"), to=["x", "y", "z"])
    return wf


@pytest.mark.parametrize("opts", [{}, {"max_concurrency": 1}])
def test_branches_join_with_any_concurrency(runner, opts):
    runner.start_workflow("t", three_way(), input=5, **opts)
    runner.await_idle("t", timeout=20)
    assert runner.get_results("t", ["sum"]) == {"sum": 21}
    state = runner.worker_state("t")
    assert state["active_tasks"] == 0 and state["dispatch_times"] == {}


def test_durable_three_way_join_records_lifecycle_events(runner):
    wf = three_way()
    wf.add_scheduler_policy("default", {"execution_mode": "durable"})
    runner.start_workflow("d", wf, input=5)
    runner.await_idle("d", timeout=20)
    events = runner.get_workflow("d").runnable_events
    assert len([e for e in events if isinstance(e, RunnableDispatched)]) >= 5
    assert len([e for e in events if isinstance(e, RunnableCompleted)]) >= 5
    assert runner.get_results("d", ["sum"]) == {"sum": 21}


def test_a_slow_branch_does_not_block_the_others(runner):
    wf = runic.Workflow("slowfast")
    wf.add(runic.step(lambda x: x, name="root"))
    wf.add(runic.step(fns.slow_double, name="slow"), to="root")
    wf.add(runic.step(fns.add1, name="fast"), to="root")
    wf.add(runic.step(fns.add, name="sum"), to=["slow", "fast"])
    runner.start_workflow("sf", wf, input=7, max_concurrency=2)
    runner.await_idle("sf", timeout=20)
    assert runner.get_results("sf", ["sum"]) == {"sum": 22}


def test_sequential_inputs_through_fan_out_and_join(runner):
    wf = runic.Workflow("fj")
    wf.add(runic.step(lambda x: x, name="root"))
    wf.add(runic.step(lambda x: x * 4, name="l"), to="root").add(runic.step(lambda x: x * 6, name="r"), to="root")
    wf.add(runic.step(fns.add, name="j"), to=["l", "r"])
    runner.start_workflow("fj", wf, input=5)
    runner.await_idle("fj", timeout=20)
    assert runner.get_results("fj", ["j"]) == {"j": 50}
    runner.run("fj", 0.5)
    runner.await_idle("fj", timeout=20)
    assert sorted(runner.get_results("fj", ["j"], all=True)["j"]) == [5.0, 50]


def test_crashing_branches_do_not_deadlock(runner):
    wf = runic.Workflow("crash")
    wf.add(runic.step(lambda x: x, name="root"))
    wf.add(runic.step(fns.boom, name="bad"), to="root")
    wf.add(runic.step(fns.double, name="good"), to="root")
    wf.add(runic.step(fns.add, name="never"), to=["bad", "good"])
    for i in range(3):
        wf.add(runic.step(fns.boom, name=f"bad{i}"), to="root")
    runner.start_workflow("c", wf, input=4)
    assert runner.await_idle("c", timeout=20, raise_on_failure=False) == "failed"
    assert runner.get_results("c", ["good", "never"]) == {"good": 8, "never": None}
    runner.start_workflow("after", runic.workflow(steps=[runic.step(fns.add1, name="a")]), input=1)
    runner.await_idle("after", timeout=20)
    assert runner.get_results("after") == [2]


def test_failing_branch_with_skip_and_durable_mode_settles(runner):
    wf = runic.Workflow("sk")
    wf.add(runic.step(lambda x: x, name="root"))
    wf.add(runic.step(fns.boom, name="bad"), to="root").add(runic.step(fns.add1, name="ok"), to="root")
    wf.add_scheduler_policy("default", {"execution_mode": "durable", "on_failure": "skip", "max_retries": 1})
    runner.start_workflow("sk", wf, input=1)
    assert runner.await_idle("sk", timeout=20) == "idle"
    failed = [e for e in runner.get_workflow("sk").runnable_events if isinstance(e, RunnableFailed)]
    assert failed and failed[0].failure_action == "skip" and failed[0].attempts == 2


def test_diamond_durable_with_two_slots(runner):
    wf = diamond()
    wf.add_scheduler_policy("default", {"execution_mode": "durable"})
    runner.start_workflow("dia", wf, input=1, max_concurrency=2)
    runner.await_idle("dia", timeout=20)
    assert runner.get_results("dia", ["d"]) == {"d": 40}


# ---------------------------------------------------------------- hooks

def test_hooks_are_called(runner, journal):
    write = journal.writer()
    hooks = {
        "on_dispatch": lambda r, state: write("dispatch", r.node.name),
        "on_complete": lambda r, ms, state: write("complete", r.node.name, isinstance(ms, int) and ms >= 0),
        "on_failed": lambda r, reason, state: write("failed", r.node.name, str(reason)),
        "on_idle": lambda state: write("idle", state.id),
    }
    wf = runic.workflow("h", steps=[(runic.step(fns.add1, name="a"), [runic.step(fns.boom, name="bad")])])
    runner.start_workflow("h", wf, hooks=hooks, input=1)
    assert runner.await_idle("h", timeout=20, raise_on_failure=False) == "failed"
    records = journal.read()
    assert ["dispatch", "a"] in records and ["dispatch", "bad"] in records
    assert ["complete", "a", True] in records
    assert any(r[:2] == ["failed", "bad"] and "boom" in r[2] for r in records)
    assert records[-1] == ["idle", "h"]


def test_transform_runnables_filters_and_orders(runner, journal):
    write = journal.writer()
    wf = runic.Workflow("t")
    wf.add(runic.step(lambda x: x, name="root"))
    for n in ("z_step", "a_step", "m_step"):
        wf.add(runic.step(fns.add1, name=n), to="root")

    def transform(runnables, workflow):
        write("candidates", sorted(r.node.name for r in runnables))
        return sorted(runnables, key=lambda r: r.node.name)

    hooks = {"transform_runnables": transform, "on_dispatch": lambda r, s: write("dispatch", r.node.name)}
    runner.start_workflow("t", wf, hooks=hooks, max_concurrency=1, input=5)
    runner.await_idle("t", timeout=20)
    order = [r[1] for r in journal.read() if r[0] == "dispatch"]
    assert order == ["root", "a_step", "m_step", "z_step"]
    assert sorted(runner.get_results("t")) == [5, 6, 6, 6] or sorted(runner.get_results("t")) == [5, 6]


def test_a_raising_hook_never_crashes_the_worker(runner):
    def bad(*args):
        raise RuntimeError("hook bug")

    hooks = {k: bad for k in ("on_dispatch", "on_complete", "on_failed", "on_idle", "transform_runnables")}
    runner.start_workflow("bad", runic.workflow(steps=[(runic.step(fns.add1, name="a"), [runic.step(fns.double, name="b")])]),
                          hooks=hooks, on_complete=bad, input=2)
    runner.await_idle("bad", timeout=20)
    assert sorted(runner.get_results("bad")) == [3, 6]


def test_without_hooks_every_slot_is_empty(runner):
    runner.start_workflow("n", runic.workflow(steps=[runic.step(fns.add1, name="a")]))
    assert runner.worker_state("n")["hooks"] == {h: False for h in
                                                 ("on_dispatch", "on_complete", "on_failed", "on_idle", "transform_runnables")}


def test_on_complete_callback_gets_the_id_and_workflow(runner, journal):
    write = journal.writer()
    runner.start_workflow("oc", runic.workflow(steps=[runic.step(fns.double, name="d")]),
                          on_complete=lambda wid, wf: write(wid, wf.raw_productions()))
    runner.run("oc", 21)
    runner.await_idle("oc", timeout=20)
    assert journal.read() == [["oc", [42]]]


# ---------------------------------------------------------------- executors

def test_thread_inline_and_process_executors_agree(runner):
    for ex in ("thread", "inline", "process"):
        wid = f"ex-{ex}"
        runner.start_workflow(wid, runic.workflow(steps=[(runic.step(fns.add1, name="a"), [runic.step(fns.double, name="b")])]),
                              executor=ex, input=5)
        runner.await_idle(wid, timeout=60)
        assert runner.get_results(wid, ["b"]) == {"b": 12}, ex
        assert runner.worker_state(wid)["executor"] == ex


def test_inline_runs_in_the_host_and_process_elsewhere(runner):
    runner.start_workflow("i", runic.workflow(steps=[runic.step(fns.where, name="w")]), executor="inline", input=1)
    runner.start_workflow("p", runic.workflow(steps=[runic.step(fns.where, name="w")]), executor="process", input=1)
    runner.await_idle("i", timeout=20)
    runner.await_idle("p", timeout=60)
    host_pid = runner.lookup("i").pid
    assert runner.get_results("i")[0]["pid"] == host_pid
    assert runner.get_results("p")[0]["pid"] not in (runner.lookup("p").pid, os.getpid())


def test_inline_ignores_timeouts_but_retries(runner, tmp_path):
    flaky = fns.FlakyFile(tmp_path / "inline.count", failures=1)
    wf = runic.workflow(steps=[runic.step(flaky, name="f")])
    wf.add_scheduler_policy("f", {"timeout_ms": 1, "max_retries": 1})
    runner.start_workflow("in", wf, executor="inline", input=7)
    runner.await_idle("in", timeout=20)
    assert runner.get_results("in") == [70]


def test_process_executor_kills_a_timed_out_step(runner):
    wf = runic.workflow(steps=[(runic.step(fns.very_slow, name="slow"), [runic.step(fns.add1, name="after")])])
    wf.add_scheduler_policy("slow", {"timeout_ms": 50})
    runner.start_workflow("kill", wf, executor="process", input=1)
    assert runner.await_idle("kill", timeout=60, raise_on_failure=False) == "failed"
    assert runner.get_results("kill") == []


def test_a_policy_executor_override_for_one_step(runner):
    wf = runic.workflow(steps=[(runic.step(fns.where, name="parent"), [runic.step(lambda d: fns.where(d["value"] + 1), name="child")])])
    wf.add_scheduler_policy("child", {"executor": "inline"})
    runner.start_workflow("ov", wf, input=10)
    runner.await_idle("ov", timeout=20)
    res = runner.get_results("ov", ["parent", "child"])
    assert res["child"]["value"] == 11 and res["child"]["pid"] == runner.lookup("ov").pid


# ---------------------------------------------------------------- checkpoints and durability

@pytest.mark.parametrize("strategy", ["every_cycle", "on_complete", ("every_n", 3), ("every_n", 2), "manual"])
def test_checkpoint_strategies_all_complete_and_persist(runner, strategy):
    runner.start_workflow("cp", runic.workflow(steps=[(runic.step(fns.add1, name="a"),
                                                       [(runic.step(fns.double, name="b"), [runic.step(fns.minus1, name="c")])])]),
                          checkpoint_strategy=strategy, input=5)
    runner.await_idle("cp", timeout=20)
    assert runner.get_results("cp", ["c"]) == {"c": 11}
    assert runner.stored("cp").exists


def test_manual_strategy_can_be_checkpointed(runner):
    runner.start_workflow("m", runic.workflow(steps=[runic.step(fns.add1, name="a")]), checkpoint_strategy="manual")
    before = runner.stored("m").cursor
    runner.checkpoint("m")
    assert runner.stored("m").exists and runner.stored("m").cursor >= before


def test_durable_events_are_persisted_and_survive_resume(runner):
    wf = runic.workflow("dur", steps=[(runic.step(fns.add1, name="a"), [runic.step(fns.double, name="b")])])
    wf.add_scheduler_policy("default", {"execution_mode": "durable"})
    runner.start_workflow("dur", wf, input=3)
    runner.await_idle("dur", timeout=20)
    live = runner.get_workflow("dur")
    names = [e.node_name for e in live.runnable_events if isinstance(e, RunnableDispatched)]
    assert names == ["a", "b"]
    assert all(e.policy["fallback"] is None and e.policy["idempotency_key"] is None
               for e in live.runnable_events if isinstance(e, RunnableDispatched))
    assert live.pending_runnables() == []
    runner.stop("dur")
    runner.resume("dur")
    resumed = runner.get_workflow("dur")
    assert [type(e) for e in resumed.runnable_events] == [type(e) for e in live.runnable_events]
    assert sorted(runner.get_results("dur")) == [4, 8]


def test_non_durable_mode_records_no_lifecycle_events(runner):
    runner.start_workflow("nd", runic.workflow(steps=[runic.step(fns.add1, name="a")]), input=1)
    runner.await_idle("nd", timeout=20)
    assert runner.get_workflow("nd").runnable_events == []


def test_large_fact_values_go_to_the_fact_table_small_ones_stay_inline(make_runner, tmp_path):
    from runic.facts import LATEST_HASH_VERSION, fact_hash
    from runic.runner.worker import INLINE_FACT_BYTES

    r = make_runner("mnesia")
    big = "x" * (INLINE_FACT_BYTES + 1)
    wf = runic.workflow(steps=[runic.step(fns.double, name="d")])  # "x" * n -> twice as long
    r.start_workflow("f", wf, input=big)
    r.start_workflow("g", runic.workflow(steps=[runic.step(fns.add1, name="a")]), input=5)
    r.await_idle("f", timeout=20)
    r.await_idle("g", timeout=20)
    with MnesiaStore(r.name, dir=tmp_path / "data") as store:
        produced = [e for e in store.stream("f") if type(e).__name__ == "FactProduced"]
        assert len(produced) == 2 and all(e.value is runic.STRIPPED for e in produced)
        # (a workflow started by a Runner hashes its facts with the latest hash version)
        assert store.load_fact(fact_hash(big, None, LATEST_HASH_VERSION)) == big
        assert big * 2 in store.load_facts([e.hash for e in produced]).values()
        small = [e for e in store.stream("g") if type(e).__name__ == "FactProduced"]
        assert [e.value for e in small] == [5, 6]  # inline: no fact-table row for them
        assert store.load_facts([e.hash for e in small]) == {}
        assert store.status("f") == "idle" and store.status("g") == "idle"
    r.stop("f")
    r.resume("f")  # the stripped values come back from the fact table
    assert r.get_results("f") == [big * 2]


def test_hybrid_and_lazy_resume(make_runner):
    from runic.runner.worker import INLINE_FACT_BYTES

    # values larger than the inline limit: they live in the fact table, so a hybrid or lazy
    # resume leaves the cold ones as references
    s, t, u = ("s" * INLINE_FACT_BYTES, "t" * INLINE_FACT_BYTES, "u" * INLINE_FACT_BYTES)
    r = make_runner("mnesia")
    r.start_workflow("h", runic.workflow(steps=[(runic.step(fns.double, name="a"),
                                                 [(runic.step(fns.double, name="b"), [runic.step(fns.double, name="c")])])]),
                     input=s)
    r.await_idle("h", timeout=20)
    r.stop("h")
    r.resume("h", rehydration="hybrid")
    assert s * 8 in r.get_results("h")  # the leaf value is still there
    wf = r.get_workflow("h")
    assert any(isinstance(v, runic.FactRef) for v in wf.graph.vertices.values())
    assert r.worker_state("h")["resolver"] is True
    r.run("h", t)
    r.await_idle("h", timeout=20)
    assert {t * 2, t * 4, t * 8} <= set(r.get_results("h"))
    r.stop("h")
    r.resume("h", rehydration="lazy")
    r.run("h", u)
    r.await_idle("h", timeout=20)
    assert u * 8 in r.get_results("h")
