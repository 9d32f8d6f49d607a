"""Python functions as users write them: async def, generators, decorated functions."""

from __future__ import annotations

import asyncio
import gc
import inspect
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import cloudpickle
import pytest

import runic
from runic import codec

from . import fns

ROOT = Path(__file__).resolve().parents[2]


# ---------------------------------------------------------------- async def

async def fetch_price(item):
    await asyncio.sleep(0.001)
    return {"apple": 3, "pear": 5}[item]


async def is_dear(price):
    await asyncio.sleep(0)
    return price > 4


async def shout(price):
    await asyncio.sleep(0)
    return f"DEAR: {price}"


async def zero():
    await asyncio.sleep(0)
    return 0


def async_workflow():
    wf = runic.workflow("async", steps=[
        (runic.step(fetch_price, name="price"), [runic.accumulator(zero, fns.async_total, name="spent")]),
        (runic.map(fns.async_double, name="doubled"), [runic.reduce(zero, fns.async_total, name="sum")]),
    ], rules=[runic.rule(is_dear, shout, name="dear")])
    wf.add(runic.rule(is_dear, shout, name="dear_price"), to="price")
    return wf


def check_async_results(wf):
    assert wf.results(["price", "spent", "sum", "dear_price"]) == {
        "price": 5, "spent": 5, "sum": None, "dear_price": "DEAR: 5"}


def test_async_steps_conditions_reactions_and_reducers_are_awaited():
    wf = async_workflow().react_until_satisfied("pear")
    check_async_results(wf)
    wf = runic.workflow("m", steps=[(runic.map(fns.async_double, name="doubled"),
                                     [runic.reduce(zero, fns.async_total, name="sum")])])
    assert wf.react_until_satisfied([1, 2, 3]).results(["sum"]) == {"sum": 12}
    assert not wf.failures


def test_async_results_are_plain_values_that_persist():
    wf = async_workflow().enable_event_emission()
    wf.react_until_satisfied("pear")
    stream = wf.build_log() + wf.drain_events()
    rebuilt = runic.Workflow.from_events(codec.loads(codec.dumps(stream)))  # no coroutine in the log
    check_async_results(rebuilt)


def test_react_inside_a_running_event_loop():
    async def service():
        # a synchronous call made from async code: the loop of this thread is running
        return async_workflow().react_until_satisfied("pear")

    check_async_results(asyncio.run(service()))


def test_react_from_worker_threads_and_in_parallel():
    out: list = []
    t = threading.Thread(target=lambda: out.append(async_workflow().react_until_satisfied("pear")))
    t.start()
    t.join(60)
    check_async_results(out[0])
    check_async_results(async_workflow().react_until_satisfied("pear", parallel=True, max_concurrency=4))
    wf = async_workflow().add_scheduler_policy("default", {"timeout_ms": 10_000})  # attempts on their own threads
    check_async_results(wf.react_until_satisfied("pear"))


def test_a_thread_reuses_its_loop_and_closes_it_when_it_ends():
    loops = []

    async def which_loop(x):
        loops.append(asyncio.get_running_loop())
        return x

    def run():
        runic.workflow("l", steps=[(runic.step(which_loop, name="a"), [runic.step(which_loop, name="b")])]) \
            .react_until_satisfied(1)

    t = threading.Thread(target=run)
    t.start()
    t.join(60)
    assert len(loops) == 2 and loops[0] is loops[1]
    del t
    gc.collect()
    assert loops[0].is_closed()


def test_an_async_step_that_raises_is_a_failure_with_its_traceback():
    async def broken(x):
        await asyncio.sleep(0)
        raise ValueError("async boom")

    wf = runic.workflow("b", steps=[runic.step(broken, name="broken")]).react_until_satisfied(1)
    [f] = wf.failures
    assert f.error_type == "ValueError" and "in broken" in f.traceback


def test_tasks_left_behind_by_a_step_are_cancelled():
    left = []

    async def leaky(x):
        left.append(asyncio.get_running_loop().create_task(asyncio.sleep(3600)))
        await asyncio.sleep(0)
        return x

    wf = runic.workflow("leak", steps=[runic.step(leaky, name="leaky")]).react_until_satisfied(1)
    assert wf.results() == {"leaky": 1} and left[0].cancelled()


# ---------------------------------------------------------------- generators

def gen_upto(n):
    yield from range(1, n + 1)


def test_a_generator_feeding_a_map_is_materialised_once():
    wf = runic.workflow("g", steps=[(runic.step(gen_upto, name="items"), [
        (runic.map(fns.double, name="m"), [runic.reduce(0, fns.total, name="sum")])])])
    wf.react_until_satisfied(3)
    assert wf.results(["sum"]) == {"sum": 12}
    assert wf.raw_productions("items") == [[1, 2, 3]]  # the production is the list, readable again


def test_one_shot_iterators_as_input_and_as_results():
    wf = runic.workflow("g", steps=[(runic.map(fns.double, name="m"), [runic.reduce(0, fns.total, name="sum")])])
    assert wf.react_until_satisfied(x for x in (1, 2, 3)).results(["sum"]) == {"sum": 12}
    fresh = runic.workflow("f", steps=[(runic.map(fns.double, name="m"), [runic.reduce(0, fns.total, name="sum")])])
    fact = runic.Fact(x for x in (1, 2, 3))  # a fact given as is: the map itself reads it once
    assert fresh.react_until_satisfied(fact).results(["sum"]) == {"sum": 12}
    wf2 = runic.workflow("z", steps=[(runic.step(lambda x: zip(x, x), name="pairs"),
                                      [runic.step(len, name="n1"), runic.step(sorted, name="copy")])])
    wf2.react_until_satisfied([1, 2])
    assert wf2.results(["n1", "copy"]) == {"n1": 2, "copy": [(1, 1), (2, 2)]}  # both children see every pair


async def agen(n):
    for i in range(n):
        await asyncio.sleep(0)
        yield i


def test_an_async_generator_result_is_collected():
    wf = runic.workflow("ag", steps=[(runic.step(agen, name="items"), [runic.map(fns.add1, name="m")])])
    wf.react_until_satisfied(3)
    assert wf.raw_productions("items") == [[0, 1, 2]] and sorted(wf.raw_productions("m")) == [1, 2, 3]


# ---------------------------------------------------------------- decorators

def test_decorated_functions_stay_callable_and_are_components():
    assert fns.charge(5) == {"order": 5, "charged": True}  # a unit test calls the function directly
    assert fns.ship({"order": 5}) == "shipped 5" and fns.is_big(101) is True
    assert fns.charge.__name__ == "charge" and fns.ship.name == "ship_it"
    assert str(inspect.signature(fns.charge)) == "(order)"
    assert isinstance(fns.charge, runic.components.Step) and isinstance(fns.is_big, runic.components.Condition)
    wf = runic.workflow("shop", steps=[(fns.charge, [fns.ship])])
    assert wf.react_until_satisfied(5).results() == {"charge": {"order": 5, "charged": True}, "ship_it": "shipped 5"}
    wf2 = runic.Workflow("shop2").add(fns.is_big)
    wf2.add(runic.step(fns.charge, name="charge_big"), to="is_big")
    wf2.add(runic.rule(fns.is_big, fns.charge, name="big_rule"))
    wf2.react_until_satisfied(500)
    assert wf2.results(["charge_big", "big_rule"]) == {"charge_big": {"order": 500, "charged": True},
                                                       "big_rule": {"order": 500, "charged": True}}
    assert wf2["big_rule"].reaction.work is fns.charge.work  # the function, not the component


def test_decorator_forms_and_errors():
    @runic.step(name="renamed", context={"rate": 2})
    def scaled(x, *, context):
        return x * context["rate"]

    assert scaled.name == "renamed" and scaled(3, context={"rate": 5}) == 15
    assert runic.workflow("s", steps=[scaled]).react_until_satisfied(3).results() == {"renamed": 6}
    with pytest.raises(runic.WorkflowDefinitionError):
        runic.step(name="x")(42)
    with pytest.raises(runic.WorkflowDefinitionError, match="name=..."):
        runic.step("x")


def test_decorated_components_survive_cloudpickle():
    again = cloudpickle.loads(cloudpickle.dumps(fns.charge))
    assert again(1) == {"order": 1, "charged": True} and again.name == "charge" and again.hash == fns.charge.hash


FINISH = r"""
import json, logging, sys
logging.basicConfig(level=logging.WARNING)
import runic
from runic import codec
events = codec.loads(open(sys.argv[1], "rb").read())
wf = runic.Workflow.from_events(events)
wf.react_until_satisfied()
print(json.dumps({k: repr(v) for k, v in wf.results().items()}))
"""


def test_decorated_functions_restore_by_import_path_in_a_fresh_process(tmp_path):
    def build():
        wf = runic.workflow("shop", steps=[(fns.charge, [fns.ship])])
        wf.add(runic.rule(fns.is_big, fns.ship, name="big"), to="charge")
        return wf

    expected = {k: repr(v) for k, v in build().react_until_satisfied(500).results().items()}
    wf = build().enable_event_emission()
    wf.plan_eagerly(500)
    path = tmp_path / "stream.bin"
    path.write_bytes(codec.dumps(wf.build_log() + wf.drain_events()))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONHASHSEED": "random"}
    out = subprocess.run([sys.executable, "-c", FINISH, str(path)], capture_output=True, text=True, env=env,
                         cwd=tmp_path, timeout=60)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == expected
    assert "changed since it was logged" not in out.stderr  # restored the very function, same hash


def test_async_steps_run_in_a_forked_child_after_the_parent_used_its_loop():
    import multiprocessing

    check_async_results(async_workflow().react_until_satisfied("pear"))  # this thread now has a loop
    ctx = multiprocessing.get_context("fork")
    proc = ctx.Process(target=_child_runs_async)
    proc.start()
    proc.join(60)
    if proc.is_alive():  # pragma: no cover - a hang is the bug this test looks for
        proc.kill()
        proc.join()
    assert proc.exitcode == 0


def _child_runs_async():
    wf = async_workflow().react_until_satisfied("pear")
    os._exit(0 if wf.results(["price", "spent"]) == {"price": 5, "spent": 5} else 3)


def test_async_hooks_and_fallbacks_are_awaited():
    seen = []

    async def hook(event, ctx):
        await asyncio.sleep(0)
        seen.append(event.timing)

    async def fallback(runnable, error):
        await asyncio.sleep(0)
        return ("value", "from async fallback")

    wf = runic.workflow("h", steps=[runic.step(fns.add1, name="a"), runic.step(fns.decline, name="pay")])
    wf.attach_before_hook("a", hook)
    wf.add_scheduler_policy("pay", {"fallback": fallback})
    wf.react_until_satisfied(1)
    assert seen == ["before"] and wf.results(["a", "pay"]) == {"a": 2, "pay": "from async fallback"}


class OldStyleSequence:
    """Iterable through ``__getitem__`` only (no ``__iter__``)."""

    def __getitem__(self, i):
        if i >= 3:
            raise IndexError(i)
        return i


def test_a_map_over_an_old_style_sequence_still_maps():
    wf = runic.workflow("s", steps=[(runic.map(fns.add1, name="m"), [runic.reduce(0, fns.total, name="sum")])])
    assert wf.react_until_satisfied(OldStyleSequence()).results(["sum"]) == {"sum": 6}
