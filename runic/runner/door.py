"""The door: what the caller's process checks before a request leaves it.

Bad input is refused synchronously, by the call that brings it, with the real exception class:
an input that cannot be persisted raises :class:`runic.codec.EncodeError`; a run context or a
callback that cannot be sent to a worker host raises it too; an unknown hook, a bad option value
or an invalid workflow id raises :class:`runic.ArgumentError`; a scheduler policy with an unknown
key or a bad value, or whose matcher names no component of the workflow, raises
:class:`runic.InvalidPolicyError`. Nothing is accepted that cannot be persisted, so none of these
mistakes surfaces later as a hang or as an error in a log of another process.

Everything here runs in the caller's thread; nothing talks to an actor.
"""

from __future__ import annotations

from typing import Any, Iterable

import cloudpickle

from .. import codec
from ..core import Workflow
from ..errors import ArgumentError, ArgumentTypeError
from ..ids import check_workflow_id
from ..policy import SchedulerPolicy
from .executors import EXECUTORS
from .worker import HOOKS, parse_checkpoint_strategy

__all__ = ["check_id", "check_input", "pack_for_host", "check_options", "check_workflow", "check_policies",
           "check_callbacks"]


def check_id(workflow_id: Any) -> Any:
    """The workflow id, if it follows the id rule (:func:`runic.ids.check_workflow_id`)."""
    return check_workflow_id(workflow_id)


def check_input(value: Any, what: str = "input") -> None:
    """Raise :class:`~runic.codec.EncodeError` unless ``value`` can be persisted."""
    try:
        codec.dumps(value)
    except codec.EncodeError as exc:
        raise codec.EncodeError(f"the {what} cannot be persisted, so it was not accepted: {exc}") from exc


def pack_for_host(value: Any, what: str) -> bytes | None:
    """``value`` as bytes for the hop to a worker host (our own process, on this machine)."""
    if value is None:
        return None
    try:
        blob: bytes = cloudpickle.dumps(value)
        return blob
    except Exception as exc:  # noqa: BLE001 - pickling raises many types
        raise codec.EncodeError(
            f"the {what} cannot be sent to a worker host ({type(exc).__name__}: {exc}); pass values "
            "that pickle (module-level functions, plain data), or create the resource inside the step"
        ) from exc


def check_options(*, max_concurrency: Any = None, checkpoint_strategy: Any = "every_cycle",
                  executor: Any = "thread", store_retry_s: Any = None) -> dict[Any, Any]:
    """The plain options dict of a workflow, validated."""
    if max_concurrency is not None and (isinstance(max_concurrency, bool) or not isinstance(max_concurrency, int)
                                        or max_concurrency < 1):
        raise ArgumentError(f"max_concurrency must be an int >= 1 (or None for the number of CPUs), "
                            f"got {max_concurrency!r}")
    parse_checkpoint_strategy(checkpoint_strategy)
    if executor not in EXECUTORS:
        raise ArgumentError(f"unknown executor {executor!r}; choose one of {EXECUTORS}")
    options: dict[str, Any] = {"max_concurrency": max_concurrency, "checkpoint_strategy": checkpoint_strategy,
                               "executor": executor}
    if store_retry_s is not None:
        if isinstance(store_retry_s, bool) or not isinstance(store_retry_s, (int, float)) or not store_retry_s > 0:
            raise ArgumentError(f"store_retry_s must be a positive number of seconds, got {store_retry_s!r}")
        options["store_retry_s"] = float(store_retry_s)
    return options


def check_callbacks(on_complete: Any, hooks: dict[Any, Any] | None) -> dict[Any, Any] | None:
    """``{"on_complete": fn, "hooks": {...}}`` validated (``None`` when there are none)."""
    if on_complete is not None and not callable(on_complete):
        raise ArgumentTypeError(f"on_complete must be callable (workflow_id, workflow), got {on_complete!r}")
    if hooks is not None:
        if not isinstance(hooks, dict):
            raise ArgumentTypeError(f"hooks must be a dict of hook name -> callable, got {type(hooks).__name__}")
        unknown = sorted(set(hooks) - set(HOOKS), key=str)
        if unknown:
            raise ArgumentError(f"unknown hooks {unknown}; valid hooks are {list(HOOKS)}")
        bad = [k for k, v in hooks.items() if v is not None and not callable(v)]
        if bad:
            raise ArgumentTypeError(f"hooks {bad} are not callable")
    return {"on_complete": on_complete, "hooks": hooks} if (on_complete or hooks) else None


def check_policies(policies: Iterable[Any] | None) -> list[Any] | None:
    """Runtime scheduler policies ``[(matcher, {...}), ...]``, every dict validated."""
    if policies is None:
        return None
    out = []
    for i, entry in enumerate(policies):
        if not (isinstance(entry, (tuple, list)) and len(entry) == 2 and isinstance(entry[1], dict)):
            raise ArgumentError(f"scheduler_policies[{i}] must be a (matcher, policy dict) pair, got {entry!r}")
        SchedulerPolicy.new(entry[1])  # raises InvalidPolicyError naming the key
        out.append(tuple(entry))
    return out


def check_workflow(workflow: Any, policies: list[Any] | None = None) -> Workflow:
    """``workflow`` if it is a :class:`runic.Workflow` whose policies all name components of it."""
    if not isinstance(workflow, Workflow):
        raise ArgumentTypeError(f"expected a runic.Workflow, got {type(workflow).__name__}; build one with "
                                "runic.workflow(...)")
    workflow.check_policy_targets()
    if policies:
        workflow.check_policy_targets(policies)
    return workflow
