"""Child specifications, as in OTP: what to start, how to restart it, how to stop it.

A child is given either as a :class:`ChildSpec` or as ``(class_or_module, opts)``, which
:func:`to_child_spec` resolves through ``class_or_module.child_spec(opts)`` (a module may
instead export the class to start through a module-level ``child_spec``).
"""

from __future__ import annotations

import builtins
import importlib
import math
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from ..functions import import_path
from .errors import InvalidChildSpecError

__all__ = [
    "RESTART_TYPES",
    "CHILD_TYPES",
    "ChildSpec",
    "to_child_spec",
    "resolve_class",
    "class_ref",
    "shutdown_timeout",
]

RESTART_TYPES = ("permanent", "transient", "temporary")
CHILD_TYPES = ("worker", "supervisor")
_SHUTDOWN_WORDS = ("brutal_kill", "infinity")


@dataclass(frozen=True)
class ChildSpec:
    """How a supervisor starts, restarts and stops one child.

    * ``id``: unique among the supervisor's children.
    * ``start``: ``(ActorClass or "module:Class", opts: dict)``; the class must be a
      :class:`runic.supervisor.ChildActor` subclass defined at module level in an importable
      module (thespian re-imports it by name in the process that forks the child).
    * ``restart``: ``"permanent"`` (always restarted), ``"transient"`` (restarted only after
      an abnormal exit) or ``"temporary"`` (never restarted; its spec is removed when it exits).
    * ``shutdown``: seconds to wait for an orderly stop before SIGKILL, ``"brutal_kill"``
      (SIGKILL at once) or ``"infinity"`` (wait as long as it takes). Default 5.0 for
      workers and ``"infinity"`` for supervisors, as in OTP.
    * ``type``: ``"worker"`` or ``"supervisor"``.
    """

    id: str
    start: tuple
    restart: str = "permanent"
    shutdown: float | str | None = None
    type: str = "worker"
    opts: dict = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise InvalidChildSpecError(f"child id must be a non-empty str, got {self.id!r}")
        start = self.start
        if not isinstance(start, tuple) or len(start) != 2:
            raise InvalidChildSpecError(
                f"child {self.id!r}: start must be (ActorClass or 'module:Class', opts dict), "
                f"got {start!r}"
            )
        target, opts = start
        if not (isinstance(target, (type, str))):
            raise InvalidChildSpecError(
                f"child {self.id!r}: start[0] must be an actor class or 'module:Class', got {target!r}"
            )
        if opts is None:
            opts = {}
            object.__setattr__(self, "start", (target, opts))
        if not isinstance(opts, dict):
            raise InvalidChildSpecError(f"child {self.id!r}: start[1] (opts) must be a dict, got {opts!r}")
        object.__setattr__(self, "opts", opts)
        if self.restart not in RESTART_TYPES:
            raise InvalidChildSpecError(
                f"child {self.id!r}: restart must be one of {RESTART_TYPES}, got {self.restart!r}"
            )
        if self.type not in CHILD_TYPES:
            raise InvalidChildSpecError(
                f"child {self.id!r}: type must be one of {CHILD_TYPES}, got {self.type!r}"
            )
        if self.shutdown is None:
            object.__setattr__(self, "shutdown", "infinity" if self.type == "supervisor" else 5.0)
        sd = self.shutdown
        if isinstance(sd, str):
            if sd not in _SHUTDOWN_WORDS:
                raise InvalidChildSpecError(
                    f"child {self.id!r}: shutdown must be seconds, 'brutal_kill' or 'infinity', got {sd!r}"
                )
        elif isinstance(sd, bool) or not isinstance(sd, (int, float)) or sd < 0 or math.isnan(sd):
            raise InvalidChildSpecError(
                f"child {self.id!r}: shutdown must be seconds >= 0, 'brutal_kill' or 'infinity', got {sd!r}"
            )
        else:
            object.__setattr__(self, "shutdown", float(sd))

    def __reduce__(self):  # opts is derived; pickle only the constructor arguments
        return (ChildSpec, (self.id, self.start, self.restart, self.shutdown, self.type))

    def actor_class(self) -> "builtins.type":
        """The actor class to start (imports ``"module:Class"`` references)."""
        return resolve_class(self.start[0], self.id)

    def replace(self, **changes: Any) -> "ChildSpec":
        """A copy with some fields changed."""
        args: dict[str, Any] = {"id": self.id, "start": self.start, "restart": self.restart,
                                "shutdown": self.shutdown, "type": self.type}
        args.update(changes)
        return ChildSpec(**args)


def shutdown_timeout(spec: ChildSpec) -> float | None:
    """Seconds to wait for an orderly stop: ``0`` for brutal_kill, ``None`` for infinity."""
    if spec.shutdown == "brutal_kill":
        return 0.0
    if spec.shutdown == "infinity":
        return None
    return float(spec.shutdown)  # type: ignore[arg-type]


def class_ref(cls: type) -> str:
    """``"module:QualName"`` for a class."""
    return f"{cls.__module__}:{cls.__qualname__}"


def resolve_class(ref: type | str, child_id: str = "?") -> type:
    """Import ``"module:Class"`` (or ``"module.Class"``); classes are returned unchanged."""
    if isinstance(ref, type):
        return ref
    path = ref if ":" in ref else ":".join(ref.rsplit(".", 1))
    if ":" not in path or path.startswith(":") or path.endswith(":"):
        raise InvalidChildSpecError(
            f"child {child_id!r}: cannot resolve {ref!r}; write it as 'package.module:Class'"
        )
    try:
        obj: Any = import_path(path)
    except (ImportError, AttributeError, ValueError) as exc:
        raise InvalidChildSpecError(
            f"child {child_id!r}: cannot import {ref!r} ({exc}); the actor class must be defined "
            "at module level in an importable module"
        ) from exc
    if not isinstance(obj, type):
        raise InvalidChildSpecError(f"child {child_id!r}: {ref!r} is not a class")
    return obj


def to_child_spec(child: Any) -> ChildSpec:
    """Normalise a child given as a :class:`ChildSpec` or as ``(class_or_module, opts)``.

    ``(cls, opts)`` calls ``cls.child_spec(opts)``, which must return a :class:`ChildSpec`
    (:class:`runic.supervisor.ChildActor` provides a default: id = the class's qualified
    name, start = ``(cls, opts)``). A module (or ``"module"`` string) is resolved through its
    module-level ``child_spec(opts)`` function.
    """
    if isinstance(child, ChildSpec):
        return child
    if isinstance(child, dict):
        try:
            return ChildSpec(**child)
        except TypeError as exc:
            raise InvalidChildSpecError(f"bad child spec dict {child!r}: {exc}") from exc
    if isinstance(child, (type, ModuleType, str)):
        child = (child, {})
    if not (isinstance(child, tuple) and len(child) == 2):
        raise InvalidChildSpecError(
            f"a child must be a ChildSpec or (class_or_module, opts), got {child!r}"
        )
    target, opts = child
    if opts is None:
        opts = {}
    if not isinstance(opts, dict):
        raise InvalidChildSpecError(f"child {target!r}: opts must be a dict, got {opts!r}")
    if isinstance(target, str):
        if ":" in target:
            target = resolve_class(target)
        else:
            try:
                target = importlib.import_module(target)
            except ImportError as exc:
                raise InvalidChildSpecError(f"cannot import child module {target!r}: {exc}") from exc
    make = getattr(target, "child_spec", None)
    if not callable(make):
        raise InvalidChildSpecError(
            f"{target!r} has no child_spec(opts); subclass runic.supervisor.ChildActor, "
            "define child_spec(opts) -> ChildSpec, or pass a ChildSpec"
        )
    spec = make(opts)
    if not isinstance(spec, ChildSpec):
        raise InvalidChildSpecError(
            f"{target!r}.child_spec(opts) returned {spec!r}; it must return a runic.supervisor.ChildSpec"
        )
    return spec
