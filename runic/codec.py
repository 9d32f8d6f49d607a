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
  by creating the instance and setting its fields, without calling ``__init__``;
* *enums*: :class:`enum.Enum` classes registered with :func:`register` come back as the same
  member (encoded by member name; ``Flag`` members by value).

Exceptions are encoded as :class:`~runic.errors.ErrorInfo` (type name and message): live
exception objects are never rebuilt. Subclasses of ``str``/``int``/``float``/``bytes``/``dict``/
``list`` that are not registered (``OrderedDict``, a ``str`` subclass...) are encoded as their
base type. **Enum members are the exception**: an unregistered member — ``StrEnum`` and
``IntEnum`` members included, although they are ``str``/``int`` — raises :class:`EncodeError`
saying how to register the class. Decision: encoding them as their value would bring them back
as a plain ``str``/``int`` (equal, but no longer the member), and a silent lossy round trip is
the one outcome the codec must not have; registering costs one line and round-trips exactly.

Any other type raises :class:`EncodeError` naming the type and how to allow it. Data that is not
valid msgpack, uses an unknown extension code or names an unregistered record raises
:class:`DecodeError`; decoding never imports modules or runs code from the data (the one
exception: a record's registered ``upcast`` function, which the application provides).

Nesting limit
-------------
A value may nest at most :data:`MAX_DEPTH` (100) levels of containers: every ``list``,
``dict``, ``tuple``, ``set``, ``frozenset``, record, :class:`~runic.Fact`,
:class:`~runic.facts.FactRef` and :class:`~runic.errors.ErrorInfo` is one level (scalars,
dates, ``Decimal``, ``UUID`` and enum members are none); ``[[1]]`` has depth 2. The same rule
holds on all three sides, so nothing is stored that cannot be read back:

* :func:`dumps` raises :class:`NestingError` (an :class:`EncodeError`);
* :func:`loads` raises :class:`DecodeError`;
* :func:`runic.hashing.content_hash` (fact hashes) raises :class:`NestingError`.

Why 100: realistic values are a few levels deep; the limit only has to stop hostile or runaway
values (a self-referencing list, a 30,000-deep JSON input, a tuple nested 200 deep that used to
crash every reader of the store with a segmentation fault) well before any stack runs out.
:func:`depth` tells the depth of a value.

How decoding stays off the C stack. msgpack's C unpacker is iterative for lists and maps (it
refuses more than 1,024 levels by itself), but every extension value (tuple, set, record...)
carries its contents as a separately packed payload. The first version decoded that payload
from inside msgpack's ``ext_hook`` with a nested ``msgpack.unpackb`` call: one C-level recursion
per level, ~40 KiB of C stack each (the unpacker's context lives on the stack), so ~195 levels
crashed the process and a 1 MiB thread crashed at ~25. Now at most three ``unpackb`` calls are
ever active (a record holding a tuple holding a value decodes in one go, as before); deeper
payloads are handed back as placeholders and decoded one after the other once the enclosing
``unpackb`` has returned, by plain Python recursion (no C stack) that refuses more than 100
levels. Everything runs in the caller's thread; per-thread state lives in ``threading.local``.

How depth is checked without slowing small values down. Every container level of an encoding
contributes at least one "header" byte (an array, map or extension header: ``0x80-0x9f``,
``0xc7-0xc9``, ``0xd4-0xd8``, ``0xdc-0xdf``), so the number of such bytes — counted in C by
``bytes.translate`` — bounds the depth. An encoding of at most 100 bytes, or with at most 100
such bytes, needs nothing more (every event); a list of extension values (a saved log) is
bounded from its items' own counts; only large values full of header-like bytes are walked
exactly (:func:`depth`), which costs about as much again as encoding them. ``loads(data,
trusted=True)`` skips that walk for bytes known to come from :func:`dumps` (the stores check a
checksum first). ``dumps`` packs first and counts afterwards; from the second level of
extension values on, contents that hold containers make it check the whole value before
packing further, so alternating lists and tuples cannot pile up the C packer's recursion
(msgpack's own limit for lists and dicts is 511 levels, ~200 KiB of C stack).

Each record carries a version number; :func:`register` accepts an ``upcast`` function that turns
the field list of an older version into the current one, so logs written by earlier versions of
a record stay readable.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import decimal
import enum
import keyword
import threading
import types
import uuid
from typing import Any, Callable, Iterable, Iterator, cast

import msgpack

from .errors import ArgumentError, ArgumentTypeError, DecodeError, EncodeError, ErrorInfo, NestingError, RunicError
from .facts import Fact, FactRef, Sentinel
from .limits import MAX_DEPTH, too_deep_message

__all__ = [
    "CODEC_VERSION",
    "MAX_DEPTH",
    "DecodeError",
    "EncodeError",
    "NestingError",
    "depth",
    "dumps",
    "dumps_batch",
    "loads",
    "loads_batch",
    "pack",
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
_EXT_ENUM = 16


def _too_deep_message(what: str) -> str:
    return too_deep_message(what)


@dataclasses.dataclass(frozen=True)
class _Record:
    cls: type
    name: str
    version: int
    fields: tuple[str, ...]
    upcast: Callable[[int, list[Any]], list[Any]] | None
    setter: Callable[[Any, str, Any], None]
    #: fields that hold ``None`` or a tuple, stored as plain arrays in flat batches
    tuple_fields: tuple[str, ...] = ()
    #: fields whose values flat batches keep encoded until first read
    lazy_fields: tuple[str, ...] = ()
    #: ``build(values) -> instance`` from the current version's field values (no checks)
    build: Callable[[list[Any]], Any] | None = None
    #: ``flat(obj) -> [name, version, *fields]`` for a flat batch, or ``None`` if a declared
    #: tuple field holds something else (the record is then stored whole)
    flat: Callable[[Any], list[Any] | None] | None = None
    #: ``unflat(entry) -> instance`` from a flat batch entry of the current version
    unflat: Callable[[list[Any]], Any] | None = None


@dataclasses.dataclass(frozen=True)
class _EnumRecord:
    cls: type
    name: str


_BY_CLASS: dict[type, _Record] = {}
#: record name -> (current version, length of its flat entry, unflat): what loads_batch needs
_FLAT_BY_NAME: dict[str, tuple[int, int, Callable[[list[Any]], Any]]] = {}
_BY_NAME: dict[str, _Record] = {}
_ENUM_BY_CLASS: dict[type, _EnumRecord] = {}
_ENUM_BY_NAME: dict[str, _EnumRecord] = {}


def register(
    cls: type,
    name: str | None = None,
    *,
    fields: Iterable[str] | None = None,
    version: int = 1,
    upcast: Callable[[int, list[Any]], list[Any]] | None = None,
    tuple_fields: Iterable[str] = (),
    lazy_fields: Iterable[str] = (),
) -> type:
    """Allow ``cls`` in encoded data, identified by ``name`` (default ``module.QualName``).

    ``fields`` defaults to the dataclass fields (or ``__slots__``) of ``cls``. When data written
    with an older ``version`` is decoded, ``upcast(old_version, values)`` must return the value
    list for the current fields. Returns ``cls`` so it can be used as a class decorator.

    ``cls`` may also be an :class:`enum.Enum` subclass (``IntEnum``, ``StrEnum``, ``Flag``...):
    its members then round-trip as themselves (by member name; ``Flag`` members by value, so
    combinations survive). ``fields``, ``version`` and ``upcast`` do not apply to enums.

    ``tuple_fields`` names fields that always hold ``None`` or a ``tuple`` (a fact's ancestry):
    in flat batches (:func:`dumps_batch`) they are stored as plain arrays and read back as
    tuples, which decodes ~2x faster than a tuple extension value. An instance whose declared
    field holds anything else is stored whole, so the round trip stays exact either way.

    ``lazy_fields`` names fields of a ``__slots__`` class whose values, read from a flat batch,
    stay encoded until the field is first read (then decoded once, in the reading thread, and
    kept): a stream that does not look at every value (a resume whose values are in the graph
    already, a listing) skips most of the decoding. The class attribute becomes a small
    descriptor over the slot; reading such a field costs ~0.1 µs more. A value that cannot be
    decoded raises :class:`DecodeError` when the field is read.
    """
    if not isinstance(cls, type):
        raise ArgumentTypeError(f"runic.codec.register expects a class, got {cls!r}")
    rec_name = name or f"{cls.__module__}.{cls.__qualname__}"
    if issubclass(cls, enum.Enum):
        if fields is not None or upcast is not None or version != 1:
            raise ArgumentError(
                f"runic.codec.register({cls.__qualname__}): fields, version and upcast do not "
                "apply to Enum classes (members are stored by name)"
            )
        _check_free_name(rec_name, cls)
        erec = _EnumRecord(cls, rec_name)
        _ENUM_BY_CLASS[cls] = erec
        _ENUM_BY_NAME[rec_name] = erec
        return cls
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
    params = getattr(cls, "__dataclass_params__", None)
    frozen = bool(params and params.frozen) or hasattr(cls, "__slots__")
    setter = object.__setattr__ if frozen else setattr
    fields = tuple(fields)
    tuple_fields = tuple(tuple_fields)
    lazy_fields = tuple(lazy_fields)
    unknown = [f for f in tuple_fields + lazy_fields if f not in fields]
    if unknown:
        raise ArgumentError(f"runic.codec.register({cls.__qualname__}): tuple_fields {unknown} are not fields")
    _check_free_name(rec_name, cls)
    for f in lazy_fields:
        _make_lazy(cls, f)
    build, flat, unflat = _record_functions(cls, rec_name, version, fields, tuple_fields, lazy_fields, setter)
    rec = _Record(cls, rec_name, version, fields, upcast, setter, tuple_fields, lazy_fields, build, flat, unflat)
    _BY_CLASS[cls] = rec
    _BY_NAME[rec_name] = rec
    _FLAT_BY_NAME[rec_name] = (version, len(fields) + 2, unflat)
    return cls


class _Packed:
    """A field value still in its :func:`dumps` encoding: a lazy field read from a flat batch,
    or a value its writer encoded already (:func:`pack`). A flat batch stores it as it is."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data


class _LazySlot:
    """The class attribute of a lazy field: decodes a :class:`_Packed` slot value on first read
    and keeps the result in the slot (see ``lazy_fields`` in :func:`register`)."""

    __slots__ = ("slot", "__objclass__")

    def __init__(self, slot: Any, owner: type) -> None:
        self.slot = slot
        self.__objclass__ = owner

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        v = self.slot.__get__(obj, owner)
        if v.__class__ is _Packed:
            v = loads(v.data, trusted=True)
            self.slot.__set__(obj, v)
        return v

    def __set__(self, obj: Any, value: Any) -> None:
        self.slot.__set__(obj, value)

    def __delete__(self, obj: Any) -> None:
        self.slot.__delete__(obj)


def _member(cls: type, field: str) -> Any:
    """The member descriptor of slot ``field`` (below any lazy wrapper), or ``None``."""
    for klass in cls.__mro__:
        d = klass.__dict__.get(field)
        if d is not None:
            if type(d) is _LazySlot:
                return d.slot
            return d if type(d) is types.MemberDescriptorType else None
    return None


def _make_lazy(cls: type, field: str) -> None:
    if type(cls.__dict__.get(field)) is _LazySlot:
        return
    slot = _member(cls, field)
    if slot is None:
        raise ArgumentError(f"runic.codec.register({cls.__qualname__}): lazy field {field!r} is not a slot")
    setattr(cls, field, _LazySlot(slot, cls))


def pack(value: Any) -> tuple[Any, int]:
    """``(packed, size)``: ``value`` encoded by :func:`dumps` once, ready to be put in a lazy
    field (see ``lazy_fields`` in :func:`register`), and the size of its encoding. A flat batch
    then stores those bytes without encoding the value again; reading the field decodes them.
    Raises :class:`EncodeError` as :func:`dumps`."""
    data = dumps(value)
    return _Packed(data), len(data)


#: lazy-field values kept as they are in a flat batch (everything else is stored encoded)
_EAGER = frozenset({type(None), bool, int, float, str})


def _slot_setter(cls: type, field: str, setter: Callable[[Any, str, Any], None]) -> Callable[[Any, Any], None]:
    """The fastest way to set ``field`` on a fresh instance of ``cls``: the slot's own member
    descriptor (what a frozen dataclass's ``__init__`` reaches through ``object.__setattr__``,
    without the attribute lookup), else ``setter``."""
    slot = _member(cls, field)
    if slot is not None:
        return slot.__set__  # type: ignore[no-any-return]
    return lambda obj, value: setter(obj, field, value)


def _record_functions(cls: type, name: str, version: int, fields: tuple[str, ...],
                      tuple_fields: tuple[str, ...], lazy_fields: tuple[str, ...],
                      setter: Callable[[Any, str, Any], None]) -> tuple[Callable[[list[Any]], Any], Callable[[Any], list[Any] | None],
                                 Callable[[list[Any]], Any]]:
    """Generate ``build``, ``flat`` and ``unflat`` for a record class (see :class:`_Record`).

    Decision: generated code (one straight-line function per class) rather than loops over
    the field names: a flat batch decodes each event with one call and no per-field lookups,
    ~0.4 µs for a 5-field event against ~1 µs through ``object.__setattr__``."""
    env: dict[str, Any] = {"_new": object.__new__, "_cls": cls, "_name": name, "_ver": version,
                           "_tuple": tuple, "_Packed": _Packed, "_eager": _EAGER, "_bytes": bytes,
                           "_enc": lambda v: _encoders.encoder.dumps(v)}
    for i, f in enumerate(fields):
        env[f"_s{i}"] = _slot_setter(cls, f, setter)
        env[f"_f{i}"] = f
        if f in lazy_fields:
            env[f"_g{i}"] = _member(cls, f).__get__

    def get(i: int, f: str) -> str:
        return f"o.{f}" if f.isidentifier() and not keyword.iskeyword(f) else f"getattr(o, _f{i})"

    build = ["def build(v):", "    o = _new(_cls)"]
    build += [f"    _s{i}(o, v[{i}])" for i in range(len(fields))]
    build.append("    return o")
    flat = ["def flat(o):"]
    items = []
    for i, f in enumerate(fields):
        if f in tuple_fields:
            flat += [f"    t{i} = {get(i, f)}", f"    if t{i} is not None:",
                     f"        if t{i}.__class__ is not _tuple:", "            return None",
                     f"        t{i} = list(t{i})"]
            items.append(f"t{i}")
        elif f in lazy_fields:  # kept encoded (bytes) unless a plain scalar
            flat += [f"    t{i} = _g{i}(o)", f"    if t{i}.__class__ is _Packed:", f"        t{i} = t{i}.data",
                     f"    elif t{i}.__class__ not in _eager:", f"        t{i} = _enc(t{i})"]
            items.append(f"t{i}")
        else:
            items.append(get(i, f))
    flat.append(f"    return [_name, _ver, {', '.join(items)}]" if items else "    return [_name, _ver]")
    unflat = ["def unflat(e):", "    o = _new(_cls)"]
    for i, f in enumerate(fields):
        if f in tuple_fields:
            unflat += [f"    t = e[{i + 2}]", f"    _s{i}(o, None if t is None else _tuple(t))"]
        elif f in lazy_fields:
            unflat += [f"    t = e[{i + 2}]", f"    _s{i}(o, _Packed(t) if t.__class__ is _bytes else t)"]
        else:
            unflat.append(f"    _s{i}(o, e[{i + 2}])")
    unflat.append("    return o")
    exec("\n".join(build + flat + unflat), env)  # noqa: S102 - code generated from field positions
    return env["build"], env["flat"], env["unflat"]


def _check_free_name(rec_name: str, cls: type) -> None:
    existing = _BY_NAME.get(rec_name) or _ENUM_BY_NAME.get(rec_name)
    if existing is not None and existing.cls is not cls:
        raise ArgumentError(f"codec record name {rec_name!r} is already registered for {existing.cls!r}")


def registered() -> dict[str, type]:
    """The record and enum names currently allowed, mapped to their classes."""
    out: dict[str, type] = {name: rec.cls for name, rec in _BY_NAME.items()}
    out.update((name, rec.cls) for name, rec in _ENUM_BY_NAME.items())
    return out


# --------------------------------------------------------------------------- depth

#: every byte that can start an array, map or extension header (see the module docs); their
#: count in an encoding bounds its depth. ``_NOT_HEADER`` is the complement, deleted by
#: ``bytes.translate`` so that the length of what is left is the count.
_NOT_HEADER = bytes(
    b for b in range(256)
    if not (0x80 <= b <= 0x9F or 0xC7 <= b <= 0xC9 or 0xD4 <= b <= 0xD8 or 0xDC <= b <= 0xDF)
)
_SCALARS = frozenset({int, str, float, bool, type(None), bytes})


def _bound(data: bytes) -> int:
    """An upper bound of the nesting depth of the value ``data`` encodes (see module docs)."""
    return len(data.translate(None, _NOT_HEADER))


def _ext_header_bound(n: int) -> int:
    """Header bytes counted by :func:`_bound` in the header of an extension of ``n`` bytes."""
    if n in (1, 2, 4, 8, 16):
        return 1  # fixext: marker byte and type code
    return 1 + _bound(n.to_bytes(1 if n < 256 else 2 if n < 65536 else 4, "big"))


def depth(value: Any, limit: int = MAX_DEPTH) -> int:
    """The nesting depth of ``value`` as the codec counts it (``[1]`` is 1, ``1`` is 0), exact
    up to ``limit + 1``: the walk stops as soon as it knows the value is deeper than ``limit``
    and then answers ``limit + 1``."""
    return min(_depth(value, limit + 1), limit + 1)


def _depth(o: Any, cap: int) -> int:
    """Depth of ``o``; once it is known to reach ``cap``, any number >= ``cap``.

    Containers whose items are all plain scalars are recognised in C (``issuperset`` over
    ``map(type, ...)``), so a long flat list costs one C-level pass, not a Python loop.
    """
    t = type(o)
    if t in _SCALARS:
        return 0
    if cap <= 0:
        return 1
    if t is list or t is tuple or t is set or t is frozenset:
        if _SCALARS.issuperset(map(type, o)):
            return 1
        children: Iterable[Any] = o
    elif t is dict or (isinstance(o, dict) and t not in _BY_CLASS):
        values_flat = _SCALARS.issuperset(map(type, o.values()))
        if _SCALARS.issuperset(map(type, o)):
            if values_flat:
                return 1
            children = o.values()
        else:
            children = o if values_flat else _dict_children(o)
    else:
        rec = _BY_CLASS.get(t)
        if rec is not None:
            children = [getattr(o, f) for f in rec.fields]
        elif t is Fact:
            children = (o.value, o.ancestry, o.meta)
        elif t is FactRef:
            children = (o.ancestry,)
        elif t is ErrorInfo:
            children = (o.type, o.message, o.detail)
        elif isinstance(o, BaseException):
            return 1
        elif isinstance(o, (list, tuple)):
            children = o
        else:  # enum members, dates, Decimal, UUID, sentinels: scalars
            return 0
    best = 0
    below = cap - 1
    scalars = _SCALARS
    for x in children:
        if type(x) not in scalars:
            d = _depth(x, below)
            if d > best:
                best = d
                if best >= below:
                    break
    return best + 1


def _dict_children(d: dict[Any, Any]) -> Iterator[Any]:
    for k, v in d.items():
        yield k
        yield v


# --------------------------------------------------------------------------- encoding

#: from this extension level on, contents that hold containers trigger one exact depth check
#: of the whole value before they are packed: msgpack's C packer recurses once per list/dict
#: level (up to 511 levels, ~400 bytes of C stack each), so many extension levels of deep
#: lists would pile that up. Events are two levels deep (a record holding a tuple of ints), so
#: they never pay for it.
_CHECK_FROM_LEVEL = 2


def _has_container(items: Iterable[Any]) -> bool:
    scalars = _SCALARS
    for x in items:
        if type(x) not in scalars:
            return True
    return False


class _Encoder:
    """Per-thread encoder state; everything :func:`dumps` does runs in the caller's thread.

    Its packers call back the bound method ``default``, so the hot path reads plain slots,
    never the thread-local.

    * ``packers``: one reusable ``Packer`` per extension level (records and tuples pack their
      contents from inside ``default``; ``msgpack.packb`` called there costs ~10x a reused one);
    * ``depth``: the extension level being packed now (0: outside :func:`dumps`);
    * ``root``: the value given to the outermost :func:`dumps` while its depth is unverified
      (``None`` once verified);
    * ``track``/``inner``/``widest``: for a list, tuple or dict at the top, the header bytes
      inside its first-level extension values and the largest depth bound among them, so that
      a list of many records (a saved log) is bounded without a walk.
    """

    __slots__ = ("packers", "depth", "root", "track", "inner", "widest", "default")

    def __init__(self) -> None:
        self.packers: list[msgpack.Packer] = []
        self.depth = 0
        self.root: Any = None
        self.track = False
        self.inner = 0
        self.widest = 0
        self.default = self._default

    def dumps(self, obj: Any) -> bytes:
        if self.depth:  # called again from inside an encoding (a record's property, say)
            return self.guarded(obj)
        t = type(obj)
        self.root = obj
        track = self.track = t is list or t is dict or t is tuple
        if track:
            self.inner = self.widest = 0
        try:
            out = self.guarded(obj)
            if len(out) > MAX_DEPTH and self.root is not None:
                b = _bound(out)
                if b > MAX_DEPTH and (not track or b - self.inner + self.widest > MAX_DEPTH):
                    if _depth(obj, MAX_DEPTH + 1) > MAX_DEPTH:
                        raise NestingError(_too_deep_message("the value"))
            return out
        finally:
            self.root = None
            self.track = False

    def guarded(self, obj: Any) -> bytes:
        try:
            return self.pack(obj)
        except EncodeError:
            raise
        except RecursionError as exc:
            raise NestingError(_too_deep_message("the value")) from exc
        except ValueError as exc:
            if "recursion limit" in str(exc):  # msgpack's own limit on nested lists/dicts (511)
                raise NestingError(_too_deep_message("the value")) from exc
            raise EncodeError(f"cannot encode value: {exc}") from exc
        except (TypeError, OverflowError) as exc:
            raise EncodeError(f"cannot encode value: {exc}") from exc

    def pack(self, obj: Any) -> bytes:
        level = self.depth
        if level > MAX_DEPTH:  # a safety net: the exact check in payload() catches this first
            raise NestingError(_too_deep_message("the value"))
        packers = self.packers
        if level == len(packers):
            packers.append(msgpack.Packer(default=self.default, use_bin_type=True, strict_types=True))
        packer = packers[level]
        self.depth = level + 1
        try:
            packed: bytes = packer.pack(obj)
            return packed
        except BaseException:
            packer.reset()
            raise
        finally:
            self.depth = level

    def payload(self, items: Any, scan: Iterable[Any]) -> bytes:
        """Pack the contents of an extension value (``scan``: its child values).

        From the second extension level on, if the contents hold containers, the whole value's
        depth is checked once first (see ``_CHECK_FROM_LEVEL``). At the first level under a
        list/dict/tuple top, the payload's depth bound is recorded (see the class docs).
        """
        level = self.depth
        if level >= _CHECK_FROM_LEVEL:
            root = self.root
            if root is not None and _has_container(scan):
                self.root = None
                if _depth(root, MAX_DEPTH + 1) > MAX_DEPTH:
                    raise NestingError(_too_deep_message("the value"))
            return self.pack(items)
        data = self.pack(items)
        if self.track and level == 1:
            b = _bound(data)
            self.inner += _ext_header_bound(len(data)) + b
            if b > self.widest:
                self.widest = b
        return data

    def _default(self, obj: Any) -> Any:
        t = type(obj)
        rec = _BY_CLASS.get(t)
        if rec is not None:
            values = [getattr(obj, f) for f in rec.fields]
            return msgpack.ExtType(_EXT_RECORD, self.payload([rec.name, rec.version, values], values))
        if t is tuple:
            return msgpack.ExtType(_EXT_TUPLE, self.payload(list(obj), obj))
        if t is Fact:
            items = [obj.value, obj.ancestry, obj.hash, obj.meta]
            return msgpack.ExtType(_EXT_FACT, self.payload(items, items))
        if t is FactRef:
            items = [obj.hash, obj.ancestry]
            return msgpack.ExtType(_EXT_FACTREF, self.payload(items, items))
        if t is set or t is frozenset:
            code = _EXT_SET if t is set else _EXT_FROZENSET
            return msgpack.ExtType(code, self.payload(list(obj), obj))
        if t is int:  # only reached when it does not fit in 64 bits
            return msgpack.ExtType(_EXT_BIGINT, str(obj).encode())
        if t is Sentinel:
            return msgpack.ExtType(_EXT_SENTINEL, obj.name.encode())
        if t is ErrorInfo:
            items = [obj.type, obj.message, obj.detail]
            return msgpack.ExtType(_EXT_ERROR, self.payload(items, items))
        if t is _dt.datetime:
            return msgpack.ExtType(_EXT_DATETIME, obj.isoformat().encode())
        if t is _dt.date:
            return msgpack.ExtType(_EXT_DATE, obj.isoformat().encode())
        if t is _dt.time:
            return msgpack.ExtType(_EXT_TIME, obj.isoformat().encode())
        if t is _dt.timedelta:
            return msgpack.ExtType(_EXT_TIMEDELTA, self.pack([obj.days, obj.seconds, obj.microseconds]))
        if t is decimal.Decimal:
            return msgpack.ExtType(_EXT_DECIMAL, str(obj).encode())
        if t is uuid.UUID:
            return msgpack.ExtType(_EXT_UUID, obj.bytes)
        if isinstance(obj, enum.Enum):
            return self.enum(obj, t)
        if isinstance(obj, BaseException):
            return self._default(ErrorInfo.from_exception(obj))
        for base in (bool, int, float, str, bytes, dict, list, tuple):
            if isinstance(obj, base):
                return cast(Any, base)(obj)
        raise EncodeError(
            f"cannot encode a value of type {t.__module__}.{t.__qualname__}: runic stores only "
            "msgpack types, tuples, sets, dates, Decimal, UUID, facts, registered records and "
            "registered enums. Convert the value to one of those, or allow the type with "
            f"runic.codec.register({t.__qualname__})"
        )

    def enum(self, member: enum.Enum, t: type) -> msgpack.ExtType:
        erec = _ENUM_BY_CLASS.get(t)
        if erec is None:
            kind = next((b.__name__ for b in (enum.IntFlag, enum.Flag, enum.IntEnum, enum.StrEnum)
                         if isinstance(member, b)), "Enum")
            raise EncodeError(
                f"cannot encode {member!r}: its enum class {t.__module__}.{t.__qualname__} is "
                f"not registered with runic.codec, and an unregistered {kind} member would come "
                "back as a plain value, no longer the member. Register the class once, at "
                "import time, in every process that writes or reads it: "
                f"runic.codec.register({t.__qualname__})"
            )
        key: Any = member.value if isinstance(member, enum.Flag) else member.name
        return msgpack.ExtType(_EXT_ENUM, self.pack([erec.name, key]))


class _Encoders(threading.local):
    def __init__(self) -> None:
        self.encoder = _Encoder()


_encoders = _Encoders()


def dumps(obj: Any) -> bytes:
    """Encode ``obj`` as msgpack bytes.

    Raises :class:`EncodeError` for types not allowed, and :class:`NestingError` (an
    ``EncodeError``) for values nested more than :data:`MAX_DEPTH` levels.
    """
    return _encoders.encoder.dumps(obj)


# --------------------------------------------------------------------------- decoding

_unpackb = msgpack.unpackb


class _Pending:
    """Stands for an extension value whose payload is not decoded yet (see the module docs)."""

    __slots__ = ("code", "data")

    def __init__(self, code: int, data: bytes) -> None:
        self.code = code
        self.data = data


#: extension codes whose payload is itself msgpack
_NESTED = frozenset({_EXT_TUPLE, _EXT_SET, _EXT_FROZENSET, _EXT_RECORD, _EXT_TIMEDELTA,
                     _EXT_FACT, _EXT_FACTREF, _EXT_ERROR, _EXT_ENUM})
#: extension codes that are a nesting level (timedelta and enum payloads are scalars)
_LEVEL = _NESTED - {_EXT_TIMEDELTA, _EXT_ENUM}

#: at most this many ``msgpack.unpackb`` calls are active at once (~40 KiB of C stack each):
#: a record holding a tuple holding a value decodes in one go; deeper ones are decoded in turns
_MAX_ACTIVE = 3


def _leaf(code: int, data: bytes) -> Any:
    """Decode an extension value whose payload is raw bytes (never msgpack)."""
    if code == _EXT_BIGINT:
        return int(data.decode())
    if code == _EXT_SENTINEL:
        name = data.decode()
        if name not in Sentinel._registry:
            raise DecodeError(f"unknown sentinel {name!r}")
        return Sentinel._registry[name]
    if code == _EXT_DATETIME:
        return _dt.datetime.fromisoformat(data.decode())
    if code == _EXT_DATE:
        return _dt.date.fromisoformat(data.decode())
    if code == _EXT_TIME:
        return _dt.time.fromisoformat(data.decode())
    if code == _EXT_DECIMAL:
        return decimal.Decimal(data.decode())
    if code == _EXT_UUID:
        return uuid.UUID(bytes=data)
    raise DecodeError(f"unknown msgpack extension code {code}")


_NOT_PLAIN = object()


def _plain_record(items: list[Any]) -> Any:
    """The record a payload of the current version with the right field count stands for, or
    ``_NOT_PLAIN`` (the hooks then take the general path, :meth:`_Decoder._record`)."""
    if len(items) == 3:
        name, version, values = items
        rec = _BY_NAME.get(name) if type(name) is str else None
        if (rec is not None and type(version) is int and version == rec.version
                and type(values) is list and len(values) == len(rec.fields)):
            return rec.build(values)  # type: ignore[misc]
    return _NOT_PLAIN


class _Decoder:
    """Decodes with at most ``_MAX_ACTIVE`` (3) nested ``msgpack.unpackb`` calls; one per thread.

    The nesting is bounded by construction, with one extension hook per level: ``hook1``
    (extension values of the top level) decodes their payloads right away with ``hook2`` as
    their hook; ``hook2`` decodes with ``hook3``; ``hook3`` never decodes, it returns a
    :class:`_Pending` placeholder. Once its ``unpackb`` returned, ``hook2`` resolves those
    placeholders one after the other (:meth:`_substitute`), each with one more ``unpackb``
    whose hook is ``hook3`` again: plain Python recursion, using no C stack, that refuses more
    than :data:`MAX_DEPTH` levels. ``created`` counts the placeholders not resolved yet: its
    growth across one ``unpackb`` is how many that payload holds.

    ``track_hook`` replaces ``hook1`` while a large list or dict is decoded: it also adds up,
    in ``inner``/``widest``, the header bytes inside each first-level extension value and the
    largest depth bound among them (the decoder's side of the encoder's bound for saved logs).
    """

    __slots__ = ("created", "inner", "widest", "hook1", "hook2", "hook3", "track_hook")

    def __init__(self) -> None:
        self.created = 0
        self.inner = 0
        self.widest = 0
        self.hook3 = self._hook3
        self.hook2 = self._hook2
        self.hook1 = self._hook1
        self.track_hook = self._track_hook

    def _hook3(self, code: int, data: bytes) -> Any:
        if code in _NESTED:
            self.created += 1
            return _Pending(code, data)
        return _leaf(code, data)

    def _hook2(self, code: int, data: bytes) -> Any:
        if code not in _NESTED:
            return _leaf(code, data)
        before = self.created
        items = _unpackb(data, ext_hook=self.hook3, raw=False, strict_map_key=False)
        pending = self.created - before
        if not pending and type(items) is list:  # the common cases, inline
            if code == _EXT_TUPLE:
                return tuple(items)
            if code == _EXT_RECORD:
                obj = _plain_record(items)
                if obj is not _NOT_PLAIN:
                    return obj
        return self._finish(code, items, pending, 2)

    def _hook1(self, code: int, data: bytes) -> Any:
        if code not in _NESTED:
            return _leaf(code, data)
        items = _unpackb(data, ext_hook=self.hook2, raw=False, strict_map_key=False)
        if type(items) is list:  # hook2 resolved every placeholder below: nothing is pending
            if code == _EXT_RECORD:
                obj = _plain_record(items)
                if obj is not _NOT_PLAIN:
                    return obj
            elif code == _EXT_TUPLE:
                return tuple(items)
        return self._finish(code, items, 0, 1)

    def _track_hook(self, code: int, data: bytes) -> Any:
        if code in _NESTED:
            b = _bound(data)
            self.inner += _ext_header_bound(len(data)) + b
            if b > self.widest:
                self.widest = b
        return self._hook1(code, data)

    def _resolve(self, p: _Pending, level: int) -> Any:
        """Decode a placeholder for an extension value at extension level ``level``; runs
        between ``unpackb`` calls (at most two are active), with ``hook3``."""
        if level > MAX_DEPTH and p.code in _LEVEL:
            raise DecodeError(_too_deep_message("the encoded value"))
        before = self.created
        items = _unpackb(p.data, ext_hook=self.hook3, raw=False, strict_map_key=False)
        return self._finish(p.code, items, self.created - before, level)

    def _finish(self, code: int, items: Any, pending: int, level: int) -> Any:
        """Build extension value ``code`` (at extension level ``level``) from its decoded
        payload ``items``, resolving its ``pending`` placeholders first."""
        if type(items) is not list:
            raise DecodeError(f"malformed extension value (code {code}): not a list")
        if pending:
            if code == _EXT_TIMEDELTA or code == _EXT_ENUM:
                raise DecodeError(f"malformed extension value (code {code})")
            if code == _EXT_RECORD:
                if len(items) != 3 or type(items[2]) is not list:
                    raise DecodeError("malformed record")
                self._substitute(items[2], pending, level + 1)
                if type(items[0]) is _Pending or type(items[1]) is _Pending:
                    raise DecodeError("malformed record")
            else:
                self._substitute(items, pending, level + 1)
        if code == _EXT_RECORD:
            return self._record(items)
        if code == _EXT_TUPLE:
            return tuple(items)
        if code == _EXT_FACT:
            value, ancestry, h, meta = items
            return Fact(value, ancestry, h, meta)
        if code == _EXT_FACTREF:
            h, ancestry = items
            return FactRef(h, ancestry)
        if code == _EXT_SET:
            return set(items)
        if code == _EXT_FROZENSET:
            return frozenset(items)
        if code == _EXT_ERROR:
            t, m, d = items
            return ErrorInfo(t, m, d)
        if code == _EXT_TIMEDELTA:
            days, seconds, micros = items
            return _dt.timedelta(days=days, seconds=seconds, microseconds=micros)
        return self._enum(items)

    def _substitute(self, items: list[Any], pending: int, level: int) -> None:
        """Resolve, in place, the ``pending`` placeholders among ``items`` and inside their
        lists and dicts; the extension values they stand for are at extension level ``level``.
        Direct items come first (usually every placeholder is there)."""
        left = pending
        for i, x in enumerate(items):
            if type(x) is _Pending:
                self.created -= 1
                left -= 1
                items[i] = self._resolve(x, level)
        if left:
            stack: list[Any] = [items]
            while stack and left:
                node = stack.pop()
                is_list = type(node) is list
                pending_keys = [] if is_list else [k for k in node if type(k) is _Pending]
                for slot, x in (enumerate(node) if is_list else node.items()):
                    tx = type(x)
                    if tx is _Pending:
                        self.created -= 1
                        left -= 1
                        node[slot] = self._resolve(x, level)
                    elif tx is list or tx is dict:
                        stack.append(x)
                if pending_keys:  # rebuild in place, keeping the order of the keys
                    self.created -= len(pending_keys)
                    left -= len(pending_keys)
                    rebuilt = [(self._resolve(k, level) if type(k) is _Pending else k, v)
                               for k, v in node.items()]
                    node.clear()
                    node.update(rebuilt)
        if left:
            raise DecodeError("malformed extension value: a nested value could not be placed")

    @staticmethod
    def _record(payload: list[Any]) -> Any:
        if len(payload) != 3 or type(payload[0]) is not str:
            raise DecodeError("malformed record")
        name, version, values = payload
        rec = _BY_NAME.get(name)
        if rec is None:
            raise DecodeError(
                f"unknown record type {name!r}: it is not registered with runic.codec "
                "(import the module that registers it, or register the class)"
            )
        if type(values) is not list or type(version) is not int:
            raise DecodeError(f"malformed record {name!r}")
        if version != rec.version:
            if version > rec.version:
                raise DecodeError(
                    f"record {name!r} was written by a newer version ({version} > {rec.version}); "
                    "upgrade runic to read it"
                )
            if rec.upcast is None:
                raise DecodeError(f"record {name!r} version {version} has no upcaster to {rec.version}")
            values = rec.upcast(version, values)  # application code (it may call loads)
        if len(values) != len(rec.fields):
            raise DecodeError(
                f"record {name!r} has {len(values)} fields, expected {len(rec.fields)}"
            )
        return rec.build(values)  # type: ignore[misc]

    @staticmethod
    def _enum(items: list[Any]) -> Any:
        if len(items) != 2 or type(items[0]) is not str:
            raise DecodeError("malformed enum member")
        name, key = items
        erec = _ENUM_BY_NAME.get(name)
        if erec is None:
            raise DecodeError(
                f"unknown enum type {name!r}: it is not registered with runic.codec "
                "(import the module that registers it, or register the class)"
            )
        try:
            if issubclass(erec.cls, enum.Flag):
                return erec.cls(key)
            return erec.cls[key]  # type: ignore[index]
        except (KeyError, ValueError, TypeError):
            raise DecodeError(
                f"enum {name!r} has no member {key!r} (it was renamed or removed since the "
                "data was written)"
            ) from None

    def decode_large(self, data: bytes) -> Any:
        """Decode an encoding of more than ``MAX_DEPTH`` bytes and check its depth: by the
        header-byte bound when it suffices, else by walking the result."""
        top = data[0]
        track = 0x80 <= top <= 0x9F or 0xDC <= top <= 0xDF  # a list or dict
        if track:
            outer = self.inner, self.widest  # (a loads from an upcast function runs inside)
            self.inner = self.widest = 0
            try:
                value = _unpackb(data, ext_hook=self.track_hook, raw=False, strict_map_key=False)
                inner, widest = self.inner, self.widest
            finally:
                self.inner, self.widest = outer
        else:
            value = _unpackb(data, ext_hook=self.hook1, raw=False, strict_map_key=False)
            inner = widest = 0
        b = _bound(data)
        if b > MAX_DEPTH and (not track or b - inner + widest > MAX_DEPTH):
            if _depth(value, MAX_DEPTH + 1) > MAX_DEPTH:
                raise DecodeError(_too_deep_message("the encoded value"))
        return value


class _Decoders(threading.local):
    def __init__(self) -> None:
        self.decoder = _Decoder()


_decoders = _Decoders()


def loads(data: bytes | bytearray | memoryview, *, trusted: bool = False) -> Any:
    """Decode bytes made by :func:`dumps`; raise :class:`DecodeError` for anything else,
    including values nested more than :data:`MAX_DEPTH` levels.

    ``trusted=True`` says the bytes are known to be what :func:`dumps` wrote (a store checks
    each row against its checksum first): the full depth check of large encodings — a walk of
    the result when the header-byte bound is not enough — is skipped, since :func:`dumps`
    never writes a value deeper than the limit. Everything else holds for any input: at most
    three ``unpackb`` calls nest, and more than :data:`MAX_DEPTH` levels of tuples, sets,
    records and facts are refused.
    """
    try:
        if type(data) is not bytes:
            data = bytes(data)
        if len(data) > MAX_DEPTH and not trusted:
            return _decoders.decoder.decode_large(data)
        # too short to be too deep, or trusted: decode right away (the hot path)
        return _unpackb(data, ext_hook=_decoders.decoder.hook1, raw=False, strict_map_key=False)
    except DecodeError:
        raise
    except msgpack.exceptions.StackError as exc:
        raise DecodeError(_too_deep_message("the encoded value")) from exc
    except RecursionError as exc:  # the caller was close to Python's recursion limit
        raise DecodeError(
            f"the encoded value is too deep to decode this close to Python's recursion limit "
            f"({exc})"
        ) from exc
    except Exception as exc:  # msgpack raises many types for garbage input
        raise DecodeError(f"not a valid runic encoding ({type(exc).__name__}: {exc})") from exc


# --------------------------------------------------------------------------- flat batches

def _array_header(n: int) -> bytes:
    if n < 16:
        return bytes((0x90 | n,))
    if n < 0x10000:
        return b"\xdc" + n.to_bytes(2, "big")
    return b"\xdd" + n.to_bytes(4, "big")


def dumps_batch(items: Iterable[Any]) -> bytes:
    """Encode a sequence of values (a cycle's events) as one *flat batch*: the form a store row
    holds since store schema 3.

    The batch is a msgpack array with one entry per item:

    * a registered record (every runic event) is the array ``[name, version, *fields]``,
      its declared ``tuple_fields`` as plain arrays (see :func:`register`); the field values
      are encoded as by :func:`dumps`;
    * any other value — or a record whose declared tuple field holds something else — is a
      msgpack ``bin`` holding its :func:`dumps` encoding.

    Each entry is encoded, and its depth checked, exactly as :func:`dumps` encodes that value
    on its own, so a batch holds what :func:`dumps` accepts, nothing more. Why flat: decoding a
    record costs one ``unpackb`` for the whole batch and one generated constructor per event,
    instead of two nested ``unpackb`` calls, two extension hooks and a ``setattr`` per field
    (measured: 3-5 µs → ~1 µs per event). Raises :class:`EncodeError` as :func:`dumps`.
    """
    by_class = _BY_CLASS
    encode = _encoders.encoder.dumps
    entries: list[Any] = []
    for x in items:
        rec = by_class.get(x.__class__)
        entry = rec.flat(x) if rec is not None else None  # type: ignore[misc]
        entries.append(entry if entry is not None else encode(x))  # bytes: that value encoded alone
    # The fast path: entries of msgpack's own types only (every runic event in the hot path)
    # pack in one C call; their depth is then checked per item as dumps() would. Anything else
    # (a tuple, a record, a set in a field...) takes the general path: one dumps() per entry.
    try:
        out: bytes = _plain_pack(entries)
    except (TypeError, ValueError, OverflowError):
        parts = [e if type(e) is bytes else encode(e) for e in entries]
        return _array_header(len(parts)) + b"".join(_pack_bin(p) if type(e) is bytes else p
                                                   for p, e in zip(parts, entries))
    if len(out) > MAX_DEPTH and _bound(out) > MAX_DEPTH:
        for x, e in zip(items if type(items) is list else list(items), entries):
            if type(e) is not bytes and _depth(x, MAX_DEPTH + 1) > MAX_DEPTH:
                raise NestingError(_too_deep_message("the value"))
    return out


_pack_bin = msgpack.Packer(use_bin_type=True).pack


class _PlainPackers(threading.local):
    def __init__(self) -> None:
        self.packer = msgpack.Packer(use_bin_type=True, strict_types=True)


_plain_packers = _PlainPackers()


def _plain_pack(obj: Any) -> bytes:
    """``obj`` packed by msgpack alone (no extension types; one reused packer per thread);
    raises ``TypeError`` for any other type."""
    packer = _plain_packers.packer
    try:
        return packer.pack(obj)  # type: ignore[no-any-return]
    except BaseException:
        packer.reset()
        raise


def loads_batch(data: bytes | bytearray | memoryview, *, trusted: bool = False) -> list[Any]:
    """Decode a flat batch made by :func:`dumps_batch` into the list of its values.

    Entries of an older record version go through the record's ``upcast``, as in
    :func:`loads`. ``trusted=True`` (bytes verified against a checksum, as the stores do) skips
    the exact depth check of large batches; the decoding itself never nests more than three
    ``unpackb`` calls either way. Raises :class:`DecodeError` for anything that is not a batch.
    """
    try:
        if type(data) is not bytes:
            data = bytes(data)
        decoder = _decoders.decoder
        entries = _unpackb(data, ext_hook=decoder.hook1, raw=False, strict_map_key=False)
        if type(entries) is not list:
            raise DecodeError("not a flat batch (expected an array of entries)")
        out: list[Any] = []
        append = out.append
        flat_by_name = _FLAT_BY_NAME
        for e in entries:
            te = type(e)
            if te is list:
                f = flat_by_name.get(e[0]) if e else None  # (an unhashable e[0]: malformed, below)
                if f is not None and len(e) == f[1] and e[1] == f[0] and type(e[0]) is str:
                    append(f[2](e))
                else:
                    append(_flat_record(e))
            elif te is bytes:
                append(loads(e, trusted=trusted))
            else:
                raise DecodeError(f"malformed flat batch entry of type {te.__name__}")
        if not trusted and len(data) > MAX_DEPTH and _bound(data) > MAX_DEPTH:
            for x in out:
                if _depth(x, MAX_DEPTH + 1) > MAX_DEPTH:
                    raise DecodeError(_too_deep_message("the encoded value"))
        return out
    except DecodeError:
        raise
    except msgpack.exceptions.StackError as exc:
        raise DecodeError(_too_deep_message("the encoded value")) from exc
    except RecursionError as exc:
        raise DecodeError(f"the encoded batch is too deep to decode here ({exc})") from exc
    except Exception as exc:  # msgpack raises many types for garbage input
        raise DecodeError(f"not a valid runic batch ({type(exc).__name__}: {exc})") from exc


def _flat_record(e: list[Any]) -> Any:
    """A flat record entry that is not of its record's current version (or is malformed): the
    general path, with the record's ``upcast`` (tuple fields turned back into tuples first)."""
    if len(e) < 2 or type(e[0]) is not str:
        raise DecodeError("malformed flat batch entry")
    name, version, values = e[0], e[1], e[2:]
    rec = _BY_NAME.get(name)
    if rec is not None and version == rec.version and (rec.tuple_fields or rec.lazy_fields):
        for i, f in enumerate(rec.fields[:len(values)]):
            if f in rec.tuple_fields and type(values[i]) is list:
                values[i] = tuple(values[i])
            elif f in rec.lazy_fields and type(values[i]) is bytes:
                values[i] = loads(values[i], trusted=True)
    return _Decoder._record([name, version, values])
