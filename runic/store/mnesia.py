"""MnesiaStore: transactional tables with Mnesia's shape, on SQLite.

This is the port of Runic's ``Runic.Runner.Store.Mnesia``. Like a Mnesia node directory, one
database file per directory (``<dir>/runic.db``) holds the tables of every runner that uses it;
each runner has its own tables, named after it (the layout, its versions and migrations are in
:mod:`runic.store.schema`):

=============================  ===========  =========================================================
table                          type         attributes
=============================  ===========  =========================================================
``<runner>.WorkflowStore``     set          ``workflow_id, log, crc, updated_at``
``<runner>.EventStream``       ordered_set  ``key=(workflow_id, seq), event, crc, batch``
``<runner>.EventCounters``     set          ``workflow_id, count, crc`` (empty streams only)
``<runner>.FactStore``         set          ``fact_hash, value, crc, owner, pinned, gen``
``<runner>.SnapshotStore``     set          ``workflow_id, cursor, snapshot, crc, updated_at``
``<runner>.WorkflowStatus``    set          ``workflow_id, owner, epoch, status, updated_at, node,
                                            generation``
``<runner>.Nodes``             set          ``node, generation, alive, lease_expires_at, info,
                                            updated_at``
=============================  ===========  =========================================================

Writes are ACID transactions (``BEGIN IMMEDIATE`` … ``COMMIT``). An append writes **one row**
(schema 3): its events as one flat batch, keyed by the sequence number of its first event, with
``batch`` = how many it holds; the stream's count is the end of its last row (no counter row to
update; ``EventCounters`` only marks streams created empty). The owner's epoch check is folded
into that ``INSERT`` (``INSERT … SELECT … WHERE`` the status row's epoch is the writer's), and a
handle remembers the cursor of each workflow it appended to under an epoch, so a fenced append
with no fact values and no status is **one autocommit statement**: no ``BEGIN``, no count read.
The remembered cursor cannot go wrong silently: an append by anyone else starts at the same
first sequence number and makes the ``INSERT`` fail on the primary key, and the handle then
reads the end of the stream inside a transaction and appends there. Appends without an epoch
always read the end inside their transaction. Reads take no transaction. The file uses SQLite's write-ahead log (WAL). SQLite copies the WAL
back into the file inside the commit that crosses its threshold; a write-heavy process that
never forks afterwards may move that work to a thread with
:meth:`MnesiaStore.checkpoint_in_background` (the Runner's worker hosts do). Once a checkpoint
has emptied it, the WAL file is cut back to 4 MiB, and :meth:`BaseStore.gc`
truncates it to nothing.

Durability (``disc_copies=True``):

* ``durability="normal"`` (default, ``synchronous=NORMAL``): every call that returned is in the
  operating system when it returns, so it survives ``kill -9`` of any process (measured: 0
  acknowledged appends lost, where Mnesia disc_copies loses up to ~140). On power loss or a
  kernel crash the file stays consistent, but the most recent commits may roll back.
* ``durability="fsync"`` (``synchronous=FULL``): each commit is also flushed to the disk before
  it returns, so it survives power loss too (if the disk honours flushes). About 5x slower.

What else the file survives, and how (disc):

* **removal or replacement while open**: a handle checks, around each write transaction, that
  the file it has open is still linked (``fstat`` of its own descriptor on ``runic.db``:
  ``st_nlink`` drops to 0 when the name is removed or renamed over) and raises
  :class:`~runic.store.StoreReplacedError` instead of writing into a file nobody will ever
  read (SQLite would, and every such write would be acknowledged, then lost);
* **damage**: a file that is not a database, or truncated (pages missing from the file and
  from its WAL), is refused at open, before anything is written to it; a flipped bit in a value
  row or a counter fails its checksum on read; a damaged schema (a table name that is not UTF-8)
  is a :class:`~runic.store.CorruptStoreError` too;
* **privacy**: a directory created here is 0700, the database, WAL, shared-memory and lock
  files 0600, whatever the umask (existing ones keep their mode);
* **read-only file systems**: named as such (``EROFS``) with what to do, where SQLite says only
  ``disk I/O error``.

RAM tables (``disc_copies=False``) hold no durability promise: inside an actor system they live
in a file in the system's scratch directory (on ``/dev/shm``), shared by every process of the
system and removed when it stops; outside any actor system they live in the memory of the
creating process, shared by the store handles of that process, until it exits.

Several processes may use one directory at once. Write transactions are serialised by an
exclusive ``flock`` on ``<dir>/runic.db.lock`` (which keeps writers fair) and SQLite's own
locks; ``database is locked`` is retried until ``busy_timeout`` and only then raised, as
:class:`~runic.store.StoreBusyError`. Which thread runs what: every call runs in the caller's
thread; a process's handles on one file share one connection behind a lock.
"""

from __future__ import annotations

import logging
import os
import socket
import sqlite3
from typing import Any, ClassVar, Iterable

from . import schema
from ._sqlite import _acquire_db, _Database, _release_db, local_node
from .base import BaseStore, StaleNode, AppendRow, StaleEpoch
from .checksum import count_crc, key_seed
from .cluster import fair_share
from .errors import CorruptStoreError, StoreArgumentError, StoreClosedError, StoreError
from .schema import APPLICATION_ID, SCHEMA_VERSION, TABLES

__all__ = [
    "MnesiaStore",
    "SCHEMA_VERSION",
    "APPLICATION_ID",
    "DB_FILE",
    "RAM_DB_FILE",
    "local_node",
    "default_dir",
]

log = logging.getLogger("runic.store")

DB_FILE = "runic.db"
"""File name of the disc database inside a store directory."""

RAM_DB_FILE = "runic-ram.db"
"""File name of the RAM database inside an actor system's scratch directory."""

DURABILITY_MODES: dict[str, str] = {"normal": "NORMAL", "fsync": "FULL"}


_I63 = 1 << 63
_U64 = 1 << 64

_TABLES = TABLES  # the current layout (runic.store.schema)
#: workflows whose cursor a handle remembers (the set is emptied when it reaches this size)
_CURSOR_CACHE = 100_000
#: the cluster's inbox (runic.store.cluster): (suffix, columns). Created by a runner's first
#: request, so a store no cluster uses keeps its layout; dropped with the runner's tables
_INBOX = ("Inbox", "(workflow_id NOT NULL, seq INTEGER NOT NULL, kind TEXT NOT NULL, payload BLOB, "
                   "crc INTEGER NOT NULL, created_at INTEGER NOT NULL, done INTEGER NOT NULL DEFAULT 0, "
                   "error TEXT, PRIMARY KEY (workflow_id, seq)) WITHOUT ROWID")
_quote = schema.quote


def default_dir() -> str:
    """The default store directory: ``$RUNIC_DATA_DIR``, else ``./runic-data/<node>``."""
    env = os.environ.get("RUNIC_DATA_DIR")
    if env:
        return os.path.abspath(env)
    return os.path.abspath(os.path.join("runic-data", local_node()))


#: MnesiaStore's durability modes on PostgreSQL (remote ``nodes``): both mean "the primary's
#: disk has it" (``synchronous_commit=local``)
_MNESIA_TO_PG = {"normal": "local", "fsync": "local"}


def _remote_nodes(nodes: Iterable[str] | str | None) -> list[str]:
    """The entries of ``nodes`` that are not this machine: database hosts (``"host:port"``).

    ``None``, or only the local node's names (:func:`local_node`, the host name,
    ``localhost``), keep the tables in the local SQLite file; any other name makes
    ``MnesiaStore`` a :class:`~runic.store.PostgresStore` on those hosts (connection settings
    from ``dsn=`` or ``$RUNIC_DATABASE_URL``).
    """
    if nodes is None:
        return []
    if isinstance(nodes, str):
        nodes = [nodes]
    local = {local_node(), socket.gethostname(), "localhost"}
    return [str(n) for n in nodes if str(n) not in local]


def _sql_text(value: str) -> str:
    """``value`` as a SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def _signed(h: int) -> int:
    return h - _U64 if h >= _I63 else h


def _ram_scratch_dir() -> str | None:
    """The scratch directory of the actor system this process belongs to, if any."""
    try:
        from ..actors import current_scratch_dir  # provided by the supervision layer
    except ImportError:
        return None
    try:
        found = current_scratch_dir()
    except Exception as exc:  # no actor system, or it is shutting down
        log.debug("no actor-system scratch dir: %s", exc)
        return None
    return os.fspath(found) if found else None


# ----------------------------------------------------------------------------- the store

class MnesiaStore(BaseStore):
    """The durable store: Mnesia-shaped transactional tables on SQLite.

    ``MnesiaStore(runner_name, disc_copies=True, dir=None, nodes=None, durability="normal",
    busy_timeout=30.0)``:

    * ``disc_copies=True`` keeps the tables in ``<dir>/runic.db`` (``dir`` defaults to
      ``$RUNIC_DATA_DIR``, else ``./runic-data/<node>``), creating the directory and the
      schema on first use; ``False`` keeps RAM tables (see the module documentation);
    * ``nodes``: ``None`` or a list naming only the local node (:func:`local_node`) keeps the
      tables here; database hosts (``["db1:5432", "db2:5432"]``) put them on that PostgreSQL
      cluster: the constructor then returns a :class:`~runic.store.PostgresStore` (with
      ``dsn=`` or ``$RUNIC_DATABASE_URL`` for the rest of the connection settings; the
      durability modes ``"normal"``/``"fsync"`` mean ``"local"`` there);
    * ``durability``: ``"normal"`` or ``"fsync"`` (disc only; see the module documentation);
    * ``busy_timeout``: seconds a write keeps retrying while other processes hold the lock.

    Opening a file that is not a runic store, is damaged or truncated, or was written by a newer
    schema raises a :class:`~runic.store.StoreError` subclass naming the file, and writes
    nothing to it; a file written by an older schema is upgraded in place; an unwritable
    directory (or a read-only file system) raises :class:`~runic.store.StoreAccessError`.
    """

    kind: ClassVar[str] = "mnesia"

    def __new__(cls, runner_name: str = "", disc_copies: bool = True,
                dir: str | os.PathLike[str] | None = None,  # noqa: A002 - the public API's name
                nodes: Iterable[str] | None = None, **opts: Any) -> Any:
        """``nodes`` naming database hosts gives a :class:`~runic.store.PostgresStore` on them
        (Mnesia's tables replicated across nodes, on PostgreSQL): see :func:`_remote_nodes`."""
        remote = _remote_nodes(nodes)
        if not remote:
            return super().__new__(cls)
        from .postgres import PostgresStore  # psycopg: only for distributed tables

        pg_opts = {k: v for k, v in opts.items() if k not in ("busy_timeout",)}
        durability = pg_opts.pop("durability", None)
        if durability in _MNESIA_TO_PG:  # the SQLite modes keep their meaning: the primary's disk
            durability = _MNESIA_TO_PG[durability]
        if dir is not None:
            log.debug("MnesiaStore(%r, nodes=%r): dir is not used by tables on PostgreSQL", runner_name, remote)
        return PostgresStore(runner_name, nodes=remote, disc_copies=disc_copies, durability=durability, **pg_opts)

    def __init__(
        self,
        runner_name: str,
        disc_copies: bool = True,
        dir: str | os.PathLike[str] | None = None,  # noqa: A002 - the public API's name
        nodes: Iterable[str] | None = None,
        *,
        durability: str = "normal",
        busy_timeout: float = 30.0,
        **opts: Any,
    ) -> None:
        super().__init__(runner_name, **opts)  # (remote nodes: __new__ made a PostgresStore)
        if durability not in DURABILITY_MODES:
            raise StoreArgumentError(
                f"durability must be one of {sorted(DURABILITY_MODES)}, got {durability!r}"
            )
        if not isinstance(busy_timeout, (int, float)) or busy_timeout <= 0:
            raise StoreArgumentError(f"busy_timeout must be a positive number of seconds, got {busy_timeout!r}")
        self.disc_copies = bool(disc_copies)
        self.durability = durability
        self.busy_timeout = float(busy_timeout)
        if self.disc_copies:
            self.dir: str | None = os.path.abspath(os.fspath(dir)) if dir is not None else default_dir()
            path: str | None = os.path.join(self.dir, DB_FILE)
            synchronous = DURABILITY_MODES[durability]
        else:
            if dir is not None:
                log.debug("MnesiaStore(%r): dir is ignored for RAM tables", runner_name)
            scratch = _ram_scratch_dir()
            self.dir = scratch
            path = os.path.join(scratch, RAM_DB_FILE) if scratch else None
            synchronous = "OFF"
        self.path = path
        self._synchronous = synchronous
        self.table_names = {role: f"{runner_name}.{spec[0]}" for role, spec in _TABLES.items()}
        self.table_names["inbox"] = f"{runner_name}.{_INBOX[0]}"  # created on first use (cluster)
        self._inbox_exists = False
        self._dbh = _acquire_db(path, synchronous, self.busy_timeout, self.disc_copies)
        try:
            self._dbh.ensure_runner(runner_name, self.storage_type)
        except BaseException:
            _release_db(self._dbh)
            raise
        #: workflow key -> (epoch, cursor) after this handle's last fenced append (see the module docs)
        self._cursors: dict[Any, tuple[int, int]] = {}
        self._prepare_sql()
        log.debug("opened %r on %s", self, self._dbh.where)

    # ------------------------------------------------------------------ public extras

    @property
    def local_dir(self) -> str | None:
        """The store directory (disc), the actor system's scratch directory (RAM tables in an
        actor system), or ``None`` (in-process RAM tables)."""
        return self.dir

    def on_writer_start(self) -> None:
        """A worker host starts: take WAL checkpoints off its commit path
        (:meth:`checkpoint_in_background`; a worker host never forks)."""
        self.checkpoint_in_background()

    @property
    def storage_type(self) -> str:
        """``"disc_copies"`` or ``"ram_copies"``."""
        return "disc_copies" if self.disc_copies else "ram_copies"

    def checkpoint_in_background(self) -> bool:
        """Move WAL checkpoints of this file off the commit path, onto a thread of this process.

        SQLite otherwise checkpoints inside the commit that crosses its threshold, stalling that
        one commit for milliseconds; a write-heavy process (a Runner's worker host) gains ~10–20%
        per durable step. Returns ``False`` (and does nothing) for RAM tables. Only call it in a
        process that will not ``fork()`` afterwards: a child forked while the thread holds one of
        SQLite's mutexes inherits it locked. Stops when the last handle on the file closes.
        """
        self._check_open()
        return self._db().checkpoint_in_background()

    def check_integrity(self) -> None:
        """Run SQLite's full integrity check; raise :class:`CorruptStoreError` on any problem."""
        self._check_open()
        rows = self._db().read(lambda c: c.execute("PRAGMA integrity_check").fetchall(), "integrity check")
        problems = [r[0] for r in rows if r[0] != "ok"]
        if problems:
            raise CorruptStoreError(
                f"the store file {self._dbh.where} failed its integrity check: "
                f"{'; '.join(problems[:5])}. Restore it from a backup, or salvage it with "
                f"`sqlite3 {self._dbh.where} .recover`",
                self.path,
            )

    def meta(self) -> dict[str, Any]:
        """The ``runic_meta`` rows of the database (schema version, codec version, creator...)."""
        self._check_open()
        rows = self._db().read(lambda c: c.execute("SELECT key, value FROM runic_meta").fetchall(), "read meta")
        return dict(rows)

    # ------------------------------------------------------------------ internals

    def __repr__(self) -> str:
        state = " closed" if self._closed else ""
        return f"<MnesiaStore {self.runner_name!r} {self.storage_type} {self.path or ':memory:'}{state}>"

    def _where(self) -> str:
        return f" of the store file {self._dbh.where}"

    def _db(self) -> _Database:
        db = self._dbh
        if db.pid != os.getpid():
            if self.path is None:
                raise StoreClosedError(
                    f"the RAM tables of runner {self.runner_name!r} live in the process that "
                    "created them; this handle crossed a fork. Open the store inside an actor "
                    "system to share RAM tables between processes"
                )
            db = self._dbh = _acquire_db(self.path, self._synchronous, self.busy_timeout, self.disc_copies)
            db.ensure_runner(self.runner_name, self.storage_type)
        return db

    def _prepare_sql(self) -> None:
        t = {role: _quote(name) for role, name in self.table_names.items()}
        self._t = t
        self._gc_key = f"gc_gen/{self.runner_name}"
        # the current gc generation, read inside the statement (no extra round trip per write)
        gen = f"coalesce((SELECT value FROM runic_meta WHERE key={_sql_text(self._gc_key)}), 0)"
        self._sql = {
            "put_log": f"INSERT INTO {t['logs']} (workflow_id, log, crc, updated_at) VALUES (?, ?, ?, ?) "
                       "ON CONFLICT (workflow_id) DO UPDATE SET log=excluded.log, crc=excluded.crc, "
                       "updated_at=excluded.updated_at",
            "get_log": f"SELECT log, crc FROM {t['logs']} WHERE workflow_id=?",
            "log_keys": f"SELECT workflow_id FROM {t['logs']}",
            "exists": f"SELECT EXISTS (SELECT 1 FROM {t['logs']} WHERE workflow_id=?1) "
                      f"OR EXISTS (SELECT 1 FROM {t['events']} WHERE workflow_id=?1) "
                      f"OR EXISTS (SELECT 1 FROM {t['counters']} WHERE workflow_id=?1)",
            # (status rows carry no checksum: lookups also return the key they found, see _found)
            "owner": f"SELECT owner, epoch, node, generation, workflow_id FROM {t['status']} WHERE workflow_id=?",
            "new_stream": f"INSERT INTO {t['counters']} (workflow_id, count, crc) VALUES (?, 0, ?) "
                          "ON CONFLICT (workflow_id) DO NOTHING",
            "ins_row": f"INSERT INTO {t['events']} (workflow_id, seq, batch, event, crc) VALUES (?, ?, ?, ?, ?)",
            # the owner's fence folded into the insert: no row is written unless the epoch is current
            "ins_row_fenced": f"INSERT INTO {t['events']} (workflow_id, seq, batch, event, crc) "
                              f"SELECT ?1, ?2, ?3, ?4, ?5 WHERE coalesce((SELECT epoch FROM {t['status']} "
                              "WHERE workflow_id=?1), 0) = ?6",
            "end": f"SELECT seq, batch FROM {t['events']} WHERE workflow_id=? ORDER BY seq DESC LIMIT 1",
            "last_row": f"SELECT seq, batch, event, crc FROM {t['events']} WHERE workflow_id=? "
                        "ORDER BY seq DESC LIMIT 1",
            "count": f"SELECT count, crc FROM {t['counters']} WHERE workflow_id=?",
            # the row holding event ?2, then the rows that start at or before ?3
            "rows": f"SELECT seq, batch, event, crc FROM {t['events']} WHERE workflow_id=?1 AND seq >= "
                    f"coalesce((SELECT max(seq) FROM {t['events']} WHERE workflow_id=?1 AND seq <= ?2), ?2) "
                    "AND seq <= ?3 ORDER BY seq LIMIT ?4",
            "put_snapshot": f"INSERT INTO {t['snapshots']} (workflow_id, cursor, snapshot, crc, updated_at) "
                            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (workflow_id) DO UPDATE SET "
                            "cursor=excluded.cursor, snapshot=excluded.snapshot, crc=excluded.crc, "
                            "updated_at=excluded.updated_at",
            "get_snapshot": f"SELECT cursor, snapshot, crc FROM {t['snapshots']} WHERE workflow_id=?",
            # a value written by its first workflow is owned by it; by a second one, shared
            "own_fact": f"INSERT INTO {t['facts']} (fact_hash, value, crc, owner, pinned, gen) "
                        f"VALUES (?, ?, ?, ?, 0, {gen}) ON CONFLICT (fact_hash) DO UPDATE SET "
                        "value=excluded.value, crc=excluded.crc, gen=excluded.gen, "
                        "owner=CASE WHEN owner IS excluded.owner THEN owner ELSE NULL END",
            # (pinned values are never swept: they need no gc generation)
            "pin_fact": f"INSERT INTO {t['facts']} (fact_hash, value, crc, owner, pinned, gen) "
                        "VALUES (?, ?, ?, NULL, 1, 0) ON CONFLICT (fact_hash) DO UPDATE SET "
                        "value=excluded.value, crc=excluded.crc, pinned=1",
            "get_fact": f"SELECT value, crc FROM {t['facts']} WHERE fact_hash=?",
            "del_fact": f"DELETE FROM {t['facts']} WHERE fact_hash=?",
            "del_owned": f"DELETE FROM {t['facts']} WHERE owner=? AND pinned=0",
            "meta": "SELECT value FROM runic_meta WHERE key=?",
            "set_meta": "INSERT INTO runic_meta (key, value) VALUES (?, ?) "
                        "ON CONFLICT (key) DO UPDATE SET value=excluded.value",
            "acquire": f"INSERT INTO {t['status']} (workflow_id, owner, epoch, status, updated_at, node, "
                       "generation) VALUES (?, ?, ?, NULL, ?, ?, ?) ON CONFLICT (workflow_id) DO UPDATE SET "
                       "owner=excluded.owner, epoch=excluded.epoch, updated_at=excluded.updated_at, "
                       "node=excluded.node, generation=excluded.generation",
            "set_status": f"INSERT INTO {t['status']} (workflow_id, owner, epoch, status, updated_at) "
                          "VALUES (?, NULL, 0, ?, ?) ON CONFLICT (workflow_id) DO UPDATE SET "
                          "status=excluded.status, updated_at=excluded.updated_at",
            "get_status": f"SELECT status, workflow_id FROM {t['status']} WHERE workflow_id=?",
            "all_status": f"SELECT workflow_id, status FROM {t['status']} WHERE status IS NOT NULL",
            "workflow_keys": f"SELECT workflow_id FROM {t['logs']} UNION SELECT workflow_id FROM {t['counters']} "
                             f"UNION SELECT workflow_id FROM {t['events']} "
                             f"UNION SELECT workflow_id FROM {t['snapshots']} "
                             f"UNION SELECT workflow_id FROM {t['status']}",
            "node": f"SELECT generation, alive FROM {t['nodes']} WHERE node=?",
            "put_node": f"INSERT INTO {t['nodes']} (node, generation, alive, lease_expires_at, info, updated_at) "
                        "VALUES (?, ?, 1, ?, ?, ?) ON CONFLICT (node) DO UPDATE SET "
                        "generation=excluded.generation, alive=1, lease_expires_at=excluded.lease_expires_at, "
                        "info=excluded.info, updated_at=excluded.updated_at",
            "renew_node": f"UPDATE {t['nodes']} SET lease_expires_at=?, updated_at=? WHERE node=?",
            "end_node": f"UPDATE {t['nodes']} SET alive=0, lease_expires_at=?, updated_at=? WHERE node=?",
            "all_nodes": f"SELECT node, generation, alive, lease_expires_at, info FROM {t['nodes']} ORDER BY node",
            "running_owners": f"SELECT workflow_id, node, generation FROM {t['status']} "
                              "WHERE status='running' AND node IS NOT NULL",
            # -- the cluster (runic.store.cluster)
            "declare_expired": f"UPDATE {t['nodes']} SET alive=0, updated_at=?1 WHERE alive=1 "
                               "AND lease_expires_at <= ?1 AND node != ?2 RETURNING node, generation",
            "live_nodes": f"SELECT count(*) FROM {t['nodes']} WHERE alive=1 AND lease_expires_at > ?",
            "my_lease": f"SELECT 1 FROM {t['nodes']} WHERE node=? AND generation=? AND alive=1 "
                        "AND lease_expires_at > ?",
            "inbox_next": f"SELECT coalesce(max(seq), 0) + 1 FROM {t['inbox']} WHERE workflow_id=?",
            "inbox_put": f"INSERT INTO {t['inbox']} (workflow_id, seq, kind, payload, crc, created_at, done) "
                         "VALUES (?, ?, ?, ?, ?, ?, 0)",
            "inbox_all": f"SELECT workflow_id, seq, kind, payload, crc FROM {t['inbox']} WHERE done=0 "
                         "ORDER BY workflow_id, seq",
            "inbox_of": f"SELECT workflow_id, seq, kind, payload, crc FROM {t['inbox']} WHERE done=0 "
                        "AND workflow_id=? ORDER BY seq",
            "inbox_owned": f"SELECT i.workflow_id, i.seq, i.kind, i.payload, i.crc FROM {t['inbox']} AS i "
                           f"JOIN {t['status']} AS s ON s.workflow_id = i.workflow_id WHERE i.done=0 "
                           "AND s.node=? AND s.generation=? ORDER BY i.workflow_id, i.seq",
            "inbox_trim": f"DELETE FROM {t['inbox']} WHERE workflow_id=? AND seq < ?",
            "inbox_done": f"UPDATE {t['inbox']} SET done=1, payload=NULL, error=? WHERE workflow_id=? AND seq=?",
            "inbox_state": f"SELECT done, error FROM {t['inbox']} WHERE workflow_id=? AND seq=?",
            "inbox_delete": f"DELETE FROM {t['inbox']} WHERE workflow_id=?",
        }
        self._delete_sql = [
            f"DELETE FROM {t[role]} WHERE workflow_id=?"
            for role in ("logs", "events", "counters", "snapshots", "status")
        ]

    def _check_owner(self, conn: sqlite3.Connection, key: Any, epoch: int | None) -> None:
        if epoch is None:
            return
        row = conn.execute(self._sql["owner"], (key,)).fetchone()
        current = row[1] if row is not None else 0
        if epoch != current:
            raise StaleEpoch(current, row[0] if row is not None else None)

    # ------------------------------------------------------------------ primitives

    def _put_log(self, key: Any, blob: bytes, crc: int, updated_at: int) -> None:
        sql = self._sql["put_log"]
        self._db().write(lambda c: c.execute(sql, (key, blob, crc, updated_at)) and None, "save")

    def _get_log(self, key: Any) -> tuple[bytes, int] | None:
        sql = self._sql["get_log"]
        row = self._db().read(lambda c: c.execute(sql, (key,)).fetchone(), "load")
        return None if row is None else (row[0], row[1])

    def _log_keys(self) -> list[Any]:
        sql = self._sql["log_keys"]
        return [r[0] for r in self._db().read(lambda c: c.execute(sql).fetchall(), "list")]

    def _exists(self, key: Any) -> bool:
        sql = self._sql["exists"]
        return bool(self._db().read(lambda c: c.execute(sql, (key,)).fetchone()[0], "exists"))

    def _stale(self, conn: sqlite3.Connection, key: Any) -> StaleEpoch:
        row = conn.execute(self._sql["owner"], (key,)).fetchone()
        return StaleEpoch(row[1] if row is not None else 0, row[0] if row is not None else None)

    def _append(self, key: Any, row: AppendRow | None, epoch: int | None,
                facts: list[tuple[int, bytes, int]], status: tuple[str, int] | None) -> int:
        sql = self._sql
        cursors = self._cursors
        db = self._db()
        known = cursors.get(key) if epoch is not None else None
        if known is not None and known[0] == epoch and row is not None and not facts and status is None:
            # the hot path: one autocommit statement at the cursor this handle remembers
            base = known[1]
            first = base + 1
            params = (key, first, row.n, row.blob, row.crc(first), epoch)
            ins = sql["ins_row_fenced"]

            def one(conn: sqlite3.Connection) -> int | None:
                try:
                    written = conn.execute(ins, params).rowcount
                except sqlite3.IntegrityError:
                    return None  # someone else appended at that cursor: read the end below
                if not written:
                    raise self._stale(conn, key)
                return base + row.events

            try:
                count = db.write(one, "append", begin=False)
            except BaseException:
                cursors.pop(key, None)
                raise
            if count is not None:
                cursors[key] = (epoch, count)
                return count
            known = None
        write = self._append_in
        hint = known[1] if known is not None and known[0] == epoch else None

        def txn(conn: sqlite3.Connection) -> int:
            return write(conn, key, row, epoch, facts, status, hint)

        try:
            count = db.write(txn, "append")
        except BaseException:
            cursors.pop(key, None)
            raise
        self._remember(key, epoch, count)
        return count

    def _remember(self, key: Any, epoch: int | None, count: int) -> None:
        if epoch is not None:
            cursors = self._cursors
            if len(cursors) >= _CURSOR_CACHE:
                cursors.clear()
            cursors[key] = (epoch, count)

    def _append_in(self, conn: sqlite3.Connection, key: Any, row: AppendRow | None, epoch: int | None,
                   facts: list[tuple[int, bytes, int]], status: tuple[str, int] | None,
                   known: int | None) -> int:
        """One append inside the caller's transaction; raises :class:`StaleEpoch` having written
        nothing. ``known``: the cursor this handle remembers for ``key`` under ``epoch`` (the end
        is read only if it is ``None`` or turns out wrong)."""
        sql = self._sql
        if row is None:
            self._check_owner(conn, key, epoch)
            last = conn.execute(sql["end"], (key,)).fetchone()
            if last is None:
                conn.execute(sql["new_stream"], (key, count_crc(0, key_seed(key))))
            count = 0 if last is None else last[0] + (last[1] or 1) - 1
        else:
            count = self._insert_row(conn, key, row, epoch, known)
        if facts:
            conn.executemany(sql["own_fact"], [(_signed(h), b, c, key) for h, b, c in facts])
        if status is not None:
            conn.execute(sql["set_status"], (key, status[0], status[1]))
        return count

    def _insert_row(self, conn: sqlite3.Connection, key: Any, row: AppendRow, epoch: int | None,
                    known: int | None) -> int:
        """Insert ``row`` after the end of ``key``'s stream, fenced by ``epoch``; the new count."""
        sql = self._sql
        while True:
            if known is None:
                last = conn.execute(sql["end"], (key,)).fetchone()
                before = last[0] + (last[1] or 1) - 1 if last is not None else 0
            else:
                before = known
            first = before + 1
            try:
                if epoch is None:
                    conn.execute(sql["ins_row"], (key, first, row.n, row.blob, row.crc(first)))
                elif not conn.execute(sql["ins_row_fenced"],
                                      (key, first, row.n, row.blob, row.crc(first), epoch)).rowcount:
                    raise self._stale(conn, key)
            except sqlite3.IntegrityError:
                if known is None:
                    raise
                known = None  # the remembered cursor is behind: read the end, try there
                continue
            return before + row.events

    def _append_many(self, items: list[tuple[Any, AppendRow | None, int | None, list[tuple[int, bytes, int]],
                                             tuple[str, int] | None]]) -> list[int | StaleEpoch]:
        """Every item in one transaction (group commit); a stale item is skipped, having
        written nothing, and the others commit. One item: :meth:`_append` (its one-statement
        path when it can)."""
        if len(items) == 1:
            try:
                return [self._append(*items[0])]
            except StaleEpoch as stale:
                return [stale]
        cursors = self._cursors
        write = self._append_in

        def txn(conn: sqlite3.Connection) -> list[int | StaleEpoch]:
            out: list[int | StaleEpoch] = []
            for key, row, epoch, facts, status in items:
                known = cursors.get(key) if epoch is not None else None
                try:
                    out.append(write(conn, key, row, epoch, facts, status,
                                     known[1] if known is not None and known[0] == epoch else None))
                except StaleEpoch as stale:
                    out.append(stale)
            return out

        try:
            results = self._db().write(txn, "append")
        except BaseException:
            for key, *_ in items:
                cursors.pop(key, None)
            raise
        for (key, _row, epoch, _f, _s), res in zip(items, results):
            if isinstance(res, int):
                self._remember(key, epoch, res)
            else:
                cursors.pop(key, None)
        return results

    def _count(self, key: Any) -> tuple[int, int] | None:
        sql = self._sql["count"]
        row = self._db().read(lambda c: c.execute(sql, (key,)).fetchone(), "stream")
        return None if row is None else (row[0], row[1])

    def _last_row(self, key: Any) -> tuple[int, int, bytes, int] | None:
        sql = self._sql["last_row"]
        row = self._db().read(lambda c: c.execute(sql, (key,)).fetchone(), "stream")
        return None if row is None else (row[0], row[1], row[2], row[3])

    def _read_rows(self, key: Any, first: int, last: int, limit: int) -> list[tuple[int, int, bytes, int]]:
        sql = self._sql["rows"]
        return self._db().read(lambda c: c.execute(sql, (key, first, last, limit)).fetchall(), "stream")

    def _put_snapshot(self, key: Any, cursor: int, blob: bytes, crc: int) -> None:
        sql = self._sql["put_snapshot"]
        now = self._now_ms()
        self._db().write(lambda c: c.execute(sql, (key, cursor, blob, crc, now)) and None, "save_snapshot")

    def _get_snapshot(self, key: Any) -> tuple[int, bytes, int] | None:
        sql = self._sql["get_snapshot"]
        row = self._db().read(lambda c: c.execute(sql, (key,)).fetchone(), "load_snapshot")
        return None if row is None else (row[0], row[1], row[2])

    def _put_facts(self, items: list[tuple[int, bytes, int]]) -> None:
        sql = self._sql["pin_fact"]
        rows = [(_signed(h), b, c) for h, b, c in items]
        if len(rows) == 1:
            self._db().write(lambda c: c.execute(sql, rows[0]) and None, "save_fact")
        else:
            self._db().write(lambda c: c.executemany(sql, rows) and None, "save_fact")

    def _get_facts(self, fact_hashes: list[int]) -> list[tuple[int, bytes, int]]:
        table = self.table_names["facts"]
        out: list[tuple[int, bytes, int]] = []
        for i in range(0, len(fact_hashes), 500):  # SQLite's host-parameter limit
            chunk = [_signed(h) for h in fact_hashes[i:i + 500]]
            sql = (f"SELECT fact_hash, value, crc FROM {_quote(table)} "
                   f"WHERE fact_hash IN ({','.join('?' * len(chunk))})")
            rows: list[tuple[int, bytes, int]] = self._db().read(
                lambda c, sql=sql, chunk=chunk: c.execute(sql, chunk).fetchall(), "load_facts")  # type: ignore[misc]
            out.extend((h & 0xFFFFFFFFFFFFFFFF, v, crc) for h, v, crc in rows)
        return out

    def _get_fact(self, fact_hash: int) -> tuple[bytes, int] | None:
        sql = self._sql["get_fact"]
        row = self._db().read(lambda c: c.execute(sql, (_signed(fact_hash),)).fetchone(), "load_fact")
        return None if row is None else (row[0], row[1])

    def _delete_facts(self, fact_hashes: list[int]) -> int:
        sql = self._sql["del_fact"]

        def txn(conn: sqlite3.Connection) -> int:
            before = conn.total_changes
            conn.executemany(sql, [(_signed(h),) for h in fact_hashes])
            return conn.total_changes - before

        return self._db().write(txn, "delete_facts")

    def _workflow_keys(self) -> set[Any]:
        sql = self._sql["workflow_keys"]
        return {r[0] for r in self._db().read(lambda c: c.execute(sql).fetchall(), "gc")}

    def _gc_begin(self) -> int:
        sql = self._sql
        gc_key = self._gc_key

        def txn(conn: sqlite3.Connection) -> int:
            row = conn.execute(sql["meta"], (gc_key,)).fetchone()
            generation = (row[0] if row is not None else 0) + 1
            conn.execute(sql["set_meta"], (gc_key, generation))
            return generation

        return self._db().write(txn, "gc")

    def _gc_sweep(self, generation: int, referenced: set[int]) -> tuple[int, int]:
        t = self._t
        workflow_keys = self._sql["workflow_keys"]
        delete = self._sql["del_fact"]

        def txn(conn: sqlite3.Connection) -> tuple[int, int]:
            keys = {r[0] for r in conn.execute(workflow_keys)}
            doomed, kept = [], 0
            rows = conn.execute(f"SELECT fact_hash, owner FROM {t['facts']} WHERE pinned=0 AND gen<?",
                                (generation,))
            for signed, owner in rows:
                if owner is not None and owner in keys:
                    continue
                if signed & 0xFFFFFFFFFFFFFFFF in referenced:
                    kept += 1
                else:
                    doomed.append((signed,))
            conn.executemany(delete, doomed)
            return len(doomed), kept

        return self._db().write(txn, "gc")

    def _compact(self) -> None:
        try:
            self._db().truncate_wal()
        except StoreError as exc:  # readers kept it busy: the next checkpoint will do
            log.debug("gc: WAL not truncated: %s", exc)

    def _delete(self, key: Any) -> None:
        self._cursors.pop(key, None)
        stmts = self._delete_sql
        del_owned = self._sql["del_owned"]

        has_inbox = self._has_inbox
        del_inbox = self._sql["inbox_delete"]

        def txn(conn: sqlite3.Connection) -> None:
            for sql in stmts:
                conn.execute(sql, (key,))
            conn.execute(del_owned, (key,))
            if has_inbox(conn):
                conn.execute(del_inbox, (key,))

        self._db().write(txn, "delete")

    def _acquire(self, key: Any, owner: str, now_ms: int, node: str | None,
                 generation: int | None) -> int:
        return self._acquire_many([key], owner, now_ms, node, generation)[0]

    def _acquire_many(self, keys: list[Any], owner: str, now_ms: int, node: str | None,
                      generation: int | None) -> list[int]:
        seq_key = f"epoch_seq/{self.runner_name}"
        sql = self._sql
        for key in keys:
            self._cursors.pop(key, None)

        def txn(conn: sqlite3.Connection) -> list[int]:
            row = conn.execute(sql["meta"], (seq_key,)).fetchone()
            last = row[0] if row is not None else 0
            out = []
            for key in keys:
                cur = conn.execute(sql["owner"], (key,)).fetchone()
                epoch = max(last, cur[1] if cur is not None else 0) + 1
                conn.execute(sql["acquire"], (key, owner, epoch, now_ms, node, generation))
                out.append(epoch)
                last = epoch
            conn.execute(sql["set_meta"], (seq_key, last))
            return out

        return self._db().write(txn, "acquire")

    def _found(self, row: Any, key: Any, index: int) -> Any:
        """``row`` of a status lookup of ``key``, checked: a damaged page of the status table can
        make SQLite's search return another workflow's row (measured with flipped bits: the
        status of ``wf-4`` answered with ``wfm3``'s), which would be different data, not an
        error."""
        if row is not None and (row[index] != key or type(row[index]) is not type(key)):
            raise CorruptStoreError(
                f"the status row of workflow {self._unkey(key)!r} in table {self.table_names['status']!r}"
                f"{self._where()} is damaged (a lookup found another key). Restore the store from a "
                "backup; run check_integrity() for details", self.path)
        return row

    def _get_owner(self, key: Any) -> tuple[str, int, str | None, int | None] | None:
        sql = self._sql["owner"]
        row = self._found(self._db().read(lambda c: c.execute(sql, (key,)).fetchone(), "owner"), key, 4)
        if row is None or row[0] is None:
            return None
        return (row[0], row[1], row[2], row[3])

    def _set_status(self, key: Any, status: str, epoch: int | None, now_ms: int) -> None:
        sql = self._sql["set_status"]
        check = self._check_owner

        def txn(conn: sqlite3.Connection) -> None:
            check(conn, key, epoch)
            conn.execute(sql, (key, status, now_ms))

        self._db().write(txn, "set_status")

    def _get_status(self, key: Any) -> str | None:
        sql = self._sql["get_status"]
        row = self._found(self._db().read(lambda c: c.execute(sql, (key,)).fetchone(), "status"), key, 1)
        return None if row is None else row[0]

    def _status_times(self) -> list[tuple[Any, int]]:
        sql = f"SELECT workflow_id, updated_at FROM {self._t['status']}"
        rows = self._db().read(lambda c: c.execute(sql).fetchall(), "status_times")
        return [(r[0], r[1]) for r in rows]

    def _all_status(self) -> list[tuple[Any, str]]:
        sql = self._sql["all_status"]
        return [tuple(r) for r in self._db().read(lambda c: c.execute(sql).fetchall(), "list_status")]

    # -- node leases

    def _register_node(self, node: str, lease_ms: int, info: bytes | None, now_ms: int) -> int:
        sql = self._sql

        def txn(conn: sqlite3.Connection) -> int:
            row = conn.execute(sql["node"], (node,)).fetchone()
            generation = 1 if row is None else row[0] + 1
            conn.execute(sql["put_node"], (node, generation, now_ms + lease_ms, info, now_ms))
            return generation

        return self._db().write(txn, "register_node")

    def _renew_node(self, node: str, generation: int, lease_ms: int, now_ms: int) -> int:
        sql = self._sql

        def txn(conn: sqlite3.Connection) -> int:
            row = conn.execute(sql["node"], (node,)).fetchone()
            if row is None or row[0] != generation or not row[1]:
                raise StaleNode(None if row is None else row[0], bool(row and row[1]))
            conn.execute(sql["renew_node"], (now_ms + lease_ms, now_ms, node))
            return now_ms + lease_ms

        return self._db().write(txn, "renew_node")

    def _end_node(self, node: str, generation: int, now_ms: int) -> bool:
        sql = self._sql

        def txn(conn: sqlite3.Connection) -> bool:
            row = conn.execute(sql["node"], (node,)).fetchone()
            if row is None or row[0] != generation or not row[1]:
                return False
            conn.execute(sql["end_node"], (now_ms, now_ms, node))
            return True

        return self._db().write(txn, "end_node")

    def _all_nodes(self) -> list[tuple[str, int, bool, int, bytes | None]]:
        sql = self._sql["all_nodes"]
        rows = self._db().read(lambda c: c.execute(sql).fetchall(), "nodes")
        return [(r[0], r[1], bool(r[2]), r[3], r[4]) for r in rows]

    def _running_owners(self) -> list[tuple[Any, str, int]]:
        sql = self._sql["running_owners"]
        return [tuple(r) for r in self._db().read(lambda c: c.execute(sql).fetchall(), "nodes")]

    def _orphans(self, statuses: list[str], now_ms: int) -> list[Any]:
        t = self._t
        marks = ",".join("?" * len(statuses))
        sql = (f"SELECT s.workflow_id FROM {t['status']} AS s LEFT JOIN {t['nodes']} AS n "
               f"ON n.node = s.node WHERE s.status IN ({marks}) AND (s.node IS NULL OR n.node IS NULL "
               "OR n.generation IS NOT s.generation OR n.alive = 0 OR n.lease_expires_at <= ?)")
        params = [*statuses, now_ms]
        return [r[0] for r in self._db().read(lambda c: c.execute(sql, params).fetchall(), "orphans")]

    # -- the cluster: takeover and inbox (see runic.store.cluster)

    def _orphans_sql(self, order: bool) -> str:
        t = self._t
        return (f"SELECT s.workflow_id FROM {t['status']} AS s LEFT JOIN {t['nodes']} AS n "
                "ON n.node = s.node WHERE s.status = 'running' AND (s.node IS NULL OR n.node IS NULL "
                "OR n.generation IS NOT s.generation OR n.alive = 0 OR n.lease_expires_at <= ?)"
                + (" ORDER BY s.updated_at, s.workflow_id" if order else ""))

    def _takeover(self, node: str, generation: int, owner: str, limit: int | None,
                  now_ms: int) -> tuple[list[tuple[str, int]], list[tuple[Any, int]], int, int]:
        sql = self._sql
        orphans_sql = self._orphans_sql(order=True)
        seq_key = f"epoch_seq/{self.runner_name}"

        def txn(conn: sqlite3.Connection) -> tuple[list[tuple[str, int]], list[tuple[Any, int]], int, int]:
            dead = [(r[0], r[1]) for r in conn.execute(sql["declare_expired"], (now_ms, node)).fetchall()]
            if conn.execute(sql["my_lease"], (node, generation, now_ms)).fetchone() is None:
                return dead, [], 0, 0  # this node's own lease ran out: it takes nothing
            live = conn.execute(sql["live_nodes"], (now_ms,)).fetchone()[0]
            orphans = [r[0] for r in conn.execute(orphans_sql, (now_ms,)).fetchall()]
            claimed = []
            row = conn.execute(sql["meta"], (seq_key,)).fetchone()
            last = row[0] if row is not None else 0
            for key in orphans[:fair_share(len(orphans), live, limit)]:
                cur = conn.execute(sql["owner"], (key,)).fetchone()
                last = max(last, cur[1] if cur is not None else 0) + 1
                conn.execute(sql["acquire"], (key, owner, last, now_ms, node, generation))
                claimed.append((key, last))
            if claimed:
                conn.execute(sql["set_meta"], (seq_key, last))
            return dead, claimed, len(orphans), live

        return self._db().write(txn, "takeover")

    def _has_inbox(self, conn: sqlite3.Connection) -> bool:
        """Whether this runner's inbox table exists (it is created by the first request: a
        store no cluster uses keeps the layout it had)."""
        if not self._inbox_exists:
            self._inbox_exists = conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?",
                                              (self.table_names["inbox"],)).fetchone() is not None
        return self._inbox_exists

    def _inbox_put(self, key: Any, kind: str, blob: bytes, crc: int, now_ms: int) -> int:
        sql = self._sql
        table = self._t["inbox"]
        index = _quote(f"{self.table_names['inbox']}.pending")

        def txn(conn: sqlite3.Connection) -> int:
            if not self._has_inbox(conn):
                conn.execute(f"CREATE TABLE IF NOT EXISTS {table} {_INBOX[1]}")
                conn.execute(f"CREATE INDEX IF NOT EXISTS {index} ON {table} (workflow_id, seq) WHERE done = 0")
            seq = conn.execute(sql["inbox_next"], (key,)).fetchone()[0]
            conn.execute(sql["inbox_put"], (key, seq, kind, blob, crc, now_ms))
            return int(seq)

        return self._db().write(txn, "inbox_put")

    def _inbox_pending(self, node: str | None, generation: int | None,
                       key: Any = None) -> list[tuple[Any, int, str, bytes | None, int]]:
        args: tuple[Any, ...]
        if key is not None:
            sql, args = self._sql["inbox_of"], (key,)
        elif node is None:
            sql, args = self._sql["inbox_all"], ()
        else:
            sql, args = self._sql["inbox_owned"], (node, generation)
        rows = self._db().read(lambda c: c.execute(sql, args).fetchall() if self._has_inbox(c) else [],
                               "inbox_pending")
        return [(r[0], r[1], r[2], r[3], r[4]) for r in rows]

    def _inbox_ack(self, key: Any, seq: int, error: str | None) -> None:
        trim, done = self._sql["inbox_trim"], self._sql["inbox_done"]

        def txn(conn: sqlite3.Connection) -> None:
            if self._has_inbox(conn):
                conn.execute(trim, (key, seq))
                conn.execute(done, (error, key, seq))

        self._db().write(txn, "inbox_ack")

    def _inbox_state(self, key: Any, seq: int) -> tuple[bool, str | None] | None:
        sql = self._sql["inbox_state"]
        row = self._db().read(lambda c: c.execute(sql, (key, seq)).fetchone() if self._has_inbox(c) else None,
                              "inbox_state")
        return None if row is None else (bool(row[0]), row[1])

    def _table_specs(self) -> dict[str, tuple[str, tuple[str, ...]]]:
        specs = {self.table_names[role]: (spec[1], spec[2]) for role, spec in _TABLES.items()}
        specs[self.table_names["inbox"]] = ("ordered_set", ("key", "kind", "payload", "done", "error"))
        return specs

    def _table_size(self, name: str) -> int:
        # the event table's size counts events (Mnesia's records), not rows (one per append)
        sql = (f"SELECT coalesce(sum(max(batch, 1)), 0) FROM {_quote(name)}" if name == self.table_names["events"]
               else f"SELECT count(*) FROM {_quote(name)}")
        if name == self.table_names["inbox"]:
            return self._db().read(lambda c: c.execute(sql).fetchone()[0] if self._has_inbox(c) else 0, "table_info")
        return self._db().read(lambda c: c.execute(sql).fetchone()[0], "table_info")

    def _drop_tables(self) -> None:
        self._cursors.clear()
        names = list(self.table_names.values())
        runner = self.runner_name

        def txn(conn: sqlite3.Connection) -> None:
            for name in names:
                conn.execute(f"DROP TABLE IF EXISTS {_quote(name)}")
            conn.execute("DELETE FROM runic_tables WHERE runner=?", (runner,))
            # the epoch sequence stays, so epochs handed out later never repeat old ones

        db = self._db()
        db.write(txn, "drop_tables")
        db.runners.discard(runner)
        log.info("dropped the tables of runner %r from %s", runner, db.where)

    def _close(self) -> None:
        _release_db(self._dbh)
