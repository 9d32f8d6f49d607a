"""The cluster objects of :class:`~runic.store.PostgresStore` (private): the inbox table, the
takeover and inbox functions, the triggers that signal changes, and the listener.

Per runner, next to the tables of :mod:`runic.store._pg_schema`:

* ``"<runner>.Inbox"`` — requests for a workflow's owner (:mod:`runic.store.cluster`), with a
  partial index on the pending ones, and ``"<runner>.inbox_put"`` which numbers a request one
  past the workflow's newest (a concurrent insert of the same number loses on the primary key
  and tries the next, so numbers become visible in order);
* ``"<runner>.takeover"`` — declare expired nodes dead and claim a fair share of the orphans, in
  one transaction (see :func:`cluster_ddl` for how it never claims what another reaper claims);
* two triggers, on status changes and on inbox rows, that ``pg_notify`` the runner's channel
  (:func:`channel`): ``status:<status>:<workflow key, hex>`` and ``inbox:put|ack:<key, hex>``.
  Only status changes notify, never plain appends (a notifying commit takes a database-wide
  lock: notifying on every append halved commit throughput in the design measurements);
* a partial index of the running workflows by owner node (orphans, ``nodes()``, the inbox
  join).

Every statement is idempotent (``IF NOT EXISTS``, ``OR REPLACE``): a schema created by a runic
without them gets them the first time a newer one opens it, without a layout version change
(nothing existing changes shape).
"""

from __future__ import annotations

import hashlib
import logging
import time
from typing import Any

import psycopg

from ._pg_schema import NOW_MS, function_names, quote, table_name
from .cluster import Change

__all__ = ["cluster_ddl", "channel", "cluster_functions", "PgChanges", "parse_signal"]

log = logging.getLogger("runic.store")


def cluster_functions(runner: str) -> dict[str, str]:
    """Names of the cluster's functions (dropped with the runner's tables)."""
    return {"takeover": f"{runner}.takeover", "inbox_put": f"{runner}.inbox_put",
            "notify_status": f"{runner}.notify_status", "notify_inbox": f"{runner}.notify_inbox"}


def channel(schema: str, runner: str) -> str:
    """The ``LISTEN`` channel of a runner's change signals (an identifier under 63 bytes)."""
    return "runic_" + hashlib.sha256(f"{schema}/{runner}".encode()).hexdigest()[:32]


def parse_signal(payload: str) -> Change:
    """A notification's payload as a :class:`~runic.store.cluster.Change` (its workflow id is
    the *key* here; the store turns it into the id)."""
    kind, _, rest = payload.partition(":")
    detail, _, hexkey = rest.rpartition(":")
    key: Any = None
    try:
        raw = bytes.fromhex(hexkey)
        key = raw[1:].decode("utf-8", "surrogatepass") if raw[:1] == b"s" else raw[1:] if raw[:1] == b"b" else None
    except ValueError:
        key = None
    return Change(kind, key, detail)


def cluster_ddl(schema: str, runner: str) -> list[str]:
    """The statements that create ``runner``'s cluster objects (idempotent)."""
    s = quote(schema)
    t = {role: f"{s}.{quote(table_name(runner, role))}" for role in ("status", "nodes", "counters")}
    t["inbox"] = f"{s}.{quote(f'{runner}.Inbox')}"
    f = {k: f"{s}.{quote(v)}" for k, v in {**function_names(runner), **cluster_functions(runner)}.items()}
    chan = channel(schema, runner)
    pending_index = quote(f"{runner}.Inbox.pending")
    running_index = quote(f"{runner}.WorkflowStatus.running")
    # orphaned: no owner node recorded, unknown or re-registered since, or declared dead. (An
    # expired node that is alive in its row is declared dead by the takeover first, under its
    # row lock, so its renewals fail from then on; one whose row another transaction holds —
    # renewing it — is skipped, and so are its workflows.)
    orphan = ("(st.node IS NULL OR n.node IS NULL OR n.generation IS DISTINCT FROM st.generation "
              "OR NOT n.alive)")
    return [
        f"CREATE TABLE IF NOT EXISTS {t['inbox']} (workflow_id bytea NOT NULL, seq bigint NOT NULL, "
        "kind text NOT NULL, payload bytea, crc bigint NOT NULL, created_at bigint NOT NULL, "
        "done boolean NOT NULL DEFAULT false, error text, PRIMARY KEY (workflow_id, seq))",
        f"CREATE INDEX IF NOT EXISTS {pending_index} ON {t['inbox']} (workflow_id, seq) WHERE NOT done",
        f"CREATE INDEX IF NOT EXISTS {running_index} ON {t['status']} (node, generation) "
        "WHERE status = 'running'",
        f"""
CREATE OR REPLACE FUNCTION {f['inbox_put']}(p_wid bytea, p_kind text, p_payload bytea, p_crc bigint)
RETURNS bigint LANGUAGE plpgsql AS $fn$
DECLARE
    s bigint;
BEGIN
    LOOP
        SELECT coalesce(max(i.seq), 0) + 1 INTO s FROM {t['inbox']} i WHERE i.workflow_id = p_wid;
        BEGIN
            INSERT INTO {t['inbox']} (workflow_id, seq, kind, payload, crc, created_at, done)
                VALUES (p_wid, s, p_kind, p_payload, p_crc, {NOW_MS}, false);
            RETURN s;
        EXCEPTION WHEN unique_violation THEN
            NULL;  -- a concurrent request took this number (and committed): take the next
        END;
    END LOOP;
END
$fn$""",
        f"""
CREATE OR REPLACE FUNCTION {f['takeover']}(p_node text, p_gen bigint, p_owner text, p_limit bigint)
RETURNS TABLE (r_kind text, r_wid bytea, r_node text, r_num bigint) LANGUAGE plpgsql AS $fn$
DECLARE
    v_now bigint := {NOW_MS};
    v_live bigint;
    v_orphans bigint;
    v_share bigint;
    v_claimed bigint := 0;
    v_wid bytea;
BEGIN
    -- 1. declare dead every other node whose lease expired (a reaper holding one already is
    --    skipped; so is a node renewing right now)
    RETURN QUERY
        UPDATE {t['nodes']} AS n SET alive = false, updated_at = v_now
          FROM (SELECT x.node FROM {t['nodes']} x
                 WHERE x.alive AND x.lease_expires_at <= v_now AND x.node <> p_node
                 ORDER BY x.node FOR UPDATE SKIP LOCKED) AS d
         WHERE n.node = d.node
        RETURNING 'dead'::text, NULL::bytea, n.node, n.generation;
    -- 2. a node whose own lease ran out takes nothing
    IF NOT EXISTS (SELECT 1 FROM {t['nodes']} x WHERE x.node = p_node AND x.generation = p_gen
                   AND x.alive AND x.lease_expires_at > v_now) THEN
        RETURN;
    END IF;
    SELECT count(*) INTO v_live FROM {t['nodes']} x WHERE x.alive AND x.lease_expires_at > v_now;
    SELECT count(*) INTO v_orphans FROM {t['status']} st LEFT JOIN {t['nodes']} n ON n.node = st.node
     WHERE st.status = 'running' AND {orphan};
    RETURN QUERY SELECT 'live'::text, NULL::bytea, NULL::text, v_live;
    RETURN QUERY SELECT 'orphans'::text, NULL::bytea, NULL::text, v_orphans;
    v_share := ceil(v_orphans::numeric / greatest(v_live, 1));
    IF p_limit IS NOT NULL THEN
        v_share := least(v_share, p_limit);
    END IF;
    -- 3. claim up to the fair share. Each candidate's status row is locked (skipped if another
    --    reaper or a writer holds it) and then checked again with a fresh snapshot: a row
    --    another reaper claimed and committed meanwhile is no orphan any more.
    FOR v_wid IN
        SELECT st.workflow_id FROM {t['status']} st LEFT JOIN {t['nodes']} n ON n.node = st.node
         WHERE st.status = 'running' AND {orphan}
         ORDER BY st.updated_at, st.workflow_id
    LOOP
        EXIT WHEN v_claimed >= v_share;
        PERFORM 1 FROM {t['status']} st WHERE st.workflow_id = v_wid FOR UPDATE SKIP LOCKED;
        CONTINUE WHEN NOT FOUND;
        CONTINUE WHEN NOT EXISTS (
            SELECT 1 FROM {t['status']} st LEFT JOIN {t['nodes']} n ON n.node = st.node
             WHERE st.workflow_id = v_wid AND st.status = 'running' AND {orphan});
        -- every writer locks the counter row before the status row: never wait for it here
        PERFORM 1 FROM {t['counters']} k WHERE k.workflow_id = v_wid FOR UPDATE SKIP LOCKED;
        CONTINUE WHEN NOT FOUND AND EXISTS (SELECT 1 FROM {t['counters']} k WHERE k.workflow_id = v_wid);
        v_claimed := v_claimed + 1;
        RETURN QUERY SELECT 'claimed'::text, v_wid, NULL::text, {f['acquire']}(v_wid, p_owner, p_node, p_gen);
    END LOOP;
END
$fn$""",
        f"""
CREATE OR REPLACE FUNCTION {f['notify_status']}() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    IF NEW.status IS NOT NULL AND (TG_OP = 'INSERT' OR OLD.status IS DISTINCT FROM NEW.status) THEN
        PERFORM pg_notify('{chan}', 'status:' || NEW.status || ':' || left(encode(NEW.workflow_id, 'hex'), 7000));
    END IF;
    RETURN NULL;
END
$fn$""",
        f"""
CREATE OR REPLACE FUNCTION {f['notify_inbox']}() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    PERFORM pg_notify('{chan}', 'inbox:' || CASE WHEN TG_OP = 'INSERT' THEN 'put' ELSE 'ack' END || ':'
                      || left(encode(NEW.workflow_id, 'hex'), 7000));
    RETURN NULL;
END
$fn$""",
        f"CREATE OR REPLACE TRIGGER {quote(f'{runner}.status_changed')} AFTER INSERT OR UPDATE OF status "
        f"ON {t['status']} FOR EACH ROW EXECUTE FUNCTION {f['notify_status']}()",
        f"CREATE OR REPLACE TRIGGER {quote(f'{runner}.inbox_changed')} AFTER INSERT OR UPDATE "
        f"ON {t['inbox']} FOR EACH ROW EXECUTE FUNCTION {f['notify_inbox']}()",
    ]


class PgChanges:
    """A ``LISTEN`` on a runner's channel over a connection of its own (one thread uses it).

    :meth:`wait` returns the signals received; while it has no connection (lost, or not yet
    re-established: it reconnects with backoff) it returns ``None``: signals sent meanwhile
    are lost, so the caller polls."""

    def __init__(self, connect: Any, chan: str, where: str) -> None:
        self._connect = connect  # () -> a new autocommit connection to the primary
        self.channel = chan
        self.where = where
        self._conn: Any = None
        self._retry_at = 0.0
        self._backoff = 0.1
        self._closed = False
        self._open()  # listening from now on (signals sent before are not seen)

    def _open(self) -> bool:
        if self._conn is not None:
            return True
        if time.monotonic() < self._retry_at:
            return False
        try:
            conn = self._connect()
            conn.execute(f'LISTEN "{self.channel}"')
        except Exception as exc:  # noqa: BLE001 - retried with backoff; the caller polls meanwhile
            log.debug("listening on %s failed: %s", self.where, exc)
            self._retry_at = time.monotonic() + self._backoff
            self._backoff = min(2.0, self._backoff * 2)
            return False
        self._conn, self._backoff = conn, 0.1
        return True

    def wait(self, timeout: float) -> list[Change] | None:
        if self._closed:
            return None
        if not self._open():
            time.sleep(min(timeout, max(0.0, self._retry_at - time.monotonic())))
            self._open()
            return None  # not listening for a while: signals may have been lost
        out: list[Change] = []
        try:
            for note in self._conn.notifies(timeout=timeout, stop_after=256):
                out.append(parse_signal(note.payload))
        except psycopg.Error as exc:
            log.debug("the listener on %s lost its connection: %s", self.where, exc)
            self._drop()
            return None
        return out

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # noqa: BLE001 - closing a broken connection
                pass

    def close(self) -> None:
        self._closed = True
        self._drop()
