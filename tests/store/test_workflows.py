"""Real workflows through every store: the logs and streams the Runner writes rebuild working
workflows (the tests of Runic's store suites that need the workflow core)."""

from __future__ import annotations

import runic
from runic import Workflow
from runic.events import FactProduced
from runic.store import BaseStore

from . import wf_fns as f


def pipeline() -> Workflow:
    return runic.workflow(
        name="pipeline",
        steps=[(runic.step(f.add1, name="a"),
                [runic.step(f.double, name="b"), runic.step(f.triple, name="c")])],
        rules=[runic.rule(f.is_positive, f.positive, name="sign")],
    )


def test_a_saved_build_log_loads_equal_and_rebuilds_a_working_workflow(store: BaseStore) -> None:
    # from Runic's store tests: a real build_log saved and loaded is equal and rebuilds a working workflow ([10] for 5)
    wf = runic.workflow(name="doubler", steps=[runic.step(f.double, name="double")])
    log = wf.build_log()
    store.save("wf", log)
    loaded = store.load("wf")
    assert loaded == log
    rebuilt = Workflow.from_log(loaded)
    rebuilt.react_until_satisfied(5)
    assert rebuilt.raw_productions() == [10]


def test_a_full_event_log_saved_and_loaded_replays_to_equal_productions(store: BaseStore) -> None:
    # from Runic's Mnesia store tests, run for every adapter: a full event_log with reactions round-trips
    wf = pipeline()
    wf.react_until_satisfied(5)
    store.checkpoint("wf", wf.event_log())
    replayed = Workflow.from_events(store.load("wf"))
    assert sorted(map(repr, replayed.raw_productions())) == sorted(map(repr, wf.raw_productions()))
    assert sorted(f.hash for f in replayed.productions()) == sorted(f.hash for f in wf.productions())


def test_a_full_workflow_stream_round_trips_to_equal_productions(store: BaseStore) -> None:
    # from Runic's event-sourcing tests: the build log then each cycle's events appended, as the Worker does,
    # with the fact values saved in the same transaction; the stream replays to equal results
    wf = pipeline()
    wf.enable_event_emission()
    epoch = store.acquire("wf", "worker-1")
    cursor = store.append("wf", wf.build_log(), epoch=epoch)
    wf.react(5)
    while True:
        events = wf.drain_events()
        facts = {e.hash: e.value for e in events if isinstance(e, FactProduced)}
        cursor = store.append("wf", events, epoch=epoch, facts=facts)
        if not wf.is_runnable():
            break
        wf.react()
    assert cursor == store.cursor("wf")
    replayed = Workflow.from_events(list(store.stream("wf")))
    assert sorted(map(repr, replayed.raw_productions())) == sorted(map(repr, wf.raw_productions()))
    assert sorted(replayed.raw_productions(), key=repr) == sorted([6, 12, 18, "positive"], key=repr)
    # the input value 5 is loadable by its fact hash
    (input_fact,) = [fact for fact in wf.facts() if fact.ancestry is None]
    assert input_fact.value == 5 and store.load_fact(input_fact.hash) == 5
    # and a replayed workflow accepts new input
    replayed.react_until_satisfied(1)
    assert {4, 6} <= set(replayed.raw_productions())
