"""One rule for workflow ids, applied by the stores (and by the Runner and the command line).

A workflow id is a key in the store, in the Runner's tables and on the command line, so it
must mean the same workflow everywhere. Python's ``==`` and ``hash`` conflate values that the
store keeps apart (``7 == 7.0 == True``), and some values cannot be keys at all. The rule:

* **accepted**: ``str`` (what the command line shows and takes), ``int`` (not ``bool``),
  :class:`uuid.UUID`, ``bytes``, and tuples of those (nested tuples too, up to 16 levels);
* **refused**: ``bool`` (``True`` would collide with ``1`` in the Runner's dicts), ``float``
  (``7.0`` collides with ``7``, and ``nan`` never equals itself, so a workflow with that id
  could be started and never found again), ``None``, and everything else (lists and dicts are
  unhashable; other objects have no stable encoding across processes).

:func:`check_workflow_id` raises :class:`runic.ArgumentError` naming the id and the fix; it
runs in the caller's process, before anything is written.
"""

from __future__ import annotations

import uuid
from typing import Any

from .errors import ArgumentError

__all__ = ["check_workflow_id", "is_workflow_id", "ID_TYPES"]

ID_TYPES: tuple[type, ...] = (str, int, uuid.UUID, bytes, tuple)
"""The types a workflow id may have (``bool`` excluded; tuples hold these types)."""

_MAX_TUPLE_DEPTH = 16
_SCALAR_ID_TYPES = frozenset({str, int, bytes, uuid.UUID})


def is_workflow_id(wid: Any) -> bool:
    """True iff ``wid`` follows the workflow id rule (see the module documentation)."""
    return _reason(wid, 0) is None


def check_workflow_id(wid: Any) -> Any:
    """Return ``wid`` if it is a valid workflow id; else raise :class:`runic.ArgumentError`."""
    t = type(wid)
    if t is str or (t is int) or t is bytes or t is uuid.UUID:
        return wid
    reason = _reason(wid, 0)
    if reason is None:
        return wid
    shown = repr(wid)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    raise ArgumentError(
        f"invalid workflow id {shown}: {reason}. A workflow id must be a str, an int (not a "
        "bool), a uuid.UUID, bytes, or a tuple of those; use for example str(the_id)"
    )


def _reason(wid: Any, depth: int) -> str | None:
    t = type(wid)
    if t in _SCALAR_ID_TYPES:
        return None
    if t is bool:
        return "a bool is refused (True and False would collide with the ids 1 and 0)"
    if t is float:
        return ("a float is refused (7.0 would collide with 7, and nan never equals itself, so "
                "such a workflow could not be found again)")
    if wid is None:
        return "None is not an id"
    if t is tuple:
        if depth >= _MAX_TUPLE_DEPTH:
            return f"tuples nested more than {_MAX_TUPLE_DEPTH} levels are refused"
        for item in wid:
            reason = _reason(item, depth + 1)
            if reason is not None:
                return f"an item of the tuple is refused ({reason})"
        return None
    return f"a value of type {t.__module__}.{t.__qualname__} is refused"
