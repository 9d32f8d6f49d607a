"""Row checksums: what makes a flipped bit in a store an error instead of different data.

Every stored value row carries a CRC-32 (``zlib.crc32``, ~1 GB/s in C) computed when it is
written and verified before its bytes are decoded (see :class:`runic.store.base.BaseStore`).
CRC-32 detects every error of up to 3 bits in rows this size and every burst of up to 32 bits,
and misses a random change with probability 2**-32; it guards against damage, not against a
forger (an attacker who can write the file can also fix the checksum).

Each checksum also covers the row's identity, so a row whose key was damaged does not pass as
another row: the workflow key (``seed``) for events, counters, logs and snapshots, the fact hash
for fact values, the cursor for snapshots, and for an event row (schema 3: one row per append,
holding that append's events) its first sequence number and its event count, so a damaged
sequence number or count is caught like damaged bytes (:func:`row_crc`).

Decision: the checksum is computed in :class:`~runic.store.base.BaseStore`, stored by the
adapter in a column next to the bytes, and verified in the base class, so every adapter
(memory, SQLite, later PostgreSQL) protects its rows the same way.
"""

from __future__ import annotations

import struct
import zlib
from typing import Any

__all__ = ["key_seed", "blob_crc", "count_crc", "fact_crc", "snapshot_crc", "row_crc"]

_crc32 = zlib.crc32
_seq_n = struct.Struct(">QI").pack


def key_seed(key: Any) -> int:
    """The checksum seed of a workflow key (a ``str`` id, or the codec bytes of another id)."""
    if type(key) is str:
        return _crc32(key.encode("utf-8", "surrogatepass"), 0x5354)  # "ST"
    return _crc32(key, 0x4259)  # "BY"


def blob_crc(blob: bytes, seed: int) -> int:
    """Checksum of an event or log ``blob`` of the workflow whose key has ``seed``."""
    return _crc32(blob, seed)


def count_crc(count: int, seed: int) -> int:
    """Checksum of the event counter ``count`` of the workflow whose key has ``seed``."""
    return _crc32(count.to_bytes(8, "big"), seed)


def fact_crc(fact_hash: int, blob: bytes) -> int:
    """Checksum of the stored value ``blob`` of fact ``fact_hash`` (an int in [0, 2**64))."""
    return _crc32(blob, _crc32(fact_hash.to_bytes(8, "big")))


def snapshot_crc(cursor: int, blob: bytes, seed: int) -> int:
    """Checksum of a snapshot taken at ``cursor`` of the workflow whose key has ``seed``."""
    return _crc32(blob, _crc32(cursor.to_bytes(8, "big"), seed))


def row_crc(seq: int, n: int, blob: bytes, seed: int) -> int:
    """Checksum of an event row: ``blob`` holds ``n`` events from sequence number ``seq`` on (a
    flat batch), or ``n`` is 0 and it holds the one event ``seq`` encoded alone (a row written
    before schema 3), of the workflow whose key has ``seed``."""
    return _crc32(blob, _crc32(_seq_n(seq, n), seed))
