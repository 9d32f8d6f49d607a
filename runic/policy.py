"""Scheduler policies: how a runnable is retried, timed out and recovered.

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

Policies are validated when they are added (:func:`validate_policies`, called by every method
that stores or passes policies): an unknown key or a bad value raises
:class:`~runic.errors.InvalidPolicyError` naming the key, the valid keys and the nearest one.

Fields, and what reads them:

* ``max_retries``, ``backoff``, ``base_delay_ms``, ``max_delay_ms``, ``timeout_ms``,
  ``on_failure`` (``halt``/``skip``), ``fallback`` — the policy driver (:mod:`runic.driver`);
* ``retry_on`` / ``give_up_on`` — exception classes or their qualified names (strings work
  across processes and are what is stored): only errors matching ``retry_on`` (when given) are
  retried, errors matching ``give_up_on`` never are (``give_up_on`` wins). A name matches an
  error when it is the qualified name (``"mypkg.errors.PaymentDeclined"``, ``"ValueError"``)
  or the bare class name (``"PaymentDeclined"``) of a class in the error's MRO; timeouts are
  :class:`~runic.errors.StepTimeoutError` (a ``TimeoutError``), crashed tasks
  :class:`~runic.errors.TaskCrashedError`;
* ``deadline_ms`` — bounds all attempts of one dispatch of a runnable together, backoff
  included: no attempt starts after it, a running attempt's timeout is capped by it;
* ``priority`` (``low``/``normal``/``high``/``critical``) — ready runnables are dispatched in
  priority order (:func:`order_by_priority`; stable, activation order within a priority);
* ``execution_mode`` — ``sync`` (default) or ``durable`` (lifecycle events are recorded);
  ``async`` is refused: ``async def`` functions are awaited in every mode;
* ``executor``, ``executor_opts`` — where the Runner runs the step;
* ``circuit_breaker`` and ``idempotency_key`` are refused when set: runic has no circuit
  breaker (it would need state shared across runnables), and the idempotency key of a
  runnable is ``runic.current_runnable().idempotency_key``, not a policy setting.

Backoff before retry number ``attempt`` (0-based index of the failed attempt), in ms:
``none`` 0; ``linear`` ``min(base*(attempt+1), max)``; ``exponential`` ``min(base*2**attempt,
max)``; ``jitter`` ``min(randint(1, max(base*2**attempt, 1)), max)``.
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
import math
import random
import re
from typing import Any, Callable, Iterable, Mapping, Sequence

from .errors import InvalidPolicyError
from .failures import matches_any, qualified_name

__all__ = [
    "SchedulerPolicy", "default_policy", "merge", "merge_policies", "resolve", "matches",
    "backoff_delay_ms", "llm_policy", "io_policy", "fast_fail", "INFINITY", "validate_matcher",
    "validate_policies", "validate_entry", "check_keys", "order_by_priority", "PRIORITIES",
]

log = logging.getLogger(__name__)

INFINITY = "infinity"
_BACKOFFS = ("none", "linear", "exponential", "jitter")
_ON_FAILURE = ("halt", "skip")
_MODES = ("sync", "durable")
PRIORITIES = ("low", "normal", "high", "critical")
_RANK = {p: i for i, p in enumerate(PRIORITIES)}


def _error_names(value: Any, field: str) -> tuple[str, ...]:
    """``retry_on``/``give_up_on`` as a tuple of class names (classes become qualified names)."""
    items = value if isinstance(value, (list, tuple, set, frozenset)) else [value]
    out: list[str] = []
    for item in items:
        if isinstance(item, type) and issubclass(item, BaseException):
            out.append(qualified_name(item))
        elif isinstance(item, str) and item:
            out.append(item)
        else:
            raise InvalidPolicyError(
                f"scheduler policy {field}={value!r}: {item!r} is neither an exception class nor "
                "the qualified name of one (e.g. ValueError or 'mypkg.errors.PaymentDeclined')"
            )
    return tuple(out)


@dataclasses.dataclass(frozen=True, slots=True)
class SchedulerPolicy:
    """A resolved policy, validated when built (:meth:`new` or the constructor); see the
    module docs for the fields. ``retry_on``/``give_up_on`` are stored as class names."""

    max_retries: int = 0
    backoff: str = "none"
    base_delay_ms: int = 500
    max_delay_ms: int = 30000
    timeout_ms: int | str = INFINITY
    on_failure: str = "halt"
    fallback: Callable[..., Any] | None = None
    execution_mode: str = "sync"
    priority: str = "normal"
    idempotency_key: Any = None
    deadline_ms: int | None = None
    circuit_breaker: dict[Any, Any] | None = None
    executor: Any = None
    executor_opts: Any = ()
    retry_on: tuple[Any, ...] = ()
    give_up_on: tuple[Any, ...] = ()

    @classmethod
    def new(cls, spec: "dict[Any, Any] | SchedulerPolicy | None" = None, **kwargs: Any) -> "SchedulerPolicy":
        """Build a policy from a dict and/or keyword arguments, validating every field."""
        if isinstance(spec, SchedulerPolicy):
            fields = spec.as_dict()
        elif spec is None or isinstance(spec, Mapping):
            fields = dict(spec or {})
        else:
            raise InvalidPolicyError(
                f"a scheduler policy is a dict of settings, got {type(spec).__name__} {spec!r}; "
                f"valid keys are {sorted(_FIELD_NAMES)}"
            )
        fields.update(kwargs)
        check_keys(fields)
        return cls(**fields)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "retry_on", _error_names(self.retry_on, "retry_on"))
        set_(self, "give_up_on", _error_names(self.give_up_on, "give_up_on"))
        if self.timeout_ms is None or (isinstance(self.timeout_ms, float) and math.isinf(self.timeout_ms)
                                       and self.timeout_ms > 0):
            set_(self, "timeout_ms", INFINITY)
        self._validate()

    def _validate(self) -> None:
        def bad(field: str, why: str) -> InvalidPolicyError:
            return InvalidPolicyError(f"scheduler policy {field}={getattr(self, field)!r}: {why}")

        def number(v: Any) -> bool:
            return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)

        if not isinstance(self.max_retries, int) or isinstance(self.max_retries, bool) or self.max_retries < 0:
            raise bad("max_retries", "must be an int >= 0 (retries after the first attempt)")
        if self.backoff not in _BACKOFFS:
            raise bad("backoff", f"must be one of {_BACKOFFS}")
        for f in ("base_delay_ms", "max_delay_ms"):
            v = getattr(self, f)
            if not number(v) or v < 0:
                raise bad(f, "must be a number of ms >= 0")
        timeout = self.timeout_ms
        if timeout != INFINITY and (not number(timeout) or timeout < 0):  # type: ignore[operator]
            raise bad("timeout_ms", 'must be a number of ms >= 0 or "infinity"')
        if self.on_failure not in _ON_FAILURE:
            raise bad("on_failure", f"must be one of {_ON_FAILURE}")
        if self.execution_mode == "async":
            raise bad("execution_mode", "'async' is not supported: async def functions are awaited "
                                        "in every mode; use 'sync' (the default) or 'durable'")
        if self.execution_mode not in _MODES:
            raise bad("execution_mode", f"must be one of {_MODES}")
        if self.priority not in PRIORITIES:
            raise bad("priority", f"must be one of {PRIORITIES}")
        if self.deadline_ms is not None and (not number(self.deadline_ms) or self.deadline_ms <= 0):
            raise bad("deadline_ms", "must be a number of ms > 0 (or None: no deadline)")
        if self.circuit_breaker is not None:
            raise bad("circuit_breaker", "circuit breakers are not supported (a breaker needs state "
                                         "shared across runnables); remove the key, and bound retries "
                                         "with max_retries, backoff, deadline_ms or give_up_on")
        if self.idempotency_key is not None:
            raise bad("idempotency_key", "is not a policy setting: every runnable has one, read "
                                         "runic.current_runnable().idempotency_key inside the step")
        if self.fallback is not None and not callable(self.fallback):
            raise bad("fallback", "must be a callable fallback(runnable, error)")

    @property
    def timeout_s(self) -> float | None:
        """The timeout in seconds, or ``None`` for no timeout."""
        if self.timeout_ms in (INFINITY, None):
            return None
        return self.timeout_ms / 1000.0  # type: ignore[operator]

    def should_retry(self, error: Any) -> bool:
        """Whether ``error`` may be retried: it matches ``retry_on`` (when set) and does not
        match ``give_up_on``."""
        if self.give_up_on and matches_any(error, self.give_up_on):
            return False
        if self.retry_on:
            return matches_any(error, self.retry_on)
        return True

    def as_dict(self) -> dict[Any, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def for_event(self) -> dict[Any, Any]:
        """The policy as recorded in ``RunnableDispatched``: fallback and idempotency key
        cleared, everything else as plain data."""
        d = self.as_dict()
        d["fallback"] = None
        d["idempotency_key"] = None
        if d["executor"] is not None and not isinstance(d["executor"], str):
            d["executor"] = getattr(d["executor"], "__qualname__", repr(d["executor"]))
        d["executor_opts"] = list(d["executor_opts"]) if isinstance(d["executor_opts"], (list, tuple)) else d["executor_opts"]
        d["retry_on"] = list(d["retry_on"])
        d["give_up_on"] = list(d["give_up_on"])
        return d


_FIELD_NAMES = frozenset(f.name for f in dataclasses.fields(SchedulerPolicy))
_DEFAULT = SchedulerPolicy()


def check_keys(fields: dict[Any, Any]) -> None:
    """Raise :class:`InvalidPolicyError` for a key that is not a policy field, naming the
    nearest valid key."""
    unknown = [k for k in fields if k not in _FIELD_NAMES]
    if not unknown:
        return
    parts = []
    for key in unknown:
        near = difflib.get_close_matches(str(key), sorted(_FIELD_NAMES), n=1, cutoff=0.5)
        parts.append(f"{key!r}" + (f" (did you mean {near[0]!r}?)" if near else ""))
    raise InvalidPolicyError(
        f"unknown scheduler policy key{'s' if len(parts) > 1 else ''} {', '.join(parts)}; "
        f"valid keys are {', '.join(sorted(_FIELD_NAMES))}"
    )


def validate_matcher(matcher: Any) -> Any:
    """Check that ``matcher`` has a form :func:`matches` understands; return it."""
    if isinstance(matcher, (str, re.Pattern)):
        return matcher
    if isinstance(matcher, tuple) and len(matcher) == 2 and matcher[0] == "name":
        arg = matcher[1]
        if isinstance(arg, re.Pattern):
            return matcher
        if isinstance(arg, str):
            try:
                re.compile(arg)
            except re.error as exc:
                raise InvalidPolicyError(f"policy matcher {matcher!r}: {arg!r} is not a valid regex ({exc})") from exc
            return matcher
    elif isinstance(matcher, tuple) and len(matcher) == 2 and matcher[0] == "type":
        types = matcher[1] if isinstance(matcher[1], (list, tuple)) else [matcher[1]]
        if types and all(isinstance(t, (type, str)) for t in types):
            return matcher
    elif callable(matcher):
        return matcher
    raise InvalidPolicyError(
        f"policy matcher {matcher!r} is not valid; use a component name, 'default', a compiled "
        "regex, ('name', regex), ('type', kind or node class) or a predicate(node)"
    )


def validate_policies(policies: Iterable[Any] | None, *, what: str = "scheduler policies") -> list[Any]:
    """Validate a list of ``(matcher, policy)`` pairs; return them as ``(matcher, dict)`` tuples.

    A policy may be a dict or a :class:`SchedulerPolicy`; every key and value is checked as
    :meth:`SchedulerPolicy.new` does."""
    if policies is None:
        return []
    if isinstance(policies, (str, bytes, dict)) or not isinstance(policies, Iterable):
        raise InvalidPolicyError(f"{what} must be a list of (matcher, policy) pairs, got {policies!r}")
    out = []
    for i, entry in enumerate(policies):
        if not (isinstance(entry, (tuple, list)) and len(entry) == 2):
            raise InvalidPolicyError(
                f"{what} entry #{i} ({entry!r}) is not a (matcher, policy) pair, e.g. "
                "(\"fetch\", {\"max_retries\": 3})"
            )
        out.append(validate_entry(entry[0], entry[1]))
    return out


def validate_entry(matcher: Any, policy: Any) -> tuple[Any, dict[Any, Any]]:
    """One validated ``(matcher, policy dict)`` pair."""
    validate_matcher(matcher)
    spec = policy.as_dict() if isinstance(policy, SchedulerPolicy) else policy
    SchedulerPolicy.new(spec)
    return matcher, dict(spec or {})


def order_by_priority(items: Sequence[Any], policies: Iterable[tuple[Any, dict[Any, Any]]] | None) -> list[Any]:
    """``items`` (runnables) sorted by their policy's ``priority``, highest first; stable, so
    activation order is kept within a priority. Returned unchanged (no resolution cost) when no
    policy sets a priority other than ``normal``."""
    pols = list(policies or ())
    if not any(isinstance(spec, dict) and spec.get("priority", "normal") != "normal" for _m, spec in pols):
        return list(items)
    return sorted(items, key=lambda r: -_RANK[resolve(r, pols).priority])


def default_policy() -> SchedulerPolicy:
    """Every field at its default."""
    return _DEFAULT


def merge(base: dict[Any, Any], overrides: dict[Any, Any]) -> dict[Any, Any]:
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


def resolve(node_or_runnable: Any, policies: Iterable[tuple[Any, dict[Any, Any]]] | None) -> SchedulerPolicy:
    """The first matching policy merged over the defaults (defaults when nothing matches)."""
    node = getattr(node_or_runnable, "node", node_or_runnable)
    for matcher, spec in policies or ():
        if matches(matcher, node):
            return SchedulerPolicy.new(spec)
    return _DEFAULT


def merge_policies(overrides: list[Any] | None, base: list[Any] | None, mode: str = "merge") -> list[Any]:
    """Combine runtime overrides with stored policies: ``merge`` prepends, ``replace`` uses the
    overrides alone; empty overrides leave ``base`` unchanged."""
    if mode not in ("merge", "replace"):
        raise InvalidPolicyError(f'scheduler_policies_mode must be "merge" or "replace", got {mode!r}')
    if not overrides:
        return list(base or [])
    overrides = validate_policies(overrides)
    if mode == "replace":
        return list(overrides)
    return list(overrides) + list(base or [])


def backoff_delay_ms(policy: SchedulerPolicy, attempt: int, rng: random.Random | None = None) -> float:
    """Delay before retrying after failed attempt number ``attempt`` (0-based)."""
    base, cap = policy.base_delay_ms, policy.max_delay_ms
    if policy.backoff == "linear":
        return min(base * (attempt + 1), cap)
    if policy.backoff == "exponential":
        return float(min(base * 2**attempt, cap))
    if policy.backoff == "jitter":
        return min((rng or random).randint(1, max(int(base * 2**attempt), 1)), cap)
    return 0


def llm_policy(max_retries: int = 3, timeout_ms: int = 30000, **overrides: Any) -> dict[Any, Any]:
    """Preset for calls to language models: exponential backoff from 1 s, capped at 30 s."""
    return {"max_retries": max_retries, "timeout_ms": timeout_ms, "backoff": "exponential",
            "base_delay_ms": 1000, "max_delay_ms": 30000, "on_failure": "halt", **overrides}


def io_policy(max_retries: int = 2, timeout_ms: int = 10000, **overrides: Any) -> dict[Any, Any]:
    """Preset for I/O: linear backoff from 500 ms; skip (do not halt) on final failure."""
    return {"max_retries": max_retries, "timeout_ms": timeout_ms, "backoff": "linear",
            "base_delay_ms": 500, "on_failure": "skip", **overrides}


def fast_fail(**overrides: Any) -> dict[Any, Any]:
    """Preset: no retries, 5 s timeout, halt."""
    return {"max_retries": 0, "timeout_ms": 5000, "on_failure": "halt", **overrides}
