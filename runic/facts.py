"""Facts: the immutable values that flow through a workflow.

A :class:`Fact` holds a value, a stable content ``hash`` and its ``ancestry``:
``None`` for an external input, else ``(producer_node_hash, parent_fact_hash)``. The hash
defaults to the content hash of ``(value, ancestry)``, so feeding the same raw value twice gives
the same input fact and a deterministic step then gives the same output fact (memory is a set,
not a log), while the same value produced by two different producers gives two facts.

A :class:`FactRef` is a value-less stand-in (lean replay: the value lives in the store's fact
table). Its hash equals the fact's, so swapping one for the other never touches graph edges.

Two sentinels stand where ``None`` would be ambiguous: :data:`NOTHING` ("no input") and
:data:`STRIPPED` ("the value was moved to the fact table").

Hash versions. The 64-bit digest of a fact's canonical bytes has two versions:

* **1**: BLAKE2b truncated to 64 bits (every log written before hash versions existed);
* **2**: xxh3-64 (the ``xxhash`` package), ~0.5 µs less per fact.

A fact hash is an identity that lives in a workflow's log: feeding the same input again must
give the same input fact, also after a restart. So the version belongs to the *workflow*, not to
the process: the Runner records it in the log when it starts a workflow (the annotation
:data:`HASH_VERSION_KEY`, version :data:`LATEST_HASH_VERSION`), reads it back when it resumes
one (a log without it is version 1, and keeps BLAKE2b for ever), and sets it — per thread,
:func:`set_hash_version` — wherever that workflow's facts are made (planning an input, running
a step, applying a result). Outside the Runner (a workflow run in this process), version 1 is
used unless the thread says otherwise. Replay never hashes: the hashes are read from the log.
Which thread runs what: the version is a thread-local; setting it costs one attribute write.
"""

from __future__ import annotations

import struct
import threading
from hashlib import blake2b
from typing import Any, Callable

from .hashing import canonical_bytes

__all__ = ["Fact", "FactRef", "NOTHING", "STRIPPED", "Sentinel", "fact_hash", "has_value", "to_ref",
           "HASH_VERSIONS", "LATEST_HASH_VERSION", "HASH_VERSION_KEY", "hash_version", "set_hash_version"]


class Sentinel:
    """A named singleton that survives pickling and the codec with its identity intact."""

    __slots__ = ("name",)
    name: str
    _registry: dict[str, "Sentinel"] = {}

    def __new__(cls, name: str) -> "Sentinel":
        existing = cls._registry.get(name)
        if existing is not None:
            return existing
        self = super().__new__(cls)
        self.name = name
        cls._registry[name] = self
        return self

    def __repr__(self) -> str:
        return f"runic.{self.name}"

    def __reduce__(self) -> tuple[Any, ...]:
        return (Sentinel, (self.name,))

    def __bool__(self) -> bool:
        return False

    def __runic_canonical__(self) -> str:
        return self.name


NOTHING = Sentinel("NOTHING")
"""Marks "no input" (``None`` is a legitimate input value)."""

STRIPPED = Sentinel("STRIPPED")
"""Marks a ``FactProduced`` value that was moved to the store's fact table."""


_pack_pair = struct.Struct(">QQ").pack


def _blake2b_64(data: bytes) -> int:
    return int.from_bytes(blake2b(data, digest_size=8).digest(), "big")


_xxh3_64: Callable[[bytes], int] | None
try:
    from xxhash import xxh3_64_intdigest as _xxh3_64
except ImportError:  # pragma: no cover - a declared dependency; without it, version 1 only
    _xxh3_64 = None

#: hash version -> the 64-bit digest of a fact's bytes (see the module docs)
HASH_VERSIONS: dict[int, Callable[[bytes], int]] = {1: _blake2b_64}
if _xxh3_64 is not None:
    HASH_VERSIONS[2] = _xxh3_64

LATEST_HASH_VERSION: int = max(HASH_VERSIONS)
"""The version the Runner records for workflows it starts."""

HASH_VERSION_KEY = "runic.hash_version"
"""The workflow annotation (a ``WorkflowAnnotated`` event in the log) holding its hash version."""


class _Hashing(threading.local):
    version = 1
    digest: Callable[[bytes], int] = staticmethod(_blake2b_64)


_hashing = _Hashing()


def hash_version() -> int:
    """The hash version facts made on this thread use now."""
    return _hashing.version


def set_hash_version(version: int) -> int:
    """Make facts created on this thread from now on use hash ``version``; return the previous
    one. Raises ``ValueError`` for a version this runic does not have (a log written by a newer
    runic: upgrade to continue it)."""
    digest = HASH_VERSIONS.get(version)
    if digest is None:
        raise ValueError(
            f"fact hash version {version!r} is not known to this runic (it knows {sorted(HASH_VERSIONS)}); "
            "the workflow was written by a newer runic: upgrade runic to continue it"
        )
    h = _hashing
    previous = h.version
    if previous != version:
        h.version = version
        h.digest = digest
    return previous


def fact_hash(value: Any, ancestry: tuple[int, int] | None, version: int | None = None) -> int:
    """The default content hash of a fact: hash of ``(value, ancestry)``, with hash ``version``
    (default: this thread's, see :func:`set_hash_version`)."""
    if ancestry is None:
        data = canonical_bytes(value) + b"\xc0"
    else:
        data = canonical_bytes(value) + _pack_pair(ancestry[0], ancestry[1])
    digest = _hashing.digest if version is None else HASH_VERSIONS[version]
    return digest(data)


class Fact:
    """An immutable value with a stable content hash and its causal ancestry."""

    __slots__ = ("value", "hash", "ancestry", "meta")

    def __init__(
        self,
        value: Any,
        ancestry: tuple[int, int] | None = None,
        hash: int | None = None,  # noqa: A002 - the spec's field name
        meta: dict[Any, Any] | None = None,
    ) -> None:
        self.value = value
        self.ancestry = ancestry
        if hash is None:  # fact_hash(), inlined: this runs once per produced value
            if ancestry is None:
                data = canonical_bytes(value) + b"\xc0"
            else:
                data = canonical_bytes(value) + _pack_pair(ancestry[0], ancestry[1])
            hash = _hashing.digest(data)  # noqa: A001 - this thread's hash version
        self.hash = hash
        self.meta = meta

    def __repr__(self) -> str:
        return f"Fact({self.value!r}, hash={self.hash:#x})"

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not Fact:
            return NotImplemented
        return self.hash == other.hash and self.ancestry == other.ancestry and self.value == other.value

    def __hash__(self) -> int:
        return self.hash

    def __reduce__(self) -> tuple[Any, ...]:
        return (Fact, (self.value, self.ancestry, self.hash, self.meta))

    @property
    def is_ref(self) -> bool:
        return False


class FactRef:
    """A value-less reference to a fact (same hash and ancestry as the fact it stands for)."""

    __slots__ = ("hash", "ancestry")

    def __init__(self, hash: int, ancestry: tuple[int, int] | None = None) -> None:  # noqa: A002
        self.hash = hash
        self.ancestry = ancestry

    def __repr__(self) -> str:
        return f"FactRef(hash={self.hash:#x})"

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not FactRef:
            return NotImplemented
        return self.hash == other.hash and self.ancestry == other.ancestry

    def __hash__(self) -> int:
        return self.hash

    def __reduce__(self) -> tuple[Any, ...]:
        return (FactRef, (self.hash, self.ancestry))

    @property
    def is_ref(self) -> bool:
        return True


def has_value(x: object) -> bool:
    """True only for a :class:`Fact` whose value is not ``None``/stripped."""
    return isinstance(x, Fact) and x.__class__ is Fact and x.value is not None and x.value is not STRIPPED


def to_ref(fact: Fact | FactRef) -> FactRef:
    """Drop a fact's value, keeping its hash and ancestry."""
    if fact.__class__ is FactRef:
        return fact
    return FactRef(fact.hash, fact.ancestry)
