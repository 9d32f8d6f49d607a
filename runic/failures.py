"""Failure records: why an attempt of a runnable failed, as data that survives restarts.

A :class:`Failure` is recorded for **every** failed attempt — retried ones too, so a reader
can see why a step was retried — and for a failure answered by a fallback. Records travel in
:class:`~runic.events.FailureRecorded` events (always, whatever the ``execution_mode``:
failures are rare) and are folded into ``Workflow.failures``, an append-only list, oldest
first; replaying a log with ``Workflow.from_events`` rebuilds it exactly. A caller remembers
``len(wf.failures)`` to look only at the failures since some point (the Runner does so per
input).

Fields:

* ``component`` / ``component_kind`` — the component the failed node belongs to (its own name
  for steps; a rule's name for its condition and reaction) and that component's kind;
* ``error_type`` — the qualified name of the exception's class (``"ValueError"``,
  ``"mypkg.errors.PaymentDeclined"``); failures that are not exceptions are named by the class
  runic uses for them (:class:`~runic.errors.StepTimeoutError`,
  :class:`~runic.errors.TaskCrashedError`, :class:`~runic.errors.HookError`);
* ``message`` — the exception's text; ``traceback`` — the formatted traceback captured where
  the exception was raised (``""`` when unknown: timeouts, crashes, logs written before
  tracebacks were recorded);
* ``attempts`` — the number (1-based) of the attempt that failed; ``at`` — wall-clock epoch ms;
* ``final`` — the runnable will not be retried (its retries ran out, its error is not
  retryable, or it was not run under a retrying policy);
* ``action`` — what the policy did with the failure: ``"retry"`` (another attempt follows),
  ``"halt"`` (the runnable failed; work downstream of it is cancelled), ``"skip"``
  (``on_failure="skip"``: downstream cancelled, not a failure of the workflow) or
  ``"fallback"`` (the policy's fallback was called; what it did follows);
* ``kind`` — ``"exception"``, ``"timeout"``, ``"deadline"``, ``"task_crashed"``,
  ``"process_crashed"``, ``"hook"`` or ``"fallback"`` (the fallback itself failed);
* ``node_hash`` / ``fact_hash`` — the node and the input fact of the runnable.

A failure *halted* its runnable (:attr:`Failure.halted`) when it is final and its action is
``"halt"``; a workflow with such a failure has failed
(:meth:`runic.Workflow.halted_failures`, :meth:`runic.Workflow.raise_for_failures`).

Decision: a runnable's ``error`` stays what it always was (an exception, or a tuple such as
``("timeout", ms)``); :func:`failure_for` turns it into a record, and :func:`error_names` gives
the class names that ``retry_on``/``give_up_on`` match against.
"""

from __future__ import annotations

import dataclasses
import traceback as _tb
from typing import Any, Iterable

from . import codec
from .errors import ErrorInfo, HookError, StepTimeoutError, TaskCrashedError

__all__ = ["Failure", "failure_for", "error_names", "qualified_name", "format_traceback", "exception_of",
           "matches_any", "ACTIONS", "KINDS"]

ACTIONS = ("retry", "halt", "skip", "fallback")
KINDS = ("exception", "timeout", "deadline", "task_crashed", "process_crashed", "hook", "fallback")

_MAX_TRACEBACK = 20_000  # characters kept of a traceback (the end, where the error is)


@dataclasses.dataclass(frozen=True, slots=True)
class Failure:
    """One failed attempt of a runnable (see the module docs for every field)."""

    component: str
    error_type: str
    message: str
    traceback: str = ""
    attempts: int = 1
    at: int = 0
    final: bool = True
    action: str = "halt"
    kind: str = "exception"
    component_kind: str = "step"
    node_hash: int = 0
    fact_hash: int = 0

    @property
    def halted(self) -> bool:
        """Final and halted: the runnable failed for good (not skipped, not a fallback)."""
        return self.final and self.action == "halt"

    def summary(self) -> str:
        """One line: ``step 'charge' raised PaymentDeclined: card expired (after 3 attempts)``."""
        first = self.message.strip().splitlines()[0] if self.message.strip() else ""
        who = f"{self.component_kind} {self.component!r}"
        short_type = self.error_type.rsplit(".", 1)[-1]
        if self.kind in ("timeout", "deadline"):
            what = f"{who} {first}" if first else f"{who} timed out"
        elif self.kind in ("task_crashed", "process_crashed"):
            what = f"{who}: {first}" if first else f"{who}: its task crashed"
        else:
            what = f"{who} raised {short_type}" + (f": {first}" if first else "")
            if self.kind == "hook":
                what += " (in a hook)"
            elif self.kind == "fallback":
                what += " (in its fallback)"
        if self.attempts > 1:
            what += f" (after {self.attempts} attempts)"
        return what

    def __str__(self) -> str:
        return self.summary()


codec.register(Failure, "runic.Failure")


# --------------------------------------------------------------------------- classifying errors

def qualified_name(cls: type) -> str:
    """``"ValueError"`` for builtins, ``"package.module.QualName"`` otherwise."""
    module = str(getattr(cls, "__module__", None) or "")
    qual = str(getattr(cls, "__qualname__", None) or getattr(cls, "__name__", None) or repr(cls))
    return qual if module == "builtins" else f"{module}.{qual}"


def exception_of(error: Any) -> BaseException | None:
    """The exception inside a runnable's error (errors nest: ``("hook_error", ("hook_exception",
    exc))``, ``("fallback_exception", exc)``, ``("task_crashed", exc)``), or ``None``."""
    for _ in range(8):
        if isinstance(error, BaseException):
            return error
        if isinstance(error, tuple) and len(error) == 2:
            error = error[1]
            continue
        return None
    return None


def format_traceback(exc: BaseException | None) -> str:
    """The traceback of ``exc`` as text (``""`` when it has none), at most ~20,000 characters."""
    if exc is None or exc.__traceback__ is None:
        return ""
    try:
        text = "".join(_tb.format_exception(exc))
    except Exception:  # noqa: BLE001 - a broken __str__ must not hide the failure itself
        return ""
    if len(text) > _MAX_TRACEBACK:
        text = "…\n" + text[-_MAX_TRACEBACK:]
    return text


def _tag(error: Any) -> str | None:
    return error[0] if isinstance(error, tuple) and error and isinstance(error[0], str) else None


def _describe_error(error: Any, node_desc: str) -> tuple[str, str, str, str]:
    """``(kind, error_type, message, traceback-or-"")`` for a runnable's error."""
    tag = _tag(error)
    if tag == "timeout":
        return "timeout", qualified_name(StepTimeoutError), f"timed out after {error[1]} ms", ""
    if tag == "deadline_exceeded":
        return ("deadline", qualified_name(StepTimeoutError),
                "ran out of time: its deadline passed", "")
    if tag in ("task_crashed", "process_crashed"):
        reason = error[1] if len(error) > 1 else None
        if tag == "process_crashed":
            msg = f"the process running it died (exit code {reason})"
        else:
            inner = exception_of(reason)
            msg = (f"the task running it crashed ({type(inner).__name__}: {inner})" if inner is not None
                   else f"the task running it crashed ({reason!r})")
        return tag, qualified_name(TaskCrashedError), msg, format_traceback(exception_of(reason))
    if tag == "hook_error":
        exc = exception_of(error[1])
        if exc is not None:
            return "hook", qualified_name(type(exc)), str(exc), format_traceback(exc)
        return "hook", qualified_name(HookError), f"a hook of {node_desc} reported {error[1]!r}", ""
    if tag == "fallback_exception":
        exc = exception_of(error[1])
        if exc is not None:
            return "fallback", qualified_name(type(exc)), str(exc), format_traceback(exc)
    if tag == "invalid_fallback_return":
        return ("fallback", "TypeError",
                f"its fallback returned {error[1]!r}; a fallback returns ('value', v), "
                "('retry_with', overrides) or a Runnable", "")
    if isinstance(error, BaseException):
        return "exception", qualified_name(type(error)), str(error), format_traceback(error)
    if isinstance(error, ErrorInfo):
        return "exception", error.type, error.message, error.detail or ""
    return "exception", "RuntimeError", repr(error), ""


def failure_for(node: Any, fact_hash: int, error: Any, *, attempts: int = 1, final: bool = True,
                action: str = "halt", at: int = 0, traceback: str | None = None,
                component: str | None = None, component_kind: str | None = None) -> Failure:
    """A :class:`Failure` for ``error`` raised by ``node`` on the fact ``fact_hash``.

    ``traceback`` (text captured where the error was raised, e.g. in another process) wins over
    the one formatted from a live exception. ``component`` defaults to the node's name (the
    workflow replaces it by the owning component's name when it records the failure).
    """
    kind, error_type, message, tb = _describe_error(error, f"{getattr(node, 'kind', 'node')} {getattr(node, 'name', None)!r}")
    if traceback:
        tb = traceback
    name = component if component is not None else getattr(node, "name", None)
    if name is None:
        name = f"{getattr(node, 'kind', 'node')}-{getattr(node, 'hash', 0) & 0xFFFFFFFF:08x}"
    return Failure(str(name), error_type, message, tb, attempts, at, final, action, kind,
                   str(component_kind or getattr(node, "kind", None) or "step"), getattr(node, "hash", 0), fact_hash)


def error_names(error: Any) -> frozenset[str]:
    """Names that ``retry_on``/``give_up_on`` entries match for a runnable's ``error``: the
    qualified name and the bare qualname of every class in the error's MRO."""
    tag = _tag(error)
    cls: type | None
    if tag in ("timeout", "deadline_exceeded"):
        cls = StepTimeoutError
    elif tag in ("task_crashed", "process_crashed"):
        cls = TaskCrashedError
    elif tag == "hook_error" and exception_of(error[1]) is None:
        cls = HookError
    else:
        exc = exception_of(error)
        cls = type(exc) if exc is not None else None
    if cls is None:
        if isinstance(error, ErrorInfo):
            return frozenset({error.type, error.type.rsplit(".", 1)[-1]})
        return frozenset()
    names: set[str] = set()
    for klass in cls.__mro__:
        if klass is object:
            continue
        names.add(qualified_name(klass))
        names.add(klass.__qualname__)
    return frozenset(names)


def matches_any(error: Any, specs: Iterable[str]) -> bool:
    """Whether one of the names in ``specs`` names a class of ``error`` (see :func:`error_names`)."""
    names = error_names(error)
    return any(s in names for s in specs)
