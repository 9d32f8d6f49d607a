"""The table layout of :class:`~runic.store.PostgresStore`, its server-side functions, and the
migrations between its versions (private).

A database schema (default ``runic``) holds ``runic_meta`` (the layout's version, the codec
version, who created it, each runner's gc generation), ``runic_tables`` (every runner's
tables), and per runner the same tables as :class:`~runic.store.MnesiaStore`, named
``"<runner>.WorkflowStore"`` and so on, plus three functions ``"<runner>.append3"``,
``"<runner>.acquire"`` and ``"<runner>.set_status"`` and the sequence ``"<runner>.EpochSeq"``.

Layout version history (its own numbering; the SQLite layout has another):

* **1**: the tables of SQLite schema 2 (checksummed rows, fact ownership and gc generations,
  node leases), with workflow ids as ``bytea`` (``b"s"`` + UTF-8 for a ``str`` id, ``b"b"`` +
  the codec bytes of any other id: one column type for both kinds of key), fact hashes as
  signed ``bigint`` (hashes >= 2**63 stored as ``hash - 2**64``, as in SQLite), and the owner's
  epoch copied into the ``EventCounters`` row, so that fencing an append and bumping its
  counter is one row update. A counter row whose ``count`` is ``NULL`` holds only that epoch
  (``acquire`` of a workflow that has no stream yet).
* **2**: one event row per append, as SQLite schema 3: ``EventStream`` gains ``batch`` (the
  number of events the row holds as one flat batch, keyed by its first sequence number; 0 for
  a row written before, one event encoded alone), every event row's checksum covers its first
  sequence number and ``batch`` (:func:`runic.store.checksum.row_crc`), and the append function
  becomes ``"<runner>.append3"`` (one row instead of an array of rows). Migration from 1: the
  column added, the checksums recomputed (in the client: PostgreSQL has no CRC-32), ``append2``
  dropped. The counter row stays: it is what fences an append here.

Adding a version: bump :data:`SCHEMA_VERSION`, change :func:`runner_ddl` (new runners get the
new layout) and register ``@migration(1)``, a function that receives the connection inside the
upgrade transaction (which holds the schema's advisory lock) and upgrades every runner listed in
``runic_tables``.

Decisions on the append function (measured on this project's 2-core VM; ``bench/postgres.py``):
one call of a PL/pgSQL function in autocommit is one round trip (~0.32 ms with
``synchronous_commit=on``, against 0.7-0.8 ms for the same work as six statements, pipelined or
not). Its fast path is one ``UPDATE`` of the counter row guarded by ``count = expect`` and
``epoch = $epoch``; only when that matches no row does it look closer (a new stream, a stale
epoch, a writer whose idea of the cursor is behind, or a retry whose first attempt committed).
"""

from __future__ import annotations

from typing import Any, Callable

__all__ = ["SCHEMA_VERSION", "ROLES", "MIGRATIONS", "migration", "quote", "table_name", "runner_ddl",
           "function_names", "meta_ddl", "NOW_MS", "APPEND_OK", "APPEND_MOVED", "APPEND_FENCED",
           "APPEND_APPLIED"]

SCHEMA_VERSION = 2
"""Version of the PostgreSQL layout written by this runic (``runic_meta.schema_version``)."""

#: role -> (table suffix, Mnesia type, attributes as ``table_info`` shows them)
ROLES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "logs": ("WorkflowStore", "set", ("workflow_id", "log", "updated_at")),
    "events": ("EventStream", "ordered_set", ("key", "event")),
    "counters": ("EventCounters", "set", ("workflow_id", "count")),
    "facts": ("FactStore", "set", ("fact_hash", "value")),
    "snapshots": ("SnapshotStore", "set", ("workflow_id", "cursor", "snapshot", "updated_at")),
    "status": ("WorkflowStatus", "set",
               ("workflow_id", "owner", "epoch", "status", "updated_at", "node", "generation")),
    "nodes": ("Nodes", "set", ("node", "generation", "alive", "lease_expires_at", "info")),
    # created by runic.store._pg_cluster (requests for a workflow's owner from other nodes)
    "inbox": ("Inbox", "ordered_set", ("key", "kind", "payload", "done", "error")),
}

#: the database server's clock, in ms since the epoch (leases and time stamps use it, so that
#: runic nodes on several machines compare against one clock)
NOW_MS = "floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint"

#: result codes of ``append3``
APPEND_OK, APPEND_MOVED, APPEND_FENCED, APPEND_APPLIED = 0, 1, 2, 3

MIGRATIONS: dict[int, Callable[[Any, str], None]] = {}


def migration(from_version: int) -> Callable[[Callable[[Any, str], None]], Callable[[Any, str], None]]:
    """Register the decorated ``fn(conn, schema)`` as the migration from ``from_version``."""

    def register(fn: Callable[[Any, str], None]) -> Callable[[Any, str], None]:
        MIGRATIONS[from_version] = fn
        return fn

    return register


def quote(name: str) -> str:
    """``name`` as a quoted SQL identifier (table names contain dots)."""
    return '"' + name.replace('"', '""') + '"'


def table_name(runner: str, role: str) -> str:
    return f"{runner}.{ROLES[role][0]}"


def function_names(runner: str) -> dict[str, str]:
    return {"append": f"{runner}.append3", "acquire": f"{runner}.acquire", "set_status": f"{runner}.set_status",
            "epoch_seq": f"{runner}.EpochSeq"}


def meta_ddl(schema: str) -> list[str]:
    s = quote(schema)
    return [
        f"CREATE TABLE IF NOT EXISTS {s}.runic_meta (key text PRIMARY KEY, value text NOT NULL)",
        f"CREATE TABLE IF NOT EXISTS {s}.runic_tables (name text PRIMARY KEY, runner text NOT NULL, "
        "role text NOT NULL, type text NOT NULL, attributes text NOT NULL, storage_type text NOT NULL, "
        "created_at bigint NOT NULL)",
    ]


def runner_ddl(schema: str, runner: str) -> list[str]:
    """The statements that create ``runner``'s tables, sequence and functions (idempotent)."""
    s = quote(schema)
    t = {role: f"{s}.{quote(table_name(runner, role))}" for role in ROLES}
    f = {k: f"{s}.{quote(v)}" for k, v in function_names(runner).items()}
    gc_key = "'" + f"gc_gen/{runner}".replace("'", "''") + "'"
    fenced = (f"SELECT coalesce(st.epoch, 0), st.owner INTO cur_epoch, cur_owner FROM {t['status']} st "
              "WHERE st.workflow_id = p_wid; cur_epoch := coalesce(cur_epoch, 0); "
              f"code := {APPEND_FENCED}; RETURN;")
    owner_index = quote(f"{table_name(runner, 'facts')}.owner")
    return [
        f"CREATE TABLE IF NOT EXISTS {t['logs']} (workflow_id bytea PRIMARY KEY, log bytea NOT NULL, "
        "crc bigint NOT NULL, updated_at bigint NOT NULL)",
        f"CREATE TABLE IF NOT EXISTS {t['events']} (workflow_id bytea NOT NULL, seq bigint NOT NULL, "
        "event bytea NOT NULL, crc bigint NOT NULL, batch int NOT NULL DEFAULT 0, PRIMARY KEY (workflow_id, seq))",
        # updated on every append: room on each page for HOT updates
        f"CREATE TABLE IF NOT EXISTS {t['counters']} (workflow_id bytea PRIMARY KEY, count bigint, "
        "crc bigint NOT NULL DEFAULT 0, epoch bigint NOT NULL DEFAULT 0) WITH (fillfactor = 50)",
        f"CREATE TABLE IF NOT EXISTS {t['facts']} (fact_hash bigint PRIMARY KEY, value bytea NOT NULL, "
        "crc bigint NOT NULL, owner bytea, pinned boolean NOT NULL DEFAULT false, gen bigint NOT NULL DEFAULT 0)",
        f"CREATE INDEX IF NOT EXISTS {owner_index} ON {t['facts']} (owner) WHERE owner IS NOT NULL",
        f"CREATE TABLE IF NOT EXISTS {t['snapshots']} (workflow_id bytea PRIMARY KEY, cursor bigint NOT NULL, "
        "snapshot bytea NOT NULL, crc bigint NOT NULL, updated_at bigint NOT NULL)",
        f"CREATE TABLE IF NOT EXISTS {t['status']} (workflow_id bytea PRIMARY KEY, owner text, "
        "epoch bigint NOT NULL DEFAULT 0, status text, updated_at bigint NOT NULL, node text, generation bigint) "
        "WITH (fillfactor = 70)",
        f"CREATE TABLE IF NOT EXISTS {t['nodes']} (node text PRIMARY KEY, generation bigint NOT NULL, "
        "alive boolean NOT NULL, lease_expires_at bigint NOT NULL, info bytea, updated_at bigint NOT NULL)",
        # kept by drop_tables: epochs handed out later never repeat earlier ones
        f"CREATE SEQUENCE IF NOT EXISTS {f['epoch_seq']}",
        f"""
CREATE OR REPLACE FUNCTION {f['append']}(
    p_wid bytea, p_epoch bigint, p_expect bigint, p_crc bigint, p_event bytea, p_n int, p_ecrc bigint,
    p_fh bigint[], p_fv bytea[], p_fc bigint[], p_status text, p_retry boolean,
    OUT code int, OUT cnt bigint, OUT cur_epoch bigint, OUT cur_owner text)
LANGUAGE plpgsql AS $fn$
DECLARE
    -- p_event: the row (a flat batch of p_n events; NULL for an empty append), p_ecrc its checksum
    n bigint := CASE WHEN p_event IS NULL THEN 0 ELSE greatest(p_n, 1) END;
    c bigint;
    e bigint;
    g bigint;
BEGIN
    code := {APPEND_OK};
    IF n = 0 THEN
        -- an empty append creates the stream (count 0) and returns the cursor
        SELECT k.count, k.epoch INTO c, e FROM {t['counters']} k WHERE k.workflow_id = p_wid FOR UPDATE;
        IF NOT FOUND THEN
            IF p_epoch IS NOT NULL AND p_epoch <> 0 THEN {fenced} END IF;
            INSERT INTO {t['counters']} (workflow_id, count, crc, epoch) VALUES (p_wid, 0, p_crc, 0)
                ON CONFLICT (workflow_id) DO NOTHING;
            IF NOT FOUND THEN code := {APPEND_MOVED}; cnt := -1; RETURN; END IF;
            c := 0;
        ELSE
            IF p_epoch IS NOT NULL AND e <> p_epoch THEN {fenced} END IF;
            IF c IS NULL THEN
                IF p_expect <> 0 THEN code := {APPEND_MOVED}; cnt := 0; RETURN; END IF;
                UPDATE {t['counters']} SET count = 0, crc = p_crc WHERE workflow_id = p_wid;
                c := 0;
            END IF;
        END IF;
        cnt := c;
    ELSE
        -- the fast path: fence and counter bump in one row update
        UPDATE {t['counters']} SET count = p_expect + n, crc = p_crc
         WHERE workflow_id = p_wid AND coalesce(count, 0) = p_expect
           AND (p_epoch IS NULL OR epoch = p_epoch);
        IF NOT FOUND THEN
            SELECT k.count, k.epoch INTO c, e FROM {t['counters']} k WHERE k.workflow_id = p_wid FOR UPDATE;
            IF NOT FOUND THEN
                IF p_epoch IS NOT NULL AND p_epoch <> 0 THEN {fenced} END IF;
                IF p_expect <> 0 THEN code := {APPEND_MOVED}; cnt := 0; RETURN; END IF;
                INSERT INTO {t['counters']} (workflow_id, count, crc, epoch) VALUES (p_wid, n, p_crc, 0)
                    ON CONFLICT (workflow_id) DO NOTHING;
                IF NOT FOUND THEN code := {APPEND_MOVED}; cnt := -1; RETURN; END IF;
            ELSE
                -- a retry whose first attempt committed (its connection was lost during COMMIT):
                -- its events are there, at the seqs it asked for
                IF p_retry AND coalesce(c, 0) >= p_expect + n AND EXISTS (
                        SELECT 1 FROM {t['events']} x WHERE x.workflow_id = p_wid AND x.seq = p_expect + 1
                        AND x.batch = p_n AND x.crc = p_ecrc AND x.event = p_event) THEN
                    code := {APPEND_APPLIED}; cnt := p_expect + n; RETURN;
                END IF;
                IF p_epoch IS NOT NULL AND e <> p_epoch THEN {fenced} END IF;
                code := {APPEND_MOVED}; cnt := coalesce(c, 0); RETURN;
            END IF;
        END IF;
        INSERT INTO {t['events']} (workflow_id, seq, batch, event, crc) VALUES (p_wid, p_expect + 1, p_n, p_event, p_ecrc);
        cnt := p_expect + n;
    END IF;
    IF coalesce(cardinality(p_fh), 0) > 0 THEN
        SELECT m.value::bigint INTO g FROM {s}.runic_meta m WHERE m.key = {gc_key};
        -- a value written by its first workflow is owned by it; by a second one, shared
        INSERT INTO {t['facts']} AS fs (fact_hash, value, crc, owner, pinned, gen)
            SELECT u.h, u.v, u.c, p_wid, false, coalesce(g, 0) FROM unnest(p_fh, p_fv, p_fc) AS u(h, v, c)
            ON CONFLICT (fact_hash) DO UPDATE SET value = excluded.value, crc = excluded.crc, gen = excluded.gen,
               owner = CASE WHEN fs.owner IS NOT DISTINCT FROM excluded.owner THEN fs.owner ELSE NULL END;
    END IF;
    IF p_status IS NOT NULL THEN
        INSERT INTO {t['status']} (workflow_id, owner, epoch, status, updated_at)
            VALUES (p_wid, NULL, 0, p_status, {NOW_MS})
            ON CONFLICT (workflow_id) DO UPDATE SET status = excluded.status, updated_at = excluded.updated_at;
    END IF;
END
$fn$""",
        # the counter row first, then the status row: the order every writer locks them in
        f"""
CREATE OR REPLACE FUNCTION {f['acquire']}(p_wid bytea, p_owner text, p_node text, p_gen bigint)
RETURNS bigint LANGUAGE plpgsql AS $fn$
DECLARE
    e bigint;
    cur bigint;
BEGIN
    e := nextval('{f['epoch_seq'].replace("'", "''")}');
    SELECT st.epoch INTO cur FROM {t['status']} st WHERE st.workflow_id = p_wid;
    IF cur IS NOT NULL AND cur >= e THEN  -- never hand out an epoch at or below the current one
        e := cur + 1;
        PERFORM setval('{f['epoch_seq'].replace("'", "''")}', e);
    END IF;
    INSERT INTO {t['counters']} (workflow_id, count, crc, epoch) VALUES (p_wid, NULL, 0, e)
        ON CONFLICT (workflow_id) DO UPDATE SET epoch = excluded.epoch;
    INSERT INTO {t['status']} (workflow_id, owner, epoch, status, updated_at, node, generation)
        VALUES (p_wid, p_owner, e, NULL, {NOW_MS}, p_node, p_gen)
        ON CONFLICT (workflow_id) DO UPDATE SET owner = excluded.owner, epoch = excluded.epoch,
            updated_at = excluded.updated_at, node = excluded.node, generation = excluded.generation;
    RETURN e;
END
$fn$""",
        f"""
CREATE OR REPLACE FUNCTION {f['set_status']}(p_wid bytea, p_status text, p_epoch bigint,
    OUT code int, OUT cur_epoch bigint, OUT cur_owner text)
LANGUAGE plpgsql AS $fn$
BEGIN
    code := {APPEND_OK};
    IF p_epoch IS NULL THEN
        INSERT INTO {t['status']} (workflow_id, owner, epoch, status, updated_at)
            VALUES (p_wid, NULL, 0, p_status, {NOW_MS})
            ON CONFLICT (workflow_id) DO UPDATE SET status = excluded.status, updated_at = excluded.updated_at;
        RETURN;
    END IF;
    UPDATE {t['status']} SET status = p_status, updated_at = {NOW_MS}
     WHERE workflow_id = p_wid AND epoch = p_epoch;
    IF FOUND THEN RETURN; END IF;
    IF p_epoch = 0 THEN
        INSERT INTO {t['status']} (workflow_id, owner, epoch, status, updated_at)
            VALUES (p_wid, NULL, 0, p_status, {NOW_MS}) ON CONFLICT (workflow_id) DO NOTHING;
        IF FOUND THEN RETURN; END IF;
    END IF;
    SELECT coalesce(st.epoch, 0), st.owner INTO cur_epoch, cur_owner FROM {t['status']} st
     WHERE st.workflow_id = p_wid;
    cur_epoch := coalesce(cur_epoch, 0);
    code := {APPEND_FENCED};
END
$fn$""",
    ]


@migration(1)
def _v1_to_v2(conn: Any, schema: str) -> None:
    """One event row per append (see the module documentation); existing rows are kept as the
    one-event rows they are, their checksums recomputed here."""
    from .checksum import key_seed, row_crc

    s = quote(schema)
    runners = [r[0] for r in conn.execute(f"SELECT DISTINCT runner FROM {s}.runic_tables")]
    for runner in runners:
        events = f"{s}.{quote(table_name(runner, 'events'))}"
        conn.execute(f"ALTER TABLE {events} ADD COLUMN IF NOT EXISTS batch int NOT NULL DEFAULT 0")
        updates = []
        for pk, seq, blob in conn.execute(f"SELECT workflow_id, seq, event FROM {events}"):
            raw = bytes(pk)
            key: Any = raw[1:].decode("utf-8", "surrogatepass") if raw[:1] == b"s" else raw[1:]
            crc = row_crc(seq, 0, bytes(blob), key_seed(key))
            updates.append((crc, pk, seq))
        if updates:
            with conn.cursor() as cur:
                cur.executemany(f"UPDATE {events} SET crc = %s WHERE workflow_id = %s AND seq = %s", updates)
        old = f"{s}.{quote(runner + '.append2')}"
        conn.execute(f"DROP FUNCTION IF EXISTS {old}(bytea, bigint, bigint, bigint, bytea[], bigint[], bigint[], "
                     "bytea[], bigint[], text, boolean)")
        for statement in runner_ddl(schema, runner):  # the new function
            conn.execute(statement)
