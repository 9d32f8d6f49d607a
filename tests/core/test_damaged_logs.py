"""Damaged logs give runic errors that name the event, never raw Python errors."""

from __future__ import annotations

import dataclasses
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import runic
from runic.events import FactProduced, MappedState

from .damage import mutate, replay_outcome, sample_logs

LOGS = sample_logs()


def test_the_sample_logs_are_valid_and_cover_failures():
    for _name, events in LOGS:
        assert replay_outcome(events) == "ok"
    kinds = {type(e).__name__ for _n, events in LOGS for e in events}
    assert {"FailureRecorded", "UpstreamFailed", "RunnableDispatched", "FanInCompleted", "JoinCompleted",
            "StateInitiated", "MappedState", "ReactionOccurred", "WorkflowAnnotated"} <= kinds


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(which=st.integers(min_value=0, max_value=len(LOGS) - 1), rng=st.randoms(use_true_random=False),
       fact_mode=st.sampled_from(["full", "ref"]))
def test_mutated_logs_replay_or_raise_a_runic_error(which, rng, fact_mode):
    damaged, _what = mutate(LOGS[which][1], rng)
    assert replay_outcome(damaged, fact_mode=fact_mode) in (
        "ok", "CorruptLogError", "FunctionRestoreError")


def test_a_wrong_typed_field_names_the_event_and_the_field():
    _name, events = LOGS[0]
    i = next(i for i, e in enumerate(events) if isinstance(e, FactProduced))
    damaged = list(events)
    damaged[i] = dataclasses.replace(events[i], ancestry="not a pair")
    with pytest.raises(runic.CorruptLogError) as info:
        runic.Workflow.from_events(damaged)
    err = info.value
    assert (err.index, err.event_type) == (i, "FactProduced") and f"event #{i} (FactProduced)" in str(err)
    assert "field 'ancestry'" in str(err) and isinstance(err, ValueError)


def test_a_fold_that_fails_on_damaged_content_chains_the_cause():
    _name, events = next((n, e) for n, e in LOGS if "snapshot" in n)
    i = next(i for i, e in enumerate(events) if isinstance(e, MappedState))
    damaged = list(events)
    damaged[i] = MappedState([[1]])  # an entry that is not a [key, value] pair
    with pytest.raises(runic.CorruptLogError, match=rf"event #{i} \(MappedState\).*ValueError") as info:
        runic.Workflow.from_events(damaged)
    assert isinstance(info.value.__cause__, ValueError)


def test_foreign_items_and_non_iterables_are_refused():
    with pytest.raises(runic.CorruptLogError, match=r"event #1 \(dict\)"):
        runic.Workflow.from_events([LOGS[0][1][0], {"name": "x"}])
    with pytest.raises(runic.ArgumentError):
        runic.Workflow.from_events(42)


def test_a_fixed_batch_of_mutations_covers_every_kind():
    rng = random.Random(11)
    outcomes: dict[str, int] = {}
    for n in range(300):
        damaged, _ = mutate(LOGS[n % len(LOGS)][1], rng)
        out = replay_outcome(damaged)
        outcomes[out] = outcomes.get(out, 0) + 1
    assert set(outcomes) <= {"ok", "CorruptLogError", "FunctionRestoreError"}
    assert outcomes.get("CorruptLogError", 0) > 0  # damage is detected, not only survived


def test_errors_of_the_source_itself_are_not_blamed_on_the_log():
    class StoreGone(LookupError):
        pass

    def stream():
        yield LOGS[0][1][0]
        raise StoreGone("the store was closed")

    with pytest.raises(StoreGone):
        runic.Workflow.from_events(stream())
