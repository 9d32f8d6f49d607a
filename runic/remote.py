"""Errors that cross processes: their qualified names, and rebuilding them on the other side.

An exception raised in one of runic's processes (a worker host, the runner actor, a supervisor)
reaches the caller in another process as a reply carrying the exception's *qualified type name*,
its message and a few plain attributes (:class:`runic.supervisor.messages.ErrorReply`). This
module is the one place that turns an exception into that description (:func:`describe`) and back
into an exception of **the same class** (:func:`rebuild`), so that ``except
AlreadyStartedError`` or ``except InvalidPolicyError`` in the caller works whatever process raised
it.

Which classes can be rebuilt: every subclass of :class:`runic.RunicError` (found by walking the
class tree, so a new runic error needs no registration), the built-in exceptions, and classes an
application registers with :func:`register_remote_error`. Rebuilding never imports a module named
by the data and never runs an ``__init__``: the instance is created with ``__new__``, its
``args`` set to the message and its plain attributes restored. Any other type name becomes a
:class:`RemoteError` that names it.
"""

from __future__ import annotations

import builtins
import pickle
from typing import Any

from .errors import RunicError

__all__ = ["RemoteError", "qualified_name", "describe", "rebuild", "register_remote_error"]


class RemoteError(RunicError):
    """An error from another process whose type cannot be rebuilt here; ``type_name`` names it."""

    def __init__(self, type_name: str, message: str) -> None:
        self.type_name = type_name
        super().__init__(f"{type_name}: {message}")


_EXTRA: dict[str, type[BaseException]] = {}


def register_remote_error(cls: type[BaseException]) -> type[BaseException]:
    """Allow an application exception class to be rebuilt as itself when it crosses processes.

    Usable as a class decorator. (runic's own errors and the built-in exceptions need nothing.)
    """
    _EXTRA[qualified_name(cls)] = cls
    return cls


def qualified_name(t: type | BaseException) -> str:
    """``module.QualName`` of a class (or of an exception's class); built-ins are bare names."""
    cls = t if isinstance(t, type) else type(t)
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


def _plain(value: Any) -> bool:
    try:
        pickle.dumps(value)
    except Exception:  # noqa: BLE001 - anything that does not pickle stays behind
        return False
    return True


def describe(exc: BaseException) -> tuple[str, str, dict[str, Any]]:
    """``(qualified type name, message, attributes)`` of an exception, ready to cross processes.

    ``attributes`` holds the instance's own attributes that pickle (e.g. ``failures`` of a
    ``WorkflowFailedError``, ``workflow_id`` of a ``WorkflowNotFoundError``).
    """
    attrs = {k: v for k, v in getattr(exc, "__dict__", {}).items() if not k.startswith("__") and _plain(v)}
    return qualified_name(exc), str(exc), attrs


def _runic_classes() -> dict[str, type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    stack: list[type[BaseException]] = [RunicError]
    while stack:
        cls = stack.pop()
        found[qualified_name(cls)] = cls
        stack.extend(cls.__subclasses__())
    return found


def _lookup(type_name: str) -> type[BaseException] | None:
    cls = _EXTRA.get(type_name)
    if cls is not None:
        return cls
    if "." not in type_name:
        obj = getattr(builtins, type_name, None)
        if isinstance(obj, type) and issubclass(obj, Exception):
            return obj
        return None
    if type_name.startswith("runic."):
        return _runic_classes().get(type_name)
    return None


def rebuild(type_name: str, message: str, attrs: dict[str, Any] | None = None) -> Exception:
    """The exception described by ``type_name``/``message``/``attrs`` (see the module docs)."""
    cls = _lookup(type_name)
    if cls is None or not issubclass(cls, Exception):
        return RemoteError(type_name, message)
    try:
        exc = cls.__new__(cls)
        BaseException.__init__(exc, message)
    except Exception:  # noqa: BLE001 - an odd __new__
        return RemoteError(type_name, message)
    for key, value in (attrs or {}).items():
        try:
            setattr(exc, key, value)
        except Exception:  # noqa: BLE001 - a read-only property: the message still says it
            pass
    try:
        str(exc)  # a __str__ that needs what __init__ would have set: fall back
    except Exception:  # noqa: BLE001
        return RemoteError(type_name, message)
    return exc
