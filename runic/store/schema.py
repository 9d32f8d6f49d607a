"""The table layout of MnesiaStore files, and the migrations between its versions.

A store file records its layout version in ``runic_meta`` (``schema_version``) and in SQLite's
``PRAGMA user_version``. Opening an older file upgrades it in place, in the same transaction
that checks it, one version at a time through :data:`MIGRATIONS`; a newer file is refused.

Adding a version (the next one is 4): bump :data:`SCHEMA_VERSION`, change :data:`TABLES` (and
:data:`INDEXES`) to the new layout — new files and new runners get it directly — and register
a function with ``@migration(2)`` that turns a version-2 file into a version-3 one. A migration
receives the connection inside the upgrade transaction; it must upgrade the tables of every
runner listed in ``runic_tables`` (:func:`runners_of`) and keep their rows, and may use
:func:`add_column`, :func:`refresh_table_record`. It runs in whichever process opens the file
first (the others wait on the write lock, then find the file upgraded).

Version history:

* **1** (runic 0.1.0): ``WorkflowStore``, ``EventStream``, ``EventCounters``, ``FactStore``,
  ``SnapshotStore``, ``WorkflowStatus`` per runner.
* **2**: a CRC-32 column (``crc``) on every value row and on the event counters, verified on
  read (:mod:`runic.store.checksum`); ``FactStore`` gains ``owner`` (the workflow whose appends
  wrote the value; ``NULL`` once shared or for values saved by hand), ``pinned`` (saved with
  ``save_fact``) and ``gen`` (the gc generation at write time), with an index on ``owner``;
  ``WorkflowStatus`` gains ``node`` and ``generation`` (the owner's node lease); a new table
  ``Nodes`` holds node leases. Migration from 1: columns added, every existing row's checksum
  computed from its bytes as they are, existing fact values become unowned (``gc`` may remove
  them once no workflow references them), no owner node recorded.
* **3**: one event row per append. ``EventStream`` gains ``batch``: the number of events the
  row holds as one flat batch (:func:`runic.codec.dumps_batch`), keyed by the sequence number of
  its first event; 0 for a row written before, which holds one event encoded alone. Every row's
  checksum now also covers its first sequence number and ``batch``
  (:func:`runic.store.checksum.row_crc`). The count of a stream is the end of its last row, so
  ``EventCounters`` keeps a row only for a stream created empty. Migration from 2: the column
  added (existing rows are one-event rows, ``batch`` 0), every event row's checksum computed
  anew from its bytes as they are, counter rows that agree with their events removed (a counter
  that disagrees is kept and logged: it is damage the reader still reports).
"""

from __future__ import annotations

import logging
import sqlite3
import time
from typing import Callable

from .checksum import blob_crc, count_crc, fact_crc, key_seed, row_crc, snapshot_crc

__all__ = [
    "SCHEMA_VERSION",
    "APPLICATION_ID",
    "TABLES",
    "INDEXES",
    "MIGRATIONS",
    "migration",
    "quote",
    "runners_of",
    "add_column",
    "refresh_table_record",
    "create_runner_tables",
]

log = logging.getLogger("runic.store")

SCHEMA_VERSION = 3
"""Version of the table layout written by this runic (recorded in ``runic_meta``)."""

APPLICATION_ID = 0x52554E43
"""SQLite ``application_id`` of runic store files (``"RUNC"``): tells them from other databases."""

#: role -> (table suffix, Mnesia type, attributes, column definitions), the current layout. The
#: attributes are the record fields as Mnesia's ``table_info`` shows them; the bookkeeping
#: columns (checksums, fact ownership, gc generation) are not among them
TABLES: dict[str, tuple[str, str, tuple[str, ...], str]] = {
    "logs": ("WorkflowStore", "set", ("workflow_id", "log", "updated_at"),
             "(workflow_id PRIMARY KEY NOT NULL, log BLOB NOT NULL, crc INTEGER NOT NULL, "
             "updated_at INTEGER NOT NULL)"),
    "events": ("EventStream", "ordered_set", ("key", "event"),
               "(workflow_id NOT NULL, seq INTEGER NOT NULL, event BLOB NOT NULL, "
               "crc INTEGER NOT NULL, batch INTEGER NOT NULL DEFAULT 0, "
               "PRIMARY KEY (workflow_id, seq)) WITHOUT ROWID"),
    "counters": ("EventCounters", "set", ("workflow_id", "count"),
                 "(workflow_id PRIMARY KEY NOT NULL, count INTEGER NOT NULL, "
                 "crc INTEGER NOT NULL) WITHOUT ROWID"),
    "facts": ("FactStore", "set", ("fact_hash", "value"),
              "(fact_hash INTEGER PRIMARY KEY, value BLOB NOT NULL, crc INTEGER NOT NULL, "
              "owner, pinned INTEGER NOT NULL DEFAULT 0, gen INTEGER NOT NULL DEFAULT 0)"),
    "snapshots": ("SnapshotStore", "set", ("workflow_id", "cursor", "snapshot", "updated_at"),
                  "(workflow_id PRIMARY KEY NOT NULL, cursor INTEGER NOT NULL, "
                  "snapshot BLOB NOT NULL, crc INTEGER NOT NULL, updated_at INTEGER NOT NULL)"),
    "status": ("WorkflowStatus", "set",
               ("workflow_id", "owner", "epoch", "status", "updated_at", "node", "generation"),
               "(workflow_id PRIMARY KEY NOT NULL, owner TEXT, epoch INTEGER NOT NULL, "
               "status TEXT, updated_at INTEGER NOT NULL, node TEXT, generation INTEGER) WITHOUT ROWID"),
    "nodes": ("Nodes", "set", ("node", "generation", "alive", "lease_expires_at", "info"),
              "(node TEXT PRIMARY KEY NOT NULL, generation INTEGER NOT NULL, alive INTEGER NOT NULL, "
              "lease_expires_at INTEGER NOT NULL, info BLOB, updated_at INTEGER NOT NULL) WITHOUT ROWID"),
}

#: role -> (index suffix, definition after ``ON <table>``): the current layout's indexes
INDEXES: dict[str, tuple[str, str]] = {
    "facts": ("owner", "(owner) WHERE owner IS NOT NULL"),
}

#: migrations from schema version N to N+1, run in one transaction when an older file is opened
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {}


def migration(from_version: int) -> Callable[[Callable[[sqlite3.Connection], None]],
                                             Callable[[sqlite3.Connection], None]]:
    """Register the decorated function as the migration from ``from_version`` to the next."""

    def register(fn: Callable[[sqlite3.Connection], None]) -> Callable[[sqlite3.Connection], None]:
        MIGRATIONS[from_version] = fn
        return fn

    return register


def quote(name: str) -> str:
    """``name`` as a quoted SQL identifier (table names contain dots)."""
    return '"' + name.replace('"', '""') + '"'


def runners_of(conn: sqlite3.Connection) -> dict[str, dict[str, str]]:
    """``{runner: {role: table name}}`` of every runner recorded in ``runic_tables``."""
    out: dict[str, dict[str, str]] = {}
    for name, runner, role in conn.execute("SELECT name, runner, role FROM runic_tables"):
        out.setdefault(runner, {})[role] = name
    return out


def add_column(conn: sqlite3.Connection, table: str, column: str, definition: str) -> None:
    """``ALTER TABLE table ADD COLUMN column definition`` unless the column exists already."""
    existing = {row[1] for row in conn.execute(f"PRAGMA table_info({quote(table)})")}
    if column not in existing:
        conn.execute(f"ALTER TABLE {quote(table)} ADD COLUMN {column} {definition}")


def refresh_table_record(conn: sqlite3.Connection, runner: str, role: str, storage_type: str) -> None:
    """Record (or update) the current layout of ``runner``'s ``role`` table in ``runic_tables``."""
    suffix, kind, attrs, _columns = TABLES[role]
    conn.execute(
        "INSERT INTO runic_tables (name, runner, role, type, attributes, storage_type, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET type=excluded.type, "
        "attributes=excluded.attributes",
        (f"{runner}.{suffix}", runner, role, kind, ",".join(attrs), storage_type,
         time.time_ns() // 1_000_000),
    )


def create_runner_tables(conn: sqlite3.Connection, runner: str, storage_type: str) -> None:
    """Create the tables and indexes of ``runner`` in the current layout (idempotent)."""
    for role, (suffix, _kind, _attrs, columns) in TABLES.items():
        name = f"{runner}.{suffix}"
        conn.execute(f"CREATE TABLE IF NOT EXISTS {quote(name)} {columns}")
        conn.execute(
            "INSERT OR IGNORE INTO runic_tables (name, runner, role, type, attributes, "
            "storage_type, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (name, runner, role, TABLES[role][1], ",".join(TABLES[role][2]), storage_type,
             time.time_ns() // 1_000_000),
        )
    for role, (suffix, definition) in INDEXES.items():
        table = f"{runner}.{TABLES[role][0]}"
        conn.execute(f"CREATE INDEX IF NOT EXISTS {quote(table + '.' + suffix)} ON {quote(table)} {definition}")


# ----------------------------------------------------------------------------- migrations

def _unsigned(h: int) -> int:
    return h & 0xFFFFFFFFFFFFFFFF


#: role -> the SQL expression of its checksum in schema 2 (functions registered by the migration)
_V2_CHECKSUMS = {
    "events": "runic_blob_crc(workflow_id, event)",
    "counters": "runic_count_crc(workflow_id, count)",
    "logs": "runic_blob_crc(workflow_id, log)",
    "snapshots": "runic_snapshot_crc(workflow_id, cursor, snapshot)",
    "facts": "runic_fact_crc(fact_hash, value)",
}
#: (role, column, definition) added by schema 2 besides the checksums
_V2_COLUMNS = [
    ("facts", "owner", ""),
    ("facts", "pinned", "INTEGER NOT NULL DEFAULT 0"),
    ("facts", "gen", "INTEGER NOT NULL DEFAULT 0"),
    ("status", "node", "TEXT"),
    ("status", "generation", "INTEGER"),
]


@migration(1)
def _v1_to_v2(conn: sqlite3.Connection) -> None:
    """Checksums on every value row and counter; fact ownership; node leases (see the module
    documentation). Every runner's rows are kept; their checksums are computed now."""
    conn.create_function("runic_blob_crc", 2, lambda key, blob: blob_crc(blob, key_seed(key)),
                         deterministic=True)
    conn.create_function("runic_count_crc", 2, lambda key, count: count_crc(count, key_seed(key)),
                         deterministic=True)
    conn.create_function("runic_fact_crc", 2, lambda h, blob: fact_crc(_unsigned(h), blob),
                         deterministic=True)
    conn.create_function("runic_snapshot_crc", 3,
                         lambda key, cursor, blob: snapshot_crc(cursor, blob, key_seed(key)),
                         deterministic=True)
    for runner, tables in runners_of(conn).items():
        storage = conn.execute("SELECT storage_type FROM runic_tables WHERE runner=? LIMIT 1",
                               (runner,)).fetchone()[0]
        for role, checksum in _V2_CHECKSUMS.items():
            if role in tables:
                add_column(conn, tables[role], "crc", "INTEGER NOT NULL DEFAULT 0")
                conn.execute(f"UPDATE {quote(tables[role])} SET crc = {checksum}")
        for role, column, definition in _V2_COLUMNS:
            if role in tables:
                add_column(conn, tables[role], column, definition)
        for role in TABLES:
            if role in tables or role == "nodes":
                refresh_table_record(conn, runner, role, storage)
        create_runner_tables(conn, runner, storage)  # the Nodes table and the owner index
        log.info("migrated the tables of runner %r to schema 2", runner)


@migration(2)
def _v2_to_v3(conn: sqlite3.Connection) -> None:
    """One event row per append (see the module documentation). Every runner's events are kept
    as the one-event rows they are; their checksums now cover their sequence numbers."""
    conn.create_function("runic_row_crc", 3, lambda key, seq, blob: row_crc(seq, 0, blob, key_seed(key)),
                         deterministic=True)
    for runner, tables in runners_of(conn).items():
        events, counters = tables.get("events"), tables.get("counters")
        if events is None:
            continue
        add_column(conn, events, "batch", "INTEGER NOT NULL DEFAULT 0")
        conn.execute(f"UPDATE {quote(events)} SET crc = runic_row_crc(workflow_id, seq, event)")
        if counters is not None:
            ends = f"(SELECT max(e.seq) FROM {quote(events)} e WHERE e.workflow_id = c.workflow_id)"
            bad = conn.execute(f"SELECT count(*) FROM {quote(counters)} c WHERE c.count > 0 AND "
                               f"c.count IS NOT {ends}").fetchone()[0]
            if bad:
                log.warning("runner %r: %d event counters disagree with their events; kept (the "
                            "stream reports the damage when read)", runner, bad)
            conn.execute(f"DELETE FROM {quote(counters)} AS c WHERE c.count > 0 AND c.count IS {ends}")
        log.info("migrated the tables of runner %r to schema 3", runner)
