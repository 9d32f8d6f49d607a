"""Stable, process-independent content hashes.

Runic derives every identifier (facts, components, runnables) from content. Python's built-in
``hash()`` is salted per process for ``str``/``bytes`` and conflates ``1 == 1.0 == True``, so it
is never used for identities. Instead a value is turned into a *canonical byte encoding* and
hashed with BLAKE2b truncated to 64 bits (Runic's 32-bit range would collide at ~65k facts).

The canonical encoding is msgpack with type tags:

* ``None``, ``bool``, ``int``, ``float``, ``str`` and ``bytes`` encode as themselves (msgpack
  keeps ``1``, ``1.0`` and ``True`` apart);
* lists encode as arrays; tuples, dicts (items sorted by their encoded keys), sets and
  frozensets (elements sorted by their encoded form) carry distinct tags;
* dataclasses and other objects encode as their qualified type name plus their fields
  (``vars()`` or ``__slots__``); objects that expose neither fall back to ``repr()``, which is
  only stable when the class defines a content-based ``__repr__``.

The same value therefore hashes the same on every run, in every process and on every machine
with the same Python major version.

A value nested more than :data:`MAX_DEPTH` levels (every list, dict, tuple, set, frozenset and
object counts as one level; ``[[1]]`` is two) raises :class:`runic.errors.NestingError` (an
``EncodeError`` and an ``ArgumentError``): the same limit :mod:`runic.codec` applies to what it
encodes and decodes, so a value that hashes can always be stored and read back, and the other
way round. The walk is plain Python recursion (no C stack per level), bounded by that limit.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import decimal
import enum
import uuid
from hashlib import blake2b
from typing import Any, Callable

import msgpack

from .errors import NestingError
from .limits import MAX_DEPTH, too_deep_message

__all__ = ["canonical_bytes", "canonical_form", "content_hash", "hash_bytes", "HASH_BITS", "MAX_DEPTH"]

HASH_BITS = 64

"""The deepest nesting of containers runic hashes, encodes and decodes (see the module docs)."""

_TAG_TUPLE = 1
_TAG_DICT = 2
_TAG_SET = 3
_TAG_OBJECT = 4
_TAG_BIGINT = 5
_TAG_ENUM = 6
_TAG_SCALAR_OBJ = 7
_TAG_REPR = 8

_SCALARS = frozenset({int, str, float, bool, type(None), bytes})
_packer = msgpack.Packer(use_bin_type=True, strict_types=True, autoreset=True)
_pack: Callable[[Any], bytes] = _packer.pack
_Ext = msgpack.ExtType


def hash_bytes(data: bytes) -> int:
    """Return the 64-bit BLAKE2b hash of ``data`` as a non-negative int."""
    return int.from_bytes(blake2b(data, digest_size=8).digest(), "big")


def canonical_bytes(obj: Any) -> bytes:
    """Encode ``obj`` canonically (equal content gives equal bytes, in every process).

    Raises :class:`runic.errors.NestingError` if ``obj`` is nested more than :data:`MAX_DEPTH`
    levels deep.
    """
    if type(obj) in _SCALARS:
        try:
            return _pack(obj)
        except OverflowError:
            return _pack(_Ext(_TAG_BIGINT, str(obj).encode()))
    try:
        return _pack(canonical_form(obj, 0))
    except RecursionError as exc:  # the caller was already close to Python's recursion limit
        raise _too_deep() from exc


def _too_deep() -> Exception:
    return NestingError(too_deep_message("the value to hash"))


def content_hash(obj: Any) -> int:
    """Stable 64-bit content hash of ``obj`` (see the module docs for the encoding)."""
    return int.from_bytes(blake2b(canonical_bytes(obj), digest_size=8).digest(), "big")


def canonical_form(obj: Any, depth: int) -> Any:
    """``obj`` as the structure :func:`canonical_bytes` packs (sets sorted, tuples tagged,
    big ints as extensions), ``depth`` levels down already; also used to hash function
    constants (:mod:`runic.functions`)."""
    t = type(obj)
    if t in _SCALARS:
        if t is int and not (-(2**63) <= obj < 2**64):
            return _Ext(_TAG_BIGINT, str(obj).encode())
        return obj
    if depth >= MAX_DEPTH:  # obj is the (depth + 1)-th level
        raise _too_deep()
    d = depth + 1
    if t is list:
        return [canonical_form(x, d) for x in obj]
    if t is tuple:
        return _Ext(_TAG_TUPLE, _pack([canonical_form(x, d) for x in obj]))
    if t is dict:
        return _Ext(_TAG_DICT, _pack_sorted_items(obj, d))
    if t is set or t is frozenset:
        parts = sorted(_pack(canonical_form(x, d)) for x in obj)
        return _Ext(_TAG_SET, b"".join(parts))
    canon = getattr(obj, "__runic_canonical__", None)
    if canon is not None:
        return _Ext(_TAG_OBJECT, _pack([_qualname(t), canonical_form(canon(), d)]))
    if isinstance(obj, enum.Enum):
        return _Ext(_TAG_ENUM, _pack([_qualname(t), canonical_form(obj.value, d)]))
    if isinstance(obj, (int, str, float, bytes)):  # subclasses of scalars
        return _Ext(_TAG_SCALAR_OBJ, _pack([_qualname(t), canonical_form(t.__mro__[-2](obj), d)]))
    if isinstance(obj, (list, tuple)):
        return _Ext(_TAG_OBJECT, _pack([_qualname(t), [canonical_form(x, d) for x in obj]]))
    if isinstance(obj, dict):
        return _Ext(_TAG_OBJECT, _pack([_qualname(t), _Ext(_TAG_DICT, _pack_sorted_items(obj, d))]))
    if isinstance(obj, (_dt.datetime, _dt.date, _dt.time)):
        return _Ext(_TAG_SCALAR_OBJ, _pack([_qualname(t), obj.isoformat()]))
    if isinstance(obj, (decimal.Decimal, uuid.UUID, _dt.timedelta)):
        return _Ext(_TAG_SCALAR_OBJ, _pack([_qualname(t), str(obj)]))
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        fields = {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
        return _Ext(_TAG_OBJECT, _pack([_qualname(t), _Ext(_TAG_DICT, _pack_sorted_items(fields, d))]))
    state = _object_state(obj)
    if state is not None:
        return _Ext(_TAG_OBJECT, _pack([_qualname(t), _Ext(_TAG_DICT, _pack_sorted_items(state, d))]))
    return _Ext(_TAG_REPR, _pack([_qualname(t), repr(obj)]))


def _pack_sorted_items(mapping: dict[Any, Any], depth: int) -> bytes:
    items = sorted((_pack(canonical_form(k, depth)), _pack(canonical_form(v, depth))) for k, v in mapping.items())
    return b"".join(k + v for k, v in items)


def _object_state(obj: Any) -> dict[Any, Any] | None:
    state = getattr(obj, "__dict__", None)
    if isinstance(state, dict) and state and not callable(obj):
        return state
    slots: list[Any] = []
    for klass in type(obj).__mro__:
        slots.extend(getattr(klass, "__slots__", ()))
    if slots and not callable(obj):
        return {s: getattr(obj, s) for s in slots if isinstance(s, str) and hasattr(obj, s)}
    return None


def _qualname(t: type) -> str:
    return f"{t.__module__}.{t.__qualname__}"
