"""The root of runic's exception hierarchy.

Every exception runic raises derives from :class:`RunicError`; "not found" errors also derive
from :class:`LookupError` so ``except LookupError`` keeps working for callers that expect it.
Subsystems (``runic.codec``, ``runic.store``, ``runic.runner``, ``runic.supervisor``) define
their own subclasses next to the code that raises them.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ArgumentError",
    "ArgumentTypeError",
    "EncodeError",
    "NestingError",
    "DecodeError",
    "MissingNameError",
    "NoMatchError",
    "ErrorInfo",
    "RunicError",
    "ComponentNotFoundError",
    "CorruptLogError",
    "DuplicateComponentError",
    "FunctionRestoreError",
    "HookError",
    "InvalidPolicyError",
    "StepTimeoutError",
    "TaskCrashedError",
    "WorkflowDefinitionError",
    "WorkflowFailedError",
]


class RunicError(Exception):
    """Base class of every exception raised by runic."""


class ArgumentError(RunicError, ValueError):
    """An argument has a value runic does not accept (the message says which and why)."""


class ArgumentTypeError(RunicError, TypeError):
    """An argument has a type runic does not accept."""


class MissingNameError(RunicError, KeyError):
    """A required name is missing (e.g. ``Runner.start_link`` without ``name=``)."""

    def __str__(self) -> str:  # KeyError would show the repr of the message
        return str(self.args[0]) if self.args else ""


class NoMatchError(RunicError, LookupError):
    """A rule evaluated on its own (``Rule.run``) whose condition does not hold."""


class WorkflowDefinitionError(RunicError, ValueError):
    """A workflow or component was built or wired incorrectly (bad shape, bad argument)."""


class EncodeError(RunicError, TypeError):
    """A value cannot be encoded (its type is not on the codec's allow-list, or it is nested
    more than :data:`runic.limits.MAX_DEPTH` levels). Also ``runic.codec.EncodeError``."""


class NestingError(EncodeError, ArgumentError):
    """A value is nested more than :data:`runic.limits.MAX_DEPTH` levels deep (raised by
    ``runic.codec.dumps`` and by the content hasher). Also an :class:`ArgumentError`: the value
    is a bad argument."""


class DecodeError(RunicError, ValueError):
    """Data is not a valid runic encoding (malformed, truncated, nested more than
    :data:`runic.limits.MAX_DEPTH` levels, or names an unknown type). Also
    ``runic.codec.DecodeError``."""


# Their public home is runic.codec (defined here, below it, so the content hasher can raise them
# without importing the codec): failure records, error replies and pickles name them so.
for _cls in (EncodeError, NestingError, DecodeError):
    _cls.__module__ = "runic.codec"
del _cls


class ComponentNotFoundError(RunicError, LookupError):
    """A component name (or hash) does not exist in the workflow."""

    def __init__(self, name: object, workflow_name: object = None) -> None:
        self.name = name
        where = f" in workflow {workflow_name!r}" if workflow_name is not None else ""
        super().__init__(
            f"no component named {name!r}{where}; "
            "check the spelling or add the component before referring to it"
        )


class DuplicateComponentError(WorkflowDefinitionError):
    """A different component was added under a name that is already taken."""


class InvalidPolicyError(RunicError, ValueError):
    """A scheduler policy has an unknown key or an invalid value."""


class StepTimeoutError(RunicError, TimeoutError):
    """An attempt ran past its ``timeout_ms``, or its runnable's deadline passed.

    Runnables record timeouts as data (``("timeout", ms)``, ``("deadline_exceeded", ms)``); this
    class gives them an exception type, so a :class:`runic.Failure` names it as its
    ``error_type`` and ``retry_on``/``give_up_on`` can match it (also as ``TimeoutError``).
    """


class TaskCrashedError(RunicError):
    """The thread or process running an attempt died without reporting an outcome."""


class HookError(RunicError):
    """A before/after hook returned ``("error", reason)`` or an invalid value."""


class CorruptLogError(RunicError, ValueError):
    """An event log cannot be replayed: an event is missing, repeated, out of order, of the
    wrong type or has fields of the wrong type.

    Raised by :meth:`runic.Workflow.from_events` / :meth:`runic.Workflow.from_log`.
    ``index`` is the position of the offending event in the log (0-based), ``event_type`` its
    class name; the original exception, if any, is chained as ``__cause__``.
    """

    def __init__(self, index: int, event_type: str, reason: str) -> None:
        self.index = index
        self.event_type = event_type
        self.reason = reason
        super().__init__(
            f"event #{index} ({event_type}) of the log cannot be replayed: {reason}. The log is "
            "damaged (an event is missing, repeated, out of order or has wrong fields); restore "
            "the stream from a backup or delete the workflow"
        )

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (CorruptLogError, (self.index, self.event_type, self.reason))


class WorkflowFailedError(RunicError):
    """A workflow settled with runnables that failed for good.

    ``failures`` lists the :class:`runic.Failure` records that halted their runnable (final,
    and not skipped or answered by a fallback); the message names each failed component, the
    exception type and the first line of its text, e.g. ``workflow 'order-7' failed: step
    'charge' raised PaymentDeclined: card expired (after 3 attempts)``.
    """

    def __init__(self, workflow_id: object, failures: "list[Any] | tuple[Any, ...]") -> None:
        self.workflow_id = workflow_id
        self.failures = list(failures)
        what = "; ".join(f.summary() for f in self.failures) or "no failure recorded"
        name = f"workflow {workflow_id!r}" if workflow_id is not None else "workflow"
        super().__init__(f"{name} failed: {what}")

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (WorkflowFailedError, (self.workflow_id, self.failures))


class FunctionRestoreError(RunicError):
    """A function recorded in a workflow log cannot be restored.

    Raised by :meth:`runic.Workflow.from_log` / :meth:`runic.Workflow.from_events` at rebuild
    time (never later, at run time). The message names the component and says how to fix it.
    """

    def __init__(self, component: object, part: str, ref: object, reason: str) -> None:
        self.component = component
        self.part = part
        self.ref = ref
        super().__init__(
            f"cannot restore the {part} function of component {component!r} "
            f"(recorded as {ref!r}): {reason}. Pass it to from_log/from_events with "
            f"functions={{{component!r}: <callable>}} (or {{{component!r}: {{{part!r}: <callable>}}}} "
            "for components with several functions), or pass the workflow definition as "
            "functions=<Workflow>, or make the function importable at module level."
        )


class ErrorInfo:
    """A serialisable description of an exception: its qualified type name and message.

    Runnable errors travel inside events (``RunnableFailed.error``) and through the store, so
    they are recorded as data, never as live exception objects (which could not be rebuilt
    without running code). ``detail`` holds extra text such as a traceback summary.
    """

    __slots__ = ("type", "message", "detail")

    def __init__(self, type: str, message: str, detail: str | None = None) -> None:  # noqa: A002
        self.type = type
        self.message = message
        self.detail = detail

    @classmethod
    def from_exception(cls, exc: BaseException, detail: str | None = None) -> "ErrorInfo":
        t = type(exc)
        name = t.__qualname__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"
        return cls(name, str(exc), detail)

    def __repr__(self) -> str:
        return f"ErrorInfo({self.type}: {self.message})"

    def __str__(self) -> str:
        return f"{self.type}: {self.message}"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ErrorInfo):
            return NotImplemented
        return (self.type, self.message, self.detail) == (other.type, other.message, other.detail)

    def __hash__(self) -> int:
        return hash((self.type, self.message))

    def __reduce__(self) -> tuple[Any, ...]:
        return (ErrorInfo, (self.type, self.message, self.detail))
