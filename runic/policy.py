"""Scheduler policies: how a runnable is retried, timed out and recovered (spec §3).

A workflow holds an ordered list of ``(matcher, policy_dict)``; :func:`resolve` walks it top to
bottom and the **first** match wins, merged over the defaults. Matchers:

* ``"default"`` — always matches;
* a string — the node's name equals it;
* a compiled regex or ``("name", regex)`` — the node has a name and the regex matches it;
* ``("type", T)`` / ``("type", [T, ...])`` — the node is an instance of ``T`` (a node class
  such as ``runic.nodes.Step``) or its kind equals ``T`` (``"step"``, ``"condition"``, ...);
* any other callable — ``predicate(node)`` is truthy.

Nodes without a name (joins, fan-outs) only match ``default``, type and predicate matchers.
Matching is against the node being run (a rule's reaction step, whose name is the rule's name).

Backoff before retry number ``attempt`` (0-based index of the failed attempt), in ms:
``none`` 0; ``linear`` ``min(base*(attempt+1), max)``; ``exponential`` ``min(base*2**attempt,
max)``; ``jitter`` ``min(randint(1, max(base*2**attempt, 1)), max)``.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import re
from typing import Any, Callable, Iterable

from .errors import InvalidPolicyError

__all__ = [
    "SchedulerPolicy", "default_policy", "merge", "merge_policies", "resolve", "matches",
    "backoff_delay_ms", "llm_policy", "io_policy", "fast_fail", "INFINITY",
]

log = logging.getLogger(__name__)

INFINITY = "infinity"
_BACKOFFS = ("none", "linear", "exponential", "jitter")
_ON_FAILURE = ("halt", "skip")
_MODES = ("sync", "async", "durable")
_PRIORITIES = ("low", "normal", "high", "critical")


@dataclasses.dataclass(frozen=True, slots=True)
class SchedulerPolicy:
    """A resolved policy. Build one with :meth:`new` (unknown keys are rejected)."""

    max_retries: int = 0
    backoff: str = "none"
    base_delay_ms: int = 500
    max_delay_ms: int = 30000
    timeout_ms: int | str = INFINITY
    on_failure: str = "halt"
    fallback: Callable | None = None
    execution_mode: str = "sync"
    priority: str = "normal"
    idempotency_key: Any = None
    deadline_ms: int | None = None
    circuit_breaker: dict | None = None
    executor: Any = None
    executor_opts: Any = ()

    @classmethod
    def new(cls, spec: "dict | SchedulerPolicy | None" = None, **kwargs: Any) -> "SchedulerPolicy":
        """Build a policy from a dict and/or keyword arguments, validating every field."""
        if isinstance(spec, SchedulerPolicy):
            fields = dataclasses.asdict(spec)
        else:
            fields = dict(spec or {})
        fields.update(kwargs)
        unknown = set(fields) - _FIELD_NAMES
        if unknown:
            raise InvalidPolicyError(
                f"unknown scheduler policy keys {sorted(unknown)}; valid keys are {sorted(_FIELD_NAMES)}"
            )
        policy = cls(**fields)
        policy._validate()
        return policy

    def _validate(self) -> None:
        def bad(field: str, why: str) -> InvalidPolicyError:
            return InvalidPolicyError(f"scheduler policy {field}={getattr(self, field)!r}: {why}")

        if not isinstance(self.max_retries, int) or self.max_retries < 0:
            raise bad("max_retries", "must be an int >= 0")
        if self.backoff not in _BACKOFFS:
            raise bad("backoff", f"must be one of {_BACKOFFS}")
        for f in ("base_delay_ms", "max_delay_ms"):
            v = getattr(self, f)
            if not isinstance(v, (int, float)) or v < 0:
                raise bad(f, "must be a number >= 0")
        if self.timeout_ms not in (INFINITY, None) and (not isinstance(self.timeout_ms, (int, float)) or self.timeout_ms < 0):
            raise bad("timeout_ms", 'must be a number of ms >= 0 or "infinity"')
        if self.on_failure not in _ON_FAILURE:
            raise bad("on_failure", f"must be one of {_ON_FAILURE}")
        if self.execution_mode not in _MODES:
            raise bad("execution_mode", f"must be one of {_MODES}")
        if self.priority not in _PRIORITIES:
            raise bad("priority", f"must be one of {_PRIORITIES}")
        if self.fallback is not None and not callable(self.fallback):
            raise bad("fallback", "must be a callable fallback(runnable, error)")

    @property
    def timeout_s(self) -> float | None:
        """The timeout in seconds, or ``None`` for no timeout."""
        if self.timeout_ms in (INFINITY, None):
            return None
        return self.timeout_ms / 1000.0

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def for_event(self) -> dict:
        """The policy as recorded in ``RunnableDispatched``: fallback and idempotency key
        cleared, everything else as plain data."""
        d = self.as_dict()
        d["fallback"] = None
        d["idempotency_key"] = None
        if d["executor"] is not None and not isinstance(d["executor"], str):
            d["executor"] = getattr(d["executor"], "__qualname__", repr(d["executor"]))
        d["executor_opts"] = list(d["executor_opts"]) if isinstance(d["executor_opts"], (list, tuple)) else d["executor_opts"]
        return d


_FIELD_NAMES = frozenset(f.name for f in dataclasses.fields(SchedulerPolicy))
_DEFAULT = SchedulerPolicy()


def default_policy() -> SchedulerPolicy:
    """Every field at its default."""
    return _DEFAULT


def merge(base: dict, overrides: dict) -> dict:
    """Plain dict merge: ``overrides`` win."""
    return {**base, **overrides}


def matches(matcher: Any, node: Any) -> bool:
    """Whether ``matcher`` selects ``node`` (see the module docs)."""
    if matcher == "default":
        return True
    name = getattr(node, "name", None)
    if isinstance(matcher, str):
        return name is not None and str(name) == matcher
    if isinstance(matcher, re.Pattern):
        return name is not None and matcher.search(str(name)) is not None
    if isinstance(matcher, tuple) and len(matcher) == 2 and matcher[0] in ("name", "type"):
        kind, arg = matcher
        if kind == "name":
            if name is None:
                return False
            pattern = arg if isinstance(arg, re.Pattern) else re.compile(arg)
            return pattern.search(str(name)) is not None
        types = arg if isinstance(arg, (list, tuple)) else [arg]
        for t in types:
            if isinstance(t, type) and isinstance(node, t):
                return True
            if isinstance(t, str) and getattr(node, "kind", None) == t:
                return True
        return False
    if callable(matcher):
        try:
            return bool(matcher(node))
        except Exception as exc:
            log.warning("policy matcher %r raised %s: %s; treating it as no match", matcher, type(exc).__name__, exc)
            return False
    return False


def resolve(node_or_runnable: Any, policies: Iterable[tuple[Any, dict]] | None) -> SchedulerPolicy:
    """The first matching policy merged over the defaults (defaults when nothing matches)."""
    node = getattr(node_or_runnable, "node", node_or_runnable)
    for matcher, spec in policies or ():
        if matches(matcher, node):
            return SchedulerPolicy.new(spec)
    return _DEFAULT


def merge_policies(overrides: list | None, base: list | None, mode: str = "merge") -> list:
    """Combine runtime overrides with stored policies: ``merge`` prepends, ``replace`` uses the
    overrides alone; empty overrides leave ``base`` unchanged."""
    if mode not in ("merge", "replace"):
        raise InvalidPolicyError(f'scheduler_policies_mode must be "merge" or "replace", got {mode!r}')
    if not overrides:
        return list(base or [])
    if mode == "replace":
        return list(overrides)
    return list(overrides) + list(base or [])


def backoff_delay_ms(policy: SchedulerPolicy, attempt: int, rng: random.Random | None = None) -> float:
    """Delay before retrying after failed attempt number ``attempt`` (0-based)."""
    base, cap = policy.base_delay_ms, policy.max_delay_ms
    if policy.backoff == "linear":
        return min(base * (attempt + 1), cap)
    if policy.backoff == "exponential":
        return min(base * 2**attempt, cap)
    if policy.backoff == "jitter":
        return min((rng or random).randint(1, max(int(base * 2**attempt), 1)), cap)
    return 0


def llm_policy(max_retries: int = 3, timeout_ms: int = 30000, **overrides: Any) -> dict:
    """Preset for calls to language models: exponential backoff from 1 s, capped at 30 s."""
    return {"max_retries": max_retries, "timeout_ms": timeout_ms, "backoff": "exponential",
            "base_delay_ms": 1000, "max_delay_ms": 30000, "on_failure": "halt", **overrides}


def io_policy(max_retries: int = 2, timeout_ms: int = 10000, **overrides: Any) -> dict:
    """Preset for I/O: linear backoff from 500 ms; skip (do not halt) on final failure."""
    return {"max_retries": max_retries, "timeout_ms": timeout_ms, "backoff": "linear",
            "base_delay_ms": 500, "on_failure": "skip", **overrides}


def fast_fail(**overrides: Any) -> dict:
    """Preset: no retries, 5 s timeout, halt."""
    return {"max_retries": 0, "timeout_ms": 5000, "on_failure": "halt", **overrides}
