"""Logs and replay: ``build_log``, ``event_log``, ``from_events``.

* :func:`build_log` — a :class:`WorkflowDefined` event (name, output ports, scheduler
  policies) followed by the build events in chronological order.
* :func:`event_log` — the build log, then a snapshot of memory (one ``FactProduced`` per fact,
  one ``ReactionOccurred`` per memory edge, productions in the order they were made, one
  ``MappedState`` with the map/reduce/accumulator bookkeeping), then the lifecycle events.
* :func:`from_events` — fold any mix of these in order (a stream written by the Runner is build
  log + runtime events + lifecycle events). Build events rebuild components through
  :func:`runic.components.from_recipe`, which restores functions immediately, so a function that
  cannot be restored fails the rebuild here and never later, at run time.

A damaged log (events dropped, repeated, reordered, or with fields of the wrong type) makes
:func:`from_events` raise :class:`~runic.errors.CorruptLogError` naming the index and type of
the event that could not be folded, with the original error chained; it never leaks a raw
``TypeError``/``KeyError``/``AttributeError``. Damage that folds without error (a dropped
event whose absence leaves nothing dangling) is not detected here: the stores checksum their
rows for that.

Policies recorded by earlier versions with settings that did nothing then and are refused now
(``execution_mode="async"``, ``circuit_breaker``, ``idempotency_key``) are read without them,
with a warning, so such logs keep replaying with the same behaviour.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Callable, Iterable, TypeVar

from . import folds
from .errors import ArgumentError, CorruptLogError, FunctionRestoreError
from .events import (
    LIFECYCLE_EVENTS,
    ComponentAdded,
    ComponentRemoved,
    Event,
    FactProduced,
    FailureRecorded,
    MappedState,
    ReactionOccurred,
    WorkflowAnnotated,
    WorkflowDefined,
)
from .facts import STRIPPED, Fact, FactRef
from .evaluation import Evaluation
from .functions import FunctionRef, describe, import_path, restore
from .graph import PRODUCTION_LABELS
from .policy import SchedulerPolicy, validate_entry
from .recipes import FunctionLookup, from_recipe, restore_or_stub

W = TypeVar("W", bound=Evaluation)

__all__ = ["WorkflowDefined", "build_log", "event_log", "from_events", "apply_any", "MEMORY_LABELS"]

log = logging.getLogger(__name__)

MEMORY_LABELS = ("input", "runnable", "matchable", "ran", "satisfied", "fan_out", "joined",
                 "join_satisfied", "upstream_failed")


# --------------------------------------------------------------------------- policies in logs

def _policy_matcher_recipe(matcher: Any) -> Any:
    if isinstance(matcher, str):
        return {"name": matcher}
    if isinstance(matcher, re.Pattern):
        return {"regex": matcher.pattern}
    if isinstance(matcher, tuple) and len(matcher) == 2 and matcher[0] == "name":
        arg = matcher[1]
        return {"regex": arg.pattern if isinstance(arg, re.Pattern) else arg}
    if isinstance(matcher, tuple) and len(matcher) == 2 and matcher[0] == "type":
        types = matcher[1] if isinstance(matcher[1], (list, tuple)) else [matcher[1]]
        return {"type": [t if isinstance(t, str) else f"{t.__module__}:{t.__qualname__}" for t in types]}
    if callable(matcher):
        return {"fn": describe(matcher)}
    return {"name": str(matcher)}


def _policy_recipe(policy: dict[Any, Any]) -> dict[Any, Any]:
    out = {}
    for k, v in policy.items():
        if k == "executor" and not isinstance(v, (str, type(None))):
            continue
        if k == "fallback" and callable(v):
            v = describe(v)
        elif k in ("retry_on", "give_up_on"):
            v = list(SchedulerPolicy.new({k: v}).as_dict()[k])  # classes -> qualified names
        out[k] = v
    return out


_RETIRED = {"execution_mode": "async", "circuit_breaker": None, "idempotency_key": None}


def _upgrade_policy(policy: dict[Any, Any], index: int) -> dict[Any, Any]:
    """Drop settings that earlier versions accepted without effect and that are refused now."""
    if policy.get("execution_mode") == "async":
        log.warning("scheduler policy #%d was recorded with execution_mode='async', which never did "
                    "anything and is no longer accepted; reading it as 'sync'", index)
        policy["execution_mode"] = "sync"
    for key in ("circuit_breaker", "idempotency_key"):
        if policy.get(key) is not None:
            log.warning("scheduler policy #%d was recorded with %s=%r, which never did anything and "
                        "is no longer accepted; ignoring it", index, key, policy[key])
            policy.pop(key)
    return policy


def _restore_matcher(spec: dict[Any, Any], index: int, provided: Any) -> Any:
    if "name" in spec:
        return spec["name"]
    if "regex" in spec:
        return ("name", re.compile(spec["regex"]))
    if "type" in spec:
        types: list[Any] = []
        for t in spec["type"]:
            if ":" in t:
                types.append(import_path(t))
            else:
                types.append(t)
        return ("type", types)
    return restore(spec["fn"], provided, f"scheduler policy #{index}", "matcher")


def _restore_policies(policies: list[Any], lookup: FunctionLookup) -> list[Any]:
    defined = lookup.workflow.scheduler_policies if lookup.workflow is not None else []
    out = []
    for i, (mspec, pspec) in enumerate(policies):
        given = defined[i] if i < len(defined) else None
        if "fn" in mspec:
            matcher = restore_or_stub(mspec["fn"], given[0] if given and callable(given[0]) else None,
                                      f"scheduler policy #{i}", "matcher", lookup.stub_missing)
        else:
            matcher = _restore_matcher(mspec, i, None)
        policy = _upgrade_policy(dict(pspec), i)
        fb = policy.get("fallback")
        if isinstance(fb, FunctionRef):
            provided = given[1].get("fallback") if given else None
            policy["fallback"] = restore_or_stub(fb, provided, f"scheduler policy #{i}", "fallback",
                                                 lookup.stub_missing)
        out.append(validate_entry(matcher, policy))
    return out


# --------------------------------------------------------------------------- logs

def build_log(wf: Evaluation) -> list[Event]:
    """Build events, oldest first, led by the workflow's own definition."""
    policies = [[_policy_matcher_recipe(m), _policy_recipe(p)] for m, p in wf.scheduler_policies]
    head = WorkflowDefined(wf.name, wf.output_ports, policies)
    return [head, *wf.build_events]


def event_log(wf: Evaluation) -> list[Event]:
    """Build log + memory snapshot + lifecycle events (see the module docs)."""
    g = wf.graph
    out: list[Event] = build_log(wf)
    for h, v in g.vertices.items():
        if v.__class__ is Fact:
            out.append(FactProduced(h, v.value, v.ancestry, None, wf.depth_of(h)))
        elif v.__class__ is FactRef:
            out.append(FactProduced(h, STRIPPED, v.ancestry, None, wf.depth_of(h)))
    for label in MEMORY_LABELS:
        for frm, to, w in g.edges(label):
            out.append(ReactionOccurred(frm, to, label, w))
    for fh in wf.production_order():  # production edges in the order they were made
        fact = g.vertices.get(fh)
        anc = getattr(fact, "ancestry", None)
        if anc is None:
            continue
        for label in PRODUCTION_LABELS:
            weight = g.edge_weight(anc[0], fh, label)
            if weight is not None:
                out.append(ReactionOccurred(anc[0], fh, label, weight))
    out.append(MappedState([[k, v] for k, v in wf.mapped.items()]))
    out.extend(WorkflowAnnotated(k, v) for k, v in wf.annotations.items())
    out.extend(FailureRecorded(f) for f in wf.failures)
    out.extend(wf.runnable_events)
    return out


# --------------------------------------------------------------------------- replay

def apply_any(wf: Evaluation, e: Event, functions: Any = None, *, skip_build: bool = False) -> None:
    """Fold one event of any family into ``wf``."""
    lookup = functions if isinstance(functions, FunctionLookup) else FunctionLookup(functions)
    t = type(e)
    if isinstance(e, ComponentAdded):
        if skip_build:
            return
        component = from_recipe(e.kind, e.name, e.hash, e.recipe, lookup)
        wf.add_component(component, e.to)
        wf.build_events.append(e)
    elif isinstance(e, WorkflowDefined):
        if skip_build:
            return
        wf.name = e.name
        wf.output_ports = dict(e.output_ports) if e.output_ports else None
        wf.scheduler_policies = _restore_policies(e.policies, lookup)
    elif isinstance(e, ComponentRemoved):
        if skip_build:
            return
        wf.remove_component(e.name, log=False)
        wf.build_events.append(e)
    elif t in LIFECYCLE_EVENTS:
        wf.runnable_events.append(e)
    else:
        folds.apply_event(wf, e)


def from_events(events: Iterable[Event], functions: Any = None, *, base: W | None = None,
                fact_mode: str = "full", stub_missing: bool = False,
                new: Callable[[], W] | None = None) -> W:
    """Rebuild a workflow by folding ``events`` in order (see the module docs).

    ``functions`` supplies callables that cannot be imported (lambdas, closures): a workflow
    definition (matched by component name) or a mapping ``{component: callable | {part:
    callable}}``. ``base`` reuses an existing structure (build events are skipped).
    ``fact_mode="ref"`` turns stripped fact values into :class:`~runic.facts.FactRef` vertices.
    ``stub_missing=True`` (for inspection: graphs, productions) replaces functions that cannot
    be restored by stand-ins that raise the restore error if called, instead of failing.
    ``new`` makes the empty workflow to fold into when there is no ``base``
    (:meth:`runic.Workflow.from_events` passes its class).
    """
    if fact_mode not in ("full", "ref"):
        raise ArgumentError('fact_mode must be "full" or "ref"')
    if isinstance(events, (str, bytes, dict)) or not hasattr(events, "__iter__"):
        raise ArgumentError(f"from_events needs an iterable of runic events, got {type(events).__name__}")
    if base is not None:
        wf = base.copy()
    elif new is not None:
        wf = new()
    else:
        raise ArgumentError("from_events needs base= or new= (a workflow class); use runic.Workflow.from_events")
    wf.set_fact_mode(fact_mode)
    lookup = FunctionLookup(functions, stub_missing)
    checks = _CHECKS
    runtime_folds = folds.FOLDS
    skip_build = base is not None
    try:
        # errors raised by the source itself (a store's stream) propagate as they are; only
        # what goes wrong while folding an event is the log's fault
        for index, e in enumerate(events):
            try:
                cls = e.__class__
                check = checks.get(cls)
                if check is None:
                    if not isinstance(e, Event):
                        raise CorruptLogError(index, cls.__name__, f"{short_repr(e)} is not a runic event")
                    check = _checker(cls)
                if not check(e):
                    raise CorruptLogError(index, cls.__name__, _diagnose(e))
                fold = runtime_folds.get(cls)
                if fold is not None:  # runtime events, the bulk of a stream: fold directly
                    fold(wf, e)
                else:
                    apply_any(wf, e, lookup, skip_build=skip_build)
            except (FunctionRestoreError, CorruptLogError):
                raise
            except Exception as exc:  # noqa: BLE001 - any fold failing on damaged data is a damaged log
                raise CorruptLogError(index, type(e).__name__, _diagnose(e, exc)) from exc
    finally:
        wf.set_fact_mode("full")
    return wf


def short_repr(value: Any, limit: int = 80) -> str:
    """``repr(value)`` cut to ``limit`` characters (a damaged value may be huge or broken)."""
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --------------------------------------------------------------------------- field checks
# Replay checks every event's fields against the types its class declares before folding it, so
# a field of the wrong type is a CorruptLogError naming it instead of a vertex with a string for
# a hash. The check of each class is generated once, as one boolean expression: a generic loop
# over the fields costs ~5x as much and replay is on the recovery path (~0.1 us per event).

_FIELD_TYPES: dict[type, dict[str, tuple[type, ...]]] = {}
_CHECKS: dict[type, Any] = {}


def _expected_types(cls: type) -> dict[str, tuple[type, ...]]:
    """``{field: types}`` for the fields of a dataclass whose declared type can be checked with
    an exact class test (``Any`` fields are left out; ``X | None`` allows ``None``)."""
    known = _FIELD_TYPES.get(cls)
    if known is None:
        import dataclasses
        import typing

        known = {}
        try:
            hints = typing.get_type_hints(cls)
        except Exception:  # noqa: BLE001
            hints = {}
        for f in dataclasses.fields(cls) if dataclasses.is_dataclass(cls) else ():
            t = hints.get(f.name)
            args = typing.get_args(t) if typing.get_origin(t) is not None else (t,)
            types = tuple(a for a in args if isinstance(a, type) and a is not typing.Any)
            if types and len(types) == len(args):
                known[f.name] = types
        _FIELD_TYPES[cls] = known
    return known


def _ancestry_ok(value: Any) -> bool:
    """A fact's ancestry: ``None`` (an input) or ``(producer_hash, parent_fact_hash)``."""
    return value is None or (value.__class__ in (tuple, list) and len(value) == 2
                             and value[0].__class__ is int and value[1].__class__ is int)


def _checker(cls: type) -> Any:
    """The generated ``check(e) -> bool`` of an event (or record) class."""
    check = _CHECKS.get(cls)
    if check is None:
        import dataclasses

        env: dict[str, Any] = {"_ancestry_ok": _ancestry_ok, "_checker": _checker}
        conds = []
        for name, types in _expected_types(cls).items():
            alts = []
            for t in types:
                if t is type(None):
                    alts.append(f"e.{name} is None")
                else:
                    env[f"T_{t.__name__}"] = t
                    test = f"e.{name}.__class__ is T_{t.__name__}"
                    if dataclasses.is_dataclass(t):
                        test += f" and _checker(T_{t.__name__})(e.{name})"
                    alts.append(test)
            conds.append("(" + " or ".join(alts) + ")")
        fields = [f.name for f in dataclasses.fields(cls)] if dataclasses.is_dataclass(cls) else []
        conds.extend(f"_ancestry_ok(e.{n})" for n in fields if n.endswith("ancestry"))
        ns: dict[str, Any] = {}
        exec(f"def check(e):\n    return {' and '.join(conds) or 'True'}\n", env, ns)  # noqa: S102 - our own field names
        check = _CHECKS[cls] = ns["check"]
    return check


def _diagnose(e: Any, exc: BaseException | None = None) -> str:
    """Why ``e`` cannot be folded: the first field of the wrong type, else the error."""
    import dataclasses

    for name, types in _expected_types(type(e)).items():
        value = getattr(e, name, None)
        if value.__class__ not in types:
            wanted = " or ".join("None" if t is type(None) else t.__name__ for t in types)
            return f"field {name!r} should be {wanted}, got {type(value).__name__} {short_repr(value, 40)}"
        if dataclasses.is_dataclass(value) and not _checker(type(value))(value):
            return f"field {name!r}: {_diagnose(value)}"
    for f in dataclasses.fields(e) if dataclasses.is_dataclass(e) else ():
        if f.name.endswith("ancestry") and not _ancestry_ok(getattr(e, f.name, None)):
            return (f"field {f.name!r} should be None or (producer_hash, fact_hash), got "
                    f"{short_repr(getattr(e, f.name, None), 40)}")
    if exc is None:
        return "its fields do not have the types of its class"
    return f"{type(exc).__name__}: {short_repr(str(exc), 200)}"
