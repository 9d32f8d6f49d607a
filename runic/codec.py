"""The persisted form of runic data: msgpack with an explicit allow-list of types.

``dumps(obj) -> bytes`` and ``loads(data) -> obj`` encode events, facts, logs and user values.
Nothing is ever pickled. Decoding only rebuilds:

* msgpack's own types: ``None``, ``bool``, ``int``, ``float``, ``str``, ``bytes``, ``list``,
  ``dict`` (any hashable keys);
* a fixed set of standard types, each with its own extension code: ``tuple``, ``set``,
  ``frozenset``, integers beyond 64 bits, ``datetime``/``date``/``time``/``timedelta``,
  ``Decimal``, ``UUID``, runic's sentinels (``NOTHING``, ``STRIPPED``), :class:`~runic.Fact`,
  :class:`~runic.facts.FactRef` and :class:`~runic.errors.ErrorInfo`;
* *records*: classes registered by name with :func:`register` (runic registers its events and
  function references; applications may register their own dataclasses). A record is rebuilt
  by creating the instance and setting its fields, without calling ``__init__``.

Exceptions are encoded as :class:`~runic.errors.ErrorInfo` (type name and message): live
exception objects are never rebuilt. Subclasses of ``str``/``int``/``float``/``dict``/``list``
that are not registered (``StrEnum`` members, ``OrderedDict``...) are encoded as their base type.

Any other type raises :class:`EncodeError` naming the type and how to allow it. Data that is not
valid msgpack, uses an unknown extension code or names an unregistered record raises
:class:`DecodeError`; decoding never imports modules or runs code from the data.

Each record carries a version number; :func:`register` accepts an ``upcast`` function that turns
the field list of an older version into the current one, so logs written by earlier versions of
a record stay readable.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import decimal
import enum
import threading
import uuid
from typing import Any, Callable, Iterable

import msgpack

from .errors import ArgumentError, ArgumentTypeError, ErrorInfo, RunicError
from .facts import Fact, FactRef, Sentinel

__all__ = [
    "CODEC_VERSION",
    "DecodeError",
    "EncodeError",
    "dumps",
    "loads",
    "register",
    "registered",
]

CODEC_VERSION = 1
"""Version of the wire format as a whole (bumped only for incompatible changes)."""

_EXT_TUPLE = 1
_EXT_SET = 2
_EXT_FROZENSET = 3
_EXT_RECORD = 4
_EXT_BIGINT = 5
_EXT_DATETIME = 6
_EXT_DATE = 7
_EXT_TIME = 8
_EXT_TIMEDELTA = 9
_EXT_DECIMAL = 10
_EXT_UUID = 11
_EXT_SENTINEL = 12
_EXT_FACT = 13
_EXT_FACTREF = 14
_EXT_ERROR = 15


class EncodeError(RunicError, TypeError):
    """A value cannot be encoded (its type is not on the codec's allow-list)."""


class DecodeError(RunicError, ValueError):
    """Data is not a valid runic encoding (malformed, truncated, or names an unknown type)."""


@dataclasses.dataclass(frozen=True)
class _Record:
    cls: type
    name: str
    version: int
    fields: tuple[str, ...]
    upcast: Callable[[int, list], list] | None
    setter: Callable[[Any, str, Any], None]


_BY_CLASS: dict[type, _Record] = {}
_BY_NAME: dict[str, _Record] = {}


def register(
    cls: type,
    name: str | None = None,
    *,
    fields: Iterable[str] | None = None,
    version: int = 1,
    upcast: Callable[[int, list], list] | None = None,
) -> type:
    """Allow ``cls`` in encoded data, identified by ``name`` (default ``module.QualName``).

    ``fields`` defaults to the dataclass fields (or ``__slots__``) of ``cls``. When data written
    with an older ``version`` is decoded, ``upcast(old_version, values)`` must return the value
    list for the current fields. Returns ``cls`` so it can be used as a class decorator.
    """
    if fields is None:
        if dataclasses.is_dataclass(cls):
            fields = [f.name for f in dataclasses.fields(cls)]
        else:
            slots: list[str] = []
            for klass in reversed(cls.__mro__):
                slots.extend(s for s in getattr(klass, "__slots__", ()) if s != "__weakref__")
            if not slots:
                raise ArgumentTypeError(f"cannot infer the fields of {cls!r}: pass fields=[...]")
            fields = slots
    rec_name = name or f"{cls.__module__}.{cls.__qualname__}"
    params = getattr(cls, "__dataclass_params__", None)
    frozen = bool(params and params.frozen) or hasattr(cls, "__slots__")
    setter = object.__setattr__ if frozen else setattr
    rec = _Record(cls, rec_name, version, tuple(fields), upcast, setter)
    existing = _BY_NAME.get(rec_name)
    if existing is not None and existing.cls is not cls:
        raise ArgumentError(f"codec record name {rec_name!r} is already registered for {existing.cls!r}")
    _BY_CLASS[cls] = rec
    _BY_NAME[rec_name] = rec
    return cls


def registered() -> dict[str, type]:
    """The record names currently allowed, mapped to their classes."""
    return {name: rec.cls for name, rec in _BY_NAME.items()}


# --------------------------------------------------------------------------- encoding

class _PackerStack(threading.local):
    """One reusable ``Packer`` per nesting level and thread: records pack their fields from
    inside ``default``, and ``msgpack.packb`` called there costs ~10x a reused packer."""

    def __init__(self) -> None:
        self.packers: list[msgpack.Packer] = []
        self.depth = 0


_stack = _PackerStack()


def _pack(obj: Any) -> bytes:
    st = _stack
    depth = st.depth
    packers = st.packers
    if depth == len(packers):
        packers.append(msgpack.Packer(default=_default, use_bin_type=True, strict_types=True))
    packer = packers[depth]
    st.depth = depth + 1
    try:
        return packer.pack(obj)
    except BaseException:
        packer.reset()
        raise
    finally:
        st.depth = depth


def _default(obj: Any) -> Any:
    t = type(obj)
    rec = _BY_CLASS.get(t)
    if rec is not None:
        return msgpack.ExtType(
            _EXT_RECORD, _pack([rec.name, rec.version, [getattr(obj, f) for f in rec.fields]])
        )
    if t is tuple:
        return msgpack.ExtType(_EXT_TUPLE, _pack(list(obj)))
    if t is Fact:
        return msgpack.ExtType(_EXT_FACT, _pack([obj.value, obj.ancestry, obj.hash, obj.meta]))
    if t is FactRef:
        return msgpack.ExtType(_EXT_FACTREF, _pack([obj.hash, obj.ancestry]))
    if t is set:
        return msgpack.ExtType(_EXT_SET, _pack(list(obj)))
    if t is frozenset:
        return msgpack.ExtType(_EXT_FROZENSET, _pack(list(obj)))
    if t is int:  # only reached when it does not fit in 64 bits
        return msgpack.ExtType(_EXT_BIGINT, str(obj).encode())
    if t is Sentinel:
        return msgpack.ExtType(_EXT_SENTINEL, obj.name.encode())
    if t is ErrorInfo:
        return msgpack.ExtType(_EXT_ERROR, _pack([obj.type, obj.message, obj.detail]))
    if t is _dt.datetime:
        return msgpack.ExtType(_EXT_DATETIME, obj.isoformat().encode())
    if t is _dt.date:
        return msgpack.ExtType(_EXT_DATE, obj.isoformat().encode())
    if t is _dt.time:
        return msgpack.ExtType(_EXT_TIME, obj.isoformat().encode())
    if t is _dt.timedelta:
        return msgpack.ExtType(_EXT_TIMEDELTA, _pack([obj.days, obj.seconds, obj.microseconds]))
    if t is decimal.Decimal:
        return msgpack.ExtType(_EXT_DECIMAL, str(obj).encode())
    if t is uuid.UUID:
        return msgpack.ExtType(_EXT_UUID, obj.bytes)
    if isinstance(obj, BaseException):
        return _default(ErrorInfo.from_exception(obj))
    if isinstance(obj, enum.Enum):
        return obj.value
    for base in (bool, int, float, str, bytes, dict, list, tuple):
        if isinstance(obj, base):
            return base(obj)
    raise EncodeError(
        f"cannot encode a value of type {t.__module__}.{t.__qualname__}: runic stores only "
        "msgpack types, tuples, sets, dates, Decimal, UUID, facts and registered records. "
        "Convert the value to one of those, or allow the type with "
        f"runic.codec.register({t.__qualname__})"
    )


def dumps(obj: Any) -> bytes:
    """Encode ``obj`` as msgpack bytes; raise :class:`EncodeError` for types not allowed."""
    try:
        return _pack(obj)
    except EncodeError:
        raise
    except (TypeError, ValueError, OverflowError) as exc:
        raise EncodeError(f"cannot encode value: {exc}") from exc


# --------------------------------------------------------------------------- decoding

def _unpack(data: bytes) -> Any:
    return msgpack.unpackb(
        data, ext_hook=_ext_hook, raw=False, strict_map_key=False, use_list=True
    )


def _ext_hook(code: int, data: bytes) -> Any:
    if code == _EXT_RECORD:
        payload = _unpack(data)
        if not (isinstance(payload, list) and len(payload) == 3 and isinstance(payload[0], str)):
            raise DecodeError("malformed record")
        name, version, values = payload
        rec = _BY_NAME.get(name)
        if rec is None:
            raise DecodeError(
                f"unknown record type {name!r}: it is not registered with runic.codec "
                "(import the module that registers it, or register the class)"
            )
        if not isinstance(values, list) or not isinstance(version, int):
            raise DecodeError(f"malformed record {name!r}")
        if version != rec.version:
            if version > rec.version:
                raise DecodeError(
                    f"record {name!r} was written by a newer version ({version} > {rec.version}); "
                    "upgrade runic to read it"
                )
            if rec.upcast is None:
                raise DecodeError(f"record {name!r} version {version} has no upcaster to {rec.version}")
            values = rec.upcast(version, values)
        if len(values) != len(rec.fields):
            raise DecodeError(
                f"record {name!r} has {len(values)} fields, expected {len(rec.fields)}"
            )
        obj = object.__new__(rec.cls)
        setter = rec.setter
        for field, value in zip(rec.fields, values):
            setter(obj, field, value)
        return obj
    if code == _EXT_TUPLE:
        return tuple(_unpack(data))
    if code == _EXT_FACT:
        value, ancestry, h, meta = _unpack(data)
        return Fact(value, ancestry, h, meta)
    if code == _EXT_FACTREF:
        h, ancestry = _unpack(data)
        return FactRef(h, ancestry)
    if code == _EXT_SET:
        return set(_unpack(data))
    if code == _EXT_FROZENSET:
        return frozenset(_unpack(data))
    if code == _EXT_BIGINT:
        return int(data.decode())
    if code == _EXT_SENTINEL:
        name = data.decode()
        if name not in Sentinel._registry:
            raise DecodeError(f"unknown sentinel {name!r}")
        return Sentinel._registry[name]
    if code == _EXT_ERROR:
        t, m, d = _unpack(data)
        return ErrorInfo(t, m, d)
    if code == _EXT_DATETIME:
        return _dt.datetime.fromisoformat(data.decode())
    if code == _EXT_DATE:
        return _dt.date.fromisoformat(data.decode())
    if code == _EXT_TIME:
        return _dt.time.fromisoformat(data.decode())
    if code == _EXT_TIMEDELTA:
        days, seconds, micros = _unpack(data)
        return _dt.timedelta(days=days, seconds=seconds, microseconds=micros)
    if code == _EXT_DECIMAL:
        return decimal.Decimal(data.decode())
    if code == _EXT_UUID:
        return uuid.UUID(bytes=data)
    raise DecodeError(f"unknown msgpack extension code {code}")


def loads(data: bytes | bytearray | memoryview) -> Any:
    """Decode bytes made by :func:`dumps`; raise :class:`DecodeError` for anything else."""
    try:
        return _unpack(data)
    except DecodeError:
        raise
    except Exception as exc:  # msgpack raises many types for garbage input
        raise DecodeError(f"not a valid runic encoding ({type(exc).__name__}: {exc})") from exc
