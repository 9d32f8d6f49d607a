"""Runnables: one unit of work, prepared from a workflow and executed in isolation.

A :class:`Runnable` pairs a node with the fact that activated it, plus a :class:`CausalContext`
holding everything the node read from the workflow at prepare time. Executing it needs no
workflow (so runnables can run on threads, in other processes, or be retried); it records its
outcome as ``status``/``result``/``events``/``error``, which :meth:`runic.Workflow.apply_runnable`
folds back.

The id is ``hash((node.hash, fact.hash))``: stable across processes and restarts, used for
in-flight tracking and as the idempotency key a step can read (:attr:`Runnable.idempotency_key`).
"""

from __future__ import annotations

import contextvars
import struct
from hashlib import blake2b
from types import MappingProxyType
from typing import Any, Callable

from .errors import ArgumentTypeError
from .failures import exception_of, format_traceback

__all__ = ["Runnable", "CausalContext", "HookEvent", "Apply", "runnable_id", "current_runnable",
           "PENDING", "COMPLETED", "FAILED", "SKIPPED"]

PENDING = "pending"
COMPLETED = "completed"
FAILED = "failed"
SKIPPED = "skipped"


_pack_pair = struct.Struct(">QQ").pack
_CURRENT: contextvars.ContextVar["Runnable | None"] = contextvars.ContextVar("runic_current_runnable", default=None)


def current_runnable() -> "Runnable | None":
    """The runnable whose work is executing in this thread (``None`` outside one).

    A step can read ``current_runnable().idempotency_key`` — the same for every attempt and
    every re-dispatch of the same activation, also after a crash and resume — to make its side
    effects idempotent. Set by :meth:`Runnable.execute_tracked` (the policy driver and the
    Runner's executors use it)."""
    return _CURRENT.get()


def runnable_id(node_hash: int, fact_hash: int) -> int:
    """The stable id of the activation of ``node_hash`` by ``fact_hash``."""
    return int.from_bytes(blake2b(_pack_pair(node_hash, fact_hash), digest_size=8).digest(), "big")


class CausalContext:
    """Immutable snapshot of what a node needs from the workflow to execute (no workflow ref).

    Fields (defaults in brackets): ``node_hash``, ``input_fact``,
    ``ancestry_depth`` [0], ``hooks`` [((), ())] (before, after), ``last_known_state`` [None],
    ``is_state_initialized`` [False], ``satisfied_conditions`` [None], ``join_context`` [None],
    ``fan_out_context`` [None], ``fan_in_context`` [None], ``mergeable`` [False],
    ``meta_context`` [{}], ``run_context`` [{}] (the component-scoped run context, with
    declared context keys resolved).
    """

    FIELDS = ("node_hash", "input_fact", "ancestry_depth", "hooks", "last_known_state",
              "is_state_initialized", "satisfied_conditions", "join_context", "fan_out_context",
              "fan_in_context", "mergeable", "meta_context", "run_context")

    node_hash: int
    input_fact: Any
    # class-level defaults: an instance only stores what differs (cheap to build per step)
    ancestry_depth = 0
    hooks: tuple[Any, ...] = ((), ())
    last_known_state: Any = None
    is_state_initialized = False
    satisfied_conditions: Any = None
    join_context: Any = None
    fan_out_context: Any = None
    fan_in_context: Any = None
    mergeable = False
    meta_context: dict[Any, Any] = MappingProxyType({})  # type: ignore[assignment]
    run_context: dict[Any, Any] = MappingProxyType({})  # type: ignore[assignment]

    def __init__(self, node_hash: int, input_fact: Any, ancestry_depth: int = 0, **fields: Any) -> None:
        d = self.__dict__
        d["node_hash"] = node_hash
        d["input_fact"] = input_fact
        if ancestry_depth:
            d["ancestry_depth"] = ancestry_depth
        if fields:
            unknown = set(fields) - set(self.FIELDS)
            if unknown:
                raise ArgumentTypeError(f"unknown CausalContext fields: {sorted(unknown)}")
            d.update(fields)

    def __setattr__(self, key: str, value: Any) -> None:
        raise AttributeError("CausalContext is immutable")

    def replace(self, **changes: Any) -> "CausalContext":
        fields = dict(self.__dict__)
        fields.update(changes)
        return CausalContext(**fields)

    @property
    def context(self) -> dict[Any, Any]:
        """The effective context a function receives: run context, then meta context."""
        if not self.meta_context:
            return self.run_context
        return {**self.run_context, **self.meta_context}

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_context, (dict(self.__dict__),))

    def __repr__(self) -> str:
        return f"CausalContext(node_hash={self.node_hash:#x}, depth={self.ancestry_depth})"


def _rebuild_context(fields: dict[Any, Any]) -> CausalContext:
    return CausalContext(**fields)


class HookEvent:
    """What a hook receives: ``timing`` ("before"/"after"), the node, its hash, the input fact
    and (after hooks) the result — a Fact for steps and accumulators, a bool for conditions."""

    __slots__ = ("timing", "node", "node_hash", "input_fact", "result")

    def __init__(self, timing: str, node: Any, node_hash: int, input_fact: Any, result: Any = None) -> None:
        self.timing = timing
        self.node = node
        self.node_hash = node_hash
        self.input_fact = input_fact
        self.result = result

    def __repr__(self) -> str:
        return f"HookEvent({self.timing}, node={getattr(self.node, 'name', None)!r})"


class Apply:
    """Returned by a hook to defer ``fn(workflow)`` to the apply phase (where it may, for
    example, add a component that then runs in the same evaluation)."""

    __slots__ = ("fn",)

    def __init__(self, fn: Callable[[Any], Any]) -> None:
        if not callable(fn):
            raise ArgumentTypeError("Apply needs a callable taking the workflow")
        self.fn = fn


class Runnable:
    """One activation of a node by a fact, ready to execute in isolation."""

    __slots__ = ("_id", "node", "input_fact", "context", "status", "result", "_events",
                 "hook_apply_fns", "error", "traceback", "failures")

    def __init__(self, node: Any, input_fact: Any, context: CausalContext | None = None,
                 id: int | None = None) -> None:  # noqa: A002
        self.node = node
        self.input_fact = input_fact
        self._id = id
        self.context = context if context is not None else CausalContext(node.hash, input_fact)
        self.status = PENDING
        self.result: Any = None
        self._events: list[Any] | tuple[Any, ...] | None = ()
        self.hook_apply_fns: list[Any] | tuple[Any, ...] = ()
        self.error: Any = None
        #: the traceback of ``error``, formatted where it was raised ("" when unknown)
        self.traceback = ""
        #: :class:`runic.Failure` records of this runnable's failed attempts, oldest first
        #: (set by the policy driver; ``apply_runnable`` records them in the workflow)
        self.failures: tuple[Any, ...] = ()

    @property
    def events(self) -> list[Any] | tuple[Any, ...]:
        """The events describing the outcome. Nodes on the hot path describe a completed
        outcome lazily (``None`` until asked); asking builds the event list once."""
        ev = self._events
        if ev is None:
            ev = self._events = self.node.describe(self)
        return ev

    @events.setter
    def events(self, value: list[Any] | tuple[Any, ...]) -> None:
        self._events = value

    @property
    def id(self) -> int:
        """``hash((node.hash, fact.hash))``, computed on first use."""
        rid = self._id
        if rid is None:
            rid = self._id = runnable_id(self.node.hash, self.input_fact.hash)
        return rid

    # -------------------------------------------------------------- outcomes
    def complete(self, result: Any, events: list[Any] | None, hook_apply_fns: list[Any] | None = None) -> "Runnable":
        """Mark completed. ``events=None`` means the node describes them lazily (``describe``)."""
        self.status = COMPLETED
        self.result = result
        self._events = events
        if hook_apply_fns:
            self.hook_apply_fns = hook_apply_fns
        return self

    def fail(self, error: Any, traceback: str | None = None) -> "Runnable":
        """Mark failed with ``error`` (an exception, or a tuple such as ``("timeout", ms)``).

        The traceback is formatted now, while the exception still carries it (it would be lost
        when the runnable is pickled to another process); pass ``traceback`` to give one
        captured elsewhere."""
        self.status = FAILED
        self.error = error
        if traceback is None:
            traceback = format_traceback(exception_of(error))
        self.traceback = traceback
        return self

    def skip(self, events: list[Any]) -> "Runnable":
        self.status = SKIPPED
        self._events = events
        return self

    def reset(self) -> "Runnable":
        """A fresh pending copy (same id, node, fact and context) for another attempt."""
        return Runnable(self.node, self.input_fact, self.context, self._id)

    def with_meta(self, overrides: dict[Any, Any]) -> "Runnable":
        """A fresh pending copy whose ``meta_context`` is updated with ``overrides``."""
        ctx = self.context.replace(meta_context={**self.context.meta_context, **overrides})
        return Runnable(self.node, self.input_fact, ctx, self._id)

    # -------------------------------------------------------------- execution
    def execute(self) -> "Runnable":
        """Run the node's work (no workflow access); returns ``self`` with the outcome set."""
        self.node.execute(self)
        return self

    def execute_tracked(self) -> "Runnable":
        """:meth:`execute` with :func:`current_runnable` set to this runnable meanwhile."""
        token = _CURRENT.set(self)
        try:
            self.node.execute(self)
        finally:
            _CURRENT.reset(token)
        return self

    @property
    def idempotency_key(self) -> str:
        """A stable key for this unit of work (same node, same input fact => same key)."""
        return f"{self.id:016x}"

    @property
    def node_name(self) -> Any:
        name = getattr(self.node, "name", None)
        return name if name is not None else self.node.hash

    def __repr__(self) -> str:
        return f"Runnable({self.node_name!r}, {self.status}, id={self.id:#x})"

    def __getstate__(self) -> tuple[Any, ...]:
        return (self.id, self.node, self.input_fact, self.context, self.status, self.result,
                self.events, self.hook_apply_fns, self.error, self.traceback, self.failures)

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        (self._id, self.node, self.input_fact, self.context, self.status, self.result,
         self._events, self.hook_apply_fns, self.error, self.traceback, self.failures) = state
