"""One Runner, many callers: threads and asyncio tasks wait at once, a quick call never waits
behind a slow one, and the direct channel follows a worker host through its restart."""

from __future__ import annotations

import asyncio
import functools
import os
import signal
import threading

import pytest

import runic
from runic.runner import AsyncRunner

from ..waiting import wait_for
from . import fns


def gated(gate) -> runic.Workflow:
    return runic.workflow("g", steps=[runic.step(functools.partial(fns.wait_for_file, str(gate)), name="gated")])


def test_many_threads_wait_at_once_and_a_quick_call_does_not_wait_behind_them(runner, tmp_path):
    gate = tmp_path / "gate"
    ids = [f"slow{i}" for i in range(10)]
    for wid in ids:
        runner.start_workflow(wid, gated(gate), input=1)
    runner.start_workflow("quick", runic.workflow("q", steps=[runic.step(fns.add1, name="a")]), input=1)
    assert runner.await_idle("quick", timeout=30) == "idle"
    done: dict = {}

    def wait(wid: str) -> None:
        done[wid] = runner.await_idle(wid, timeout=60)

    waiters = [threading.Thread(target=wait, args=(w,)) for w in ids]
    for t in waiters:
        t.start()
    wait_for(lambda: all(runner.worker_state(w)["active_tasks"] == 1 for w in ids))
    # ten waits are in flight: quick calls from this thread are answered meanwhile
    for _ in range(20):
        assert runner.get_results("quick", ["a"]) == {"a": 2}
        assert runner.status("quick") == "idle"
    assert not done and all(t.is_alive() for t in waiters)
    gate.touch()
    for t in waiters:
        t.join(60)
    assert done == {w: "idle" for w in ids}


def test_settled_is_a_future_completed_in_this_process(runner, tmp_path):
    gate = tmp_path / "gate"
    runner.start_workflow("f", gated(gate), input=1)
    future = runner.settled("f", timeout=60)
    assert not future.done()
    gate.touch()
    assert future.result(60) == "idle"


def test_async_runner_waits_on_the_event_loop(actor_system, tmp_path):
    from runic.store import MnesiaStore

    gate = tmp_path / "gate"

    async def main() -> None:
        async with await AsyncRunner.start_link(name="aio", store=MnesiaStore,
                                                store_opts={"dir": str(tmp_path / "data")},
                                                system=actor_system) as r:
            ids = [f"a{i}" for i in range(30)]
            await r.start_many(gated(gate), [(w, 1) for w in ids])
            waits = [asyncio.ensure_future(r.await_idle(w, timeout=60)) for w in ids]
            await r.start_workflow("q", runic.workflow("q", steps=[runic.step(fns.add1, name="a")]))
            assert await r.run("q", 1, await_idle=True, timeout=30) == "idle"  # while 30 waits are pending
            assert await r.get_results("q", ["a"]) == {"a": 2}
            assert not any(w.done() for w in waits)
            gate.touch()
            assert await asyncio.gather(*waits) == ["idle"] * 30
            bad = runic.workflow("b", steps=[runic.step(fns.boom, name="bad")])
            await r.start_workflow("b", bad, input=1)
            with pytest.raises(runic.WorkflowFailedError):
                await r.await_idle("b", timeout=30)
            assert await r.await_many(["b", "q"], timeout=30) == {"b": "failed", "q": "idle"}

    asyncio.run(main())


def test_the_direct_channel_follows_a_restarted_host(make_runner):
    r = make_runner("mnesia", pool_size=1)
    r.start_workflow("w", runic.workflow("w", steps=[runic.step(fns.add1, name="a")]), input=1)
    assert r.await_idle("w", timeout=30) == "idle"
    assert r.get_results("w", ["a"]) == {"a": 2}  # the connection to its host is open now
    host = r.lookup("w").pid
    os.kill(host, signal.SIGKILL)
    wait_for(lambda: (loc := r.lookup("w")) is not None and loc.pid != host, timeout=60)
    assert r.get_results("w", ["a"]) == {"a": 2}  # reconnected to the restarted host
    assert r.run("w", 5, await_idle=True, timeout=30) == "idle"
    assert sorted(r.get_results("w")) == [2, 6]
