"""Valid workflow logs and ways to damage them (shared by the replay fuzz test and
``bench/fuzz_replay.py``).

:func:`sample_logs` builds logs that cover every event type the core writes: streams (build
log + runtime events, as a Runner persists them) and snapshots (``event_log``), with joins,
map/reduce, accumulators, a state machine, rules, retried and failed steps, durable lifecycle
events and annotations. :func:`mutate` damages a log the ways a store or a copy can: events
dropped, repeated, reordered, cut off, replaced by foreign values, or with fields (top-level or
nested) of the wrong type.
"""

from __future__ import annotations

import dataclasses
import random
from typing import Any

import runic
from runic import codec
from runic.events import Event
from runic.facts import NOTHING, STRIPPED

from . import fns

__all__ = ["sample_logs", "mutate", "replay_outcome", "WRONG_VALUES"]

WRONG_VALUES: list[Any] = [None, -1, 0, 1, "x", "", [], {}, [1, 2], (1, 2), {"a": 1}, 2**70, 1.5,
                           float("nan"), True, STRIPPED, NOTHING, b"\x00", ("name", "x"), [None, None]]


_FLAKY_CALLS = [0]


def flaky_once(x: Any) -> Any:
    """Fails its first call in this process (a retried attempt in the log), then adds one."""
    _FLAKY_CALLS[0] += 1
    if _FLAKY_CALLS[0] == 1:
        raise ConnectionError("first call fails")
    return x + 1


def _workflows() -> list[tuple[runic.Workflow, list]]:
    shop = runic.workflow("shop", steps=[
        runic.step(fns.add1, name="a"),
        (runic.step(fns.upto, name="items"), [(runic.map(fns.double, name="m"), [runic.reduce(0, fns.total, name="sum")])]),
    ], rules=[runic.rule(fns.is_positive, fns.label_positive, name="pos")])
    shop.add(runic.step(fns.add, name="both"), to=["a", "sum"])
    shop.add(runic.accumulator(0, fns.total, name="running"), to="both")
    shop.add(runic.step(fns.decline, name="charge"), to="a")
    shop.add_scheduler_policy("charge", {"max_retries": 1, "execution_mode": "durable", "retry_on": [Exception]})
    shop.append_scheduler_policy("default", {"priority": "normal"})
    machine = runic.workflow("machine", steps=[
        runic.state_machine("counter", 0, fns.total, reactors={"big": (fns.is_even, fns.label_positive)}),
        runic.step(flaky_once, name="flaky"),
    ])
    machine.add_scheduler_policy("flaky", {"max_retries": 2})
    return [(shop, [3, 4]), (machine, [2, 5])]


def sample_logs() -> list[tuple[str, list]]:
    """``[(description, events)]``: valid logs, each already through ``codec.dumps/loads``."""
    out = []
    for wf, inputs in _workflows():
        wf.enable_event_emission()
        for x in inputs:
            wf.react_until_satisfied(x)
        wf.annotate("runner.options", {"max_concurrency": 2})
        stream = wf.build_log() + wf.drain_events() + list(wf.runnable_events)
        out.append((f"{wf.name} stream", codec.loads(codec.dumps(stream))))
        out.append((f"{wf.name} snapshot", codec.loads(codec.dumps(wf.event_log()))))
    return out


def _nested_replace(value: Any, rng: random.Random, depth: int = 0) -> Any:
    """``value`` with one element somewhere inside replaced by a wrong value."""
    if depth > 4 or rng.random() < 0.3:
        return rng.choice(WRONG_VALUES)
    if isinstance(value, dict) and value:
        key = rng.choice(list(value))
        out = dict(value)
        if rng.random() < 0.15:
            out.pop(key)
        else:
            out[key] = _nested_replace(value[key], rng, depth + 1)
        return out
    if isinstance(value, (list, tuple)) and value:
        items = list(value)
        i = rng.randrange(len(items))
        items[i] = _nested_replace(items[i], rng, depth + 1)
        return type(value)(items) if isinstance(value, tuple) else items
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _replace_field(value, rng, depth + 1)
    return rng.choice(WRONG_VALUES)


def _replace_field(e: Any, rng: random.Random, depth: int = 0) -> Any:
    fields = [f.name for f in dataclasses.fields(e)]
    name = rng.choice(fields)
    new = _nested_replace(getattr(e, name), rng, depth) if rng.random() < 0.5 else rng.choice(WRONG_VALUES)
    obj = object.__new__(type(e))  # as the codec rebuilds records: no __init__, any field value
    for f in fields:
        object.__setattr__(obj, f, new if f == name else getattr(e, f))
    return obj


def mutate(events: list, rng: random.Random, count: int | None = None) -> tuple[list, list[str]]:
    """A damaged copy of ``events`` (1 to 3 mutations) and what was done to it."""
    log = list(events)
    done: list[str] = []
    for _ in range(count if count is not None else rng.randint(1, 3)):
        if not log:
            break
        i = rng.randrange(len(log))
        kind = rng.choice(["drop", "duplicate", "swap", "move", "truncate", "field", "field", "field",
                           "nested", "nested", "foreign"])
        if kind == "drop":
            del log[i]
        elif kind == "duplicate":
            log.insert(rng.randrange(len(log) + 1), log[i])
        elif kind == "swap":
            j = rng.randrange(len(log))
            log[i], log[j] = log[j], log[i]
        elif kind == "move":
            log.insert(rng.randrange(len(log)), log.pop(i))
        elif kind == "truncate":
            log = log[:i]
        elif kind == "foreign":
            log[i] = rng.choice(WRONG_VALUES)
        elif isinstance(log[i], Event):
            log[i] = _replace_field(log[i], rng) if kind == "field" else _nested_replace(log[i], rng)
        done.append(f"{kind}@{i}")
    return log, done


def replay_outcome(events: list, *, fact_mode: str = "full") -> str:
    """``"ok"``, or the name of the :class:`runic.RunicError` ``from_events`` raised; any other
    exception propagates (that is the bug the fuzzing looks for)."""
    try:
        runic.Workflow.from_events(events, fact_mode=fact_mode)
    except runic.RunicError as exc:
        return type(exc).__name__
    return "ok"
