"""MnesiaStore: transactional tables with Mnesia's shape, on SQLite.

This is the port of Runic's ``Runic.Runner.Store.Mnesia``. Like a Mnesia node directory, one
database file per directory (``<dir>/runic.db``) holds the tables of every runner that uses it;
each runner has its own tables, named after it:

=============================  ===========  ==============================================
table                          type         attributes
=============================  ===========  ==============================================
``<runner>.WorkflowStore``     set          ``workflow_id, log, updated_at``
``<runner>.EventStream``       ordered_set  ``key=(workflow_id, seq), event``
``<runner>.EventCounters``     set          ``workflow_id, count``
``<runner>.FactStore``         set          ``fact_hash, value``
``<runner>.SnapshotStore``     set          ``workflow_id, cursor, snapshot, updated_at``
``<runner>.WorkflowStatus``    set          ``workflow_id, owner, epoch, status, updated_at``
=============================  ===========  ==============================================

Writes are ACID transactions (``BEGIN IMMEDIATE`` … ``COMMIT``); an append is one transaction
that reads the counter, writes the events and the new counter (and, optionally, fact values).
Reads take no transaction. The file uses SQLite's write-ahead log (WAL). SQLite copies the WAL
back into the file inside the commit that crosses its threshold; a write-heavy process that
never forks afterwards may move that work to a thread with
:meth:`MnesiaStore.checkpoint_in_background` (the Runner's worker hosts do).

Durability (``disc_copies=True``):

* ``durability="normal"`` (default, ``synchronous=NORMAL``): every call that returned is in the
  operating system when it returns, so it survives ``kill -9`` of any process (measured: 0
  acknowledged appends lost, where Mnesia disc_copies loses up to ~140). On power loss or a
  kernel crash the file stays consistent, but the most recent commits may roll back.
* ``durability="fsync"`` (``synchronous=FULL``): each commit is also flushed to the disk before
  it returns, so it survives power loss too (if the disk honours flushes). About 5x slower.

RAM tables (``disc_copies=False``) hold no durability promise: inside an actor system they live
in a file in the system's scratch directory (on ``/dev/shm``), shared by every process of the
system and removed when it stops; outside any actor system they live in the memory of the
creating process, shared by the store handles of that process, until it exits.

Several processes may use one directory at once. Write transactions are serialised by an
exclusive ``flock`` on ``<dir>/runic.db.lock`` (which keeps writers fair) and SQLite's own
locks; ``database is locked`` is retried until ``busy_timeout`` and only then raised, as
:class:`~runic.store.StoreBusyError`.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import random
import socket
import sqlite3
import threading
import time
from typing import Any, Callable, ClassVar, Iterable, TypeVar

from .. import codec
from .base import BaseStore, _Stale
from .errors import (
    CorruptStoreError,
    ForeignStoreError,
    SchemaVersionError,
    StoreAccessError,
    StoreArgumentError,
    StoreBusyError,
    StoreClosedError,
    StoreError,
)

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

SCHEMA_VERSION = 1
"""Version of the table layout written by this runic (recorded in ``runic_meta``)."""

APPLICATION_ID = 0x52554E43
"""SQLite ``application_id`` of runic store files (``"RUNC"``): tells them from other databases."""

DB_FILE = "runic.db"
"""File name of the disc database inside a store directory."""

RAM_DB_FILE = "runic-ram.db"
"""File name of the RAM database inside an actor system's scratch directory."""

DURABILITY_MODES: dict[str, str] = {"normal": "NORMAL", "fsync": "FULL"}

#: migrations from schema version N to N+1, run in one transaction when an older file is opened
_MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {}

_SQLITE_MAGIC = b"SQLite format 3\x00"
_I63 = 1 << 63
_U64 = 1 << 64

T = TypeVar("T")

# role -> (table suffix, Mnesia type, attributes, column definitions)
_TABLES: dict[str, tuple[str, str, tuple[str, ...], str]] = {
    "logs": ("WorkflowStore", "set", ("workflow_id", "log", "updated_at"),
             "(workflow_id PRIMARY KEY NOT NULL, log BLOB NOT NULL, updated_at INTEGER NOT NULL)"),
    "events": ("EventStream", "ordered_set", ("key", "event"),
               "(workflow_id NOT NULL, seq INTEGER NOT NULL, event BLOB NOT NULL, "
               "PRIMARY KEY (workflow_id, seq)) WITHOUT ROWID"),
    "counters": ("EventCounters", "set", ("workflow_id", "count"),
                 "(workflow_id PRIMARY KEY NOT NULL, count INTEGER NOT NULL) WITHOUT ROWID"),
    "facts": ("FactStore", "set", ("fact_hash", "value"),
              "(fact_hash INTEGER PRIMARY KEY, value BLOB NOT NULL)"),
    "snapshots": ("SnapshotStore", "set", ("workflow_id", "cursor", "snapshot", "updated_at"),
                  "(workflow_id PRIMARY KEY NOT NULL, cursor INTEGER NOT NULL, "
                  "snapshot BLOB NOT NULL, updated_at INTEGER NOT NULL)"),
    "status": ("WorkflowStatus", "set", ("workflow_id", "owner", "epoch", "status", "updated_at"),
               "(workflow_id PRIMARY KEY NOT NULL, owner TEXT, epoch INTEGER NOT NULL, "
               "status TEXT, updated_at INTEGER NOT NULL) WITHOUT ROWID"),
}


def local_node() -> str:
    """The name of this node: ``$RUNIC_NODE`` if set, else the host name."""
    return os.environ.get("RUNIC_NODE") or socket.gethostname()


def default_dir() -> str:
    """The default store directory: ``$RUNIC_DATA_DIR``, else ``./runic-data/<node>``."""
    env = os.environ.get("RUNIC_DATA_DIR")
    if env:
        return os.path.abspath(env)
    return os.path.abspath(os.path.join("runic-data", local_node()))


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _signed(h: int) -> int:
    return h - _U64 if h >= _I63 else h


def _is_busy(exc: BaseException) -> bool:
    msg = str(exc).lower()
    return "locked" in msg or "busy" in msg


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


# ----------------------------------------------------------------------------- database files

#: Background WAL checkpoints (opt-in, :meth:`MnesiaStore.checkpoint_in_background`): a thread
#: checkpoints once the WAL passes ``_CHECKPOINT_WAL_BYTES``, and SQLite's own automatic
#: checkpoint, which runs inside a commit and stalls it for milliseconds, is pushed out to
#: ``_AUTOCHECKPOINT_PAGES`` as a safety net. Opt-in because a thread that may hold SQLite's
#: mutexes must never live in a process that later forks: the child would inherit them locked
#: and deadlock in its first ``sqlite3.connect``. Worker hosts turn it on; they never fork.
_CHECKPOINT_WAL_BYTES = 4 * 1024 * 1024
_CHECKPOINT_INTERVAL_S = 0.2
_AUTOCHECKPOINT_PAGES = 16384


class _Checkpointer(threading.Thread):
    """Checkpoints a database's WAL in the background (PASSIVE: never blocks a writer)."""

    def __init__(self, path: str) -> None:
        super().__init__(name="runic-wal-checkpoint", daemon=True)
        self.path = path
        self.stopping = threading.Event()

    def run(self) -> None:
        wal = self.path + "-wal"
        conn: sqlite3.Connection | None = None
        try:
            conn = sqlite3.connect(self.path, timeout=5.0, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout=5000")
            while not self.stopping.wait(_CHECKPOINT_INTERVAL_S):
                try:
                    if os.path.getsize(wal) < _CHECKPOINT_WAL_BYTES:
                        continue
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except (OSError, sqlite3.Error) as exc:  # a later tick tries again
                    log.debug("background WAL checkpoint of %s: %s", self.path, exc)
        except sqlite3.Error as exc:
            log.debug("background WAL checkpointer of %s could not start: %s", self.path, exc)
        finally:
            if conn is not None:
                with contextlib.suppress(sqlite3.Error):
                    conn.close()

    def stop(self) -> None:
        self.stopping.set()
        if self.is_alive():
            self.join(2.0)


class _Database:
    """One SQLite database opened by this process: a connection, its lock and the file lock.

    Shared by every :class:`MnesiaStore` handle of this process on the same file (and the same
    durability); closed when the last handle closes. The in-process RAM database (``path is
    None``) is never closed: it lives as long as the process.
    """

    def __init__(self, path: str | None, synchronous: str, busy_timeout: float) -> None:
        self.path = path
        self.synchronous = synchronous
        self.busy_timeout = busy_timeout
        self.pid = os.getpid()
        self.lock = threading.RLock()
        self.refs = 0
        self.lock_fd: int | None = None
        self.checkpointer: _Checkpointer | None = None
        self.runners: set[str] = set()
        self.where = path if path is not None else "<in-process RAM database>"
        if path is not None:
            self._precheck(path)
            self._open_lock_file(path + ".lock")
        try:
            self.conn = self._connect()
        except BaseException:
            self._close_lock_file()
            raise
        self.ident = self.file_identity()

    def file_identity(self) -> tuple[int, int] | None:
        """``(device, inode)`` of the database file now (``None`` if absent or in memory)."""
        if self.path is None:
            return None
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_dev, st.st_ino)

    # -- opening

    def _precheck(self, path: str) -> None:
        directory = os.path.dirname(path)
        try:
            os.makedirs(directory, exist_ok=True)
        except OSError as exc:
            raise self._access_error(f"cannot create the store directory {directory}: {exc.strerror or exc}") from exc
        try:
            size = os.path.getsize(path)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise self._access_error(f"cannot read the store file {path}: {exc.strerror or exc}") from exc
        if size == 0:
            return
        try:
            with open(path, "rb") as fh:
                head = fh.read(100)
        except OSError as exc:
            raise self._access_error(f"cannot read the store file {path}: {exc.strerror or exc}") from exc
        if len(head) < 100 or head[:16] != _SQLITE_MAGIC:
            raise CorruptStoreError(
                f"the store file {path} is not a SQLite database (it is corrupt, truncated, or "
                "some other kind of file). Nothing was changed. Move it away (or restore it from "
                "a backup) and open the store again to start a new one",
                path,
            )
        page_size = int.from_bytes(head[16:18], "big")
        page_size = 65536 if page_size == 1 else page_size
        pages = int.from_bytes(head[28:32], "big")
        header_valid = head[24:28] == head[92:96]
        try:
            wal_size = os.path.getsize(path + "-wal")
        except OSError:
            wal_size = 0
        # with frames in the WAL the main file may legitimately lag behind (a checkpoint cut
        # short by a crash is redone from the WAL on open), so only judge a checkpointed file
        if wal_size == 0 and page_size >= 512 and (
            size % page_size != 0 or (header_valid and pages and size < pages * page_size)
        ):
            raise CorruptStoreError(
                f"the store file {path} is truncated ({size} bytes, its header says "
                f"{pages} pages of {page_size} bytes). Nothing was changed. Restore it from a "
                "backup, or salvage what is left with `sqlite3 {path} .recover` into a new file",
                path,
            )

    def _open_lock_file(self, lock_path: str) -> None:
        try:
            self.lock_fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise self._access_error(f"cannot create the lock file {lock_path}: {exc.strerror or exc}") from exc

    def _close_lock_file(self) -> None:
        if self.lock_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self.lock_fd)
            self.lock_fd = None

    def _access_error(self, what: str) -> StoreAccessError:
        directory = os.path.dirname(self.path) if self.path else "?"
        return StoreAccessError(
            f"{what}. Make the store directory {directory} and its files writable by this user "
            "(or its parent, if it does not exist yet), or pass dir= (or set RUNIC_DATA_DIR) to "
            "a writable directory",
            self.path,
        )

    def _connect(self) -> sqlite3.Connection:
        target = self.path if self.path is not None else ":memory:"
        try:
            conn = sqlite3.connect(
                target,
                timeout=min(self.busy_timeout, 5.0),
                isolation_level=None,
                check_same_thread=False,
                cached_statements=256,
            )
        except sqlite3.Error as exc:
            raise self.map_error(exc, "open") from exc
        try:
            # busy_timeout before journal_mode: switching to WAL takes a lock
            conn.execute(f"PRAGMA busy_timeout={int(min(self.busy_timeout, 5.0) * 1000)}")
            self.conn = conn
            # identify the file before changing anything in it (switching to WAL writes)
            self.read(self._identify, "open")
            if self.path is not None:
                mode = self._retry(lambda: conn.execute("PRAGMA journal_mode=WAL").fetchone()[0], "open")
                if str(mode).lower() != "wal":
                    raise StoreAccessError(
                        f"the store file {self.path} cannot use write-ahead logging (journal_mode "
                        f"stayed {mode!r}); put the store on a local file system",
                        self.path,
                    )
            conn.execute(f"PRAGMA synchronous={self.synchronous}")
            self._init_schema()
        except BaseException as exc:
            conn.close()
            if isinstance(exc, sqlite3.Error):
                raise self.map_error(exc, "open") from exc
            raise
        return conn

    def _identify(self, conn: sqlite3.Connection) -> int | None:
        """Check that the file is a runic store this version can use, changing nothing.

        Returns its schema version, or ``None`` for a new (empty) database.
        """
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if app_id == 0 and not names:
            return None
        if app_id != APPLICATION_ID or "runic_meta" not in names:
            raise ForeignStoreError(
                f"the file {self.where} is a SQLite database that runic did not create "
                f"(application_id {app_id:#x}, tables {sorted(names)[:5]}). Nothing was "
                "changed. Point the store at another directory (dir= or RUNIC_DATA_DIR), or "
                "move the file away",
                self.path,
            )
        row = conn.execute("SELECT value FROM runic_meta WHERE key='schema_version'").fetchone()
        found = row[0] if row else None
        if not isinstance(found, int) or found < 1:
            raise CorruptStoreError(
                f"the store file {self.where} has no valid schema version (found {found!r}); "
                "it is damaged. Restore it from a backup or move it away",
                self.path,
            )
        if found > SCHEMA_VERSION:
            raise SchemaVersionError(
                f"the store file {self.where} uses schema version {found}, newer than the "
                f"version {SCHEMA_VERSION} this runic supports. Nothing was changed. Upgrade "
                "runic to open it (or use another directory)",
                self.path, found, SCHEMA_VERSION,
            )
        if found < SCHEMA_VERSION:
            for version in range(found, SCHEMA_VERSION):
                if version not in _MIGRATIONS:
                    raise SchemaVersionError(
                        f"the store file {self.where} uses schema version {found}, and this runic "
                        f"has no migration from version {version} to {version + 1}. Nothing was "
                        "changed. Open it with the runic version that wrote it and export the "
                        "workflows",
                        self.path, found, SCHEMA_VERSION,
                    )
        return found

    def _init_schema(self) -> None:
        def txn(conn: sqlite3.Connection) -> None:
            found = self._identify(conn)  # again: another process may have changed it meanwhile
            if found is None:
                self._create_schema(conn)
                return
            while found < SCHEMA_VERSION:
                step = _MIGRATIONS[found]
                log.info("migrating store %s from schema %d to %d", self.where, found, found + 1)
                step(conn)
                found += 1
                conn.execute("UPDATE runic_meta SET value=? WHERE key='schema_version'", (found,))
                conn.execute(f"PRAGMA user_version={found}")

        self.write(txn, "open")

    def _create_schema(self, conn: sqlite3.Connection) -> None:
        from .. import __version__

        conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        conn.execute("CREATE TABLE runic_meta (key TEXT PRIMARY KEY NOT NULL, value)")
        conn.execute(
            "CREATE TABLE runic_tables (name TEXT PRIMARY KEY NOT NULL, runner TEXT NOT NULL, "
            "role TEXT NOT NULL, type TEXT NOT NULL, attributes TEXT NOT NULL, "
            "storage_type TEXT NOT NULL, created_at INTEGER NOT NULL)"
        )
        conn.executemany(
            "INSERT INTO runic_meta (key, value) VALUES (?, ?)",
            [
                ("schema_version", SCHEMA_VERSION),
                ("codec_version", codec.CODEC_VERSION),
                ("created_by", f"runic {__version__}"),
                ("created_at", time.time_ns() // 1_000_000),
                ("node", local_node()),
            ],
        )
        log.info("created runic store schema version %d in %s", SCHEMA_VERSION, self.where)

    def ensure_runner(self, runner_name: str, storage_type: str) -> None:
        """Create the tables of ``runner_name`` if missing (idempotent)."""
        if runner_name in self.runners:
            return

        def txn(conn: sqlite3.Connection) -> None:
            now = time.time_ns() // 1_000_000
            for role, (suffix, kind, attrs, columns) in _TABLES.items():
                name = f"{runner_name}.{suffix}"
                conn.execute(f"CREATE TABLE IF NOT EXISTS {_quote(name)} {columns}")
                conn.execute(
                    "INSERT OR IGNORE INTO runic_tables (name, runner, role, type, attributes, "
                    "storage_type, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (name, runner_name, role, kind, ",".join(attrs), storage_type, now),
                )

        self.write(txn, "create tables")
        self.runners.add(runner_name)

    # -- transactions

    def _busy(self, exc: sqlite3.OperationalError, what: str, deadline: float | None) -> float:
        """Handle a ``database is locked`` error: sleep a little and return the deadline, or
        raise :class:`StoreBusyError` once ``busy_timeout`` has passed."""
        now = time.monotonic()
        if deadline is None:
            deadline = now + self.busy_timeout
        elif now >= deadline:
            raise StoreBusyError(
                f"{what} on the store {self.where} gave up after {self.busy_timeout:g} s: "
                f"the database stayed locked by another process ({exc}). Check for a stuck "
                "process holding it, or raise busy_timeout",
                self.path,
            ) from exc
        log.debug("%s on %s: %s; retrying", what, self.where, exc)
        time.sleep(0.001 + random.random() * 0.01)
        return deadline

    def _retry(self, fn: Callable[[], T], what: str) -> T:
        deadline: float | None = None
        while True:
            try:
                return fn()
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc):
                    raise
                deadline = self._busy(exc, what, deadline)

    def write(self, fn: Callable[[sqlite3.Connection], T], what: str) -> T:
        """Run ``fn(conn)`` in one write transaction, serialised across threads and processes.

        Threads of this process take :attr:`lock`; processes take an exclusive ``flock`` on the
        side file (fair between writers, released by the kernel if the holder dies), then
        SQLite's own write lock (``BEGIN IMMEDIATE``). A busy database is retried until
        ``busy_timeout``.
        """
        with self.lock:
            conn = self.conn
            fd = self.lock_fd
            deadline: float | None = None
            while True:
                busy: sqlite3.OperationalError | None = None
                if fd is not None:
                    fcntl.flock(fd, fcntl.LOCK_EX)
                try:
                    conn.execute("BEGIN IMMEDIATE")
                    try:
                        result = fn(conn)
                        conn.execute("COMMIT")
                    except BaseException:
                        if conn.in_transaction:
                            with contextlib.suppress(sqlite3.Error):
                                conn.execute("ROLLBACK")
                        raise
                    return result
                except sqlite3.OperationalError as exc:
                    if not _is_busy(exc):
                        raise self.map_error(exc, what) from exc
                    busy = exc
                except sqlite3.Error as exc:
                    raise self.map_error(exc, what) from exc
                finally:
                    if fd is not None:
                        fcntl.flock(fd, fcntl.LOCK_UN)
                deadline = self._busy(busy, what, deadline)  # sleeps without the file lock

    def read(self, fn: Callable[[sqlite3.Connection], T], what: str) -> T:
        """Run ``fn(conn)`` outside any explicit transaction (a "dirty" read)."""
        with self.lock:
            conn = self.conn
            deadline: float | None = None
            while True:
                try:
                    return fn(conn)
                except sqlite3.OperationalError as exc:
                    if not _is_busy(exc):
                        raise self.map_error(exc, what) from exc
                    deadline = self._busy(exc, what, deadline)
                except sqlite3.Error as exc:
                    raise self.map_error(exc, what) from exc

    def map_error(self, exc: sqlite3.Error, what: str) -> StoreError:
        """Translate a SQLite error into a store exception that names the file."""
        msg = str(exc)
        low = msg.lower()
        if "not a database" in low or "malformed" in low or "corrupt" in low:
            return CorruptStoreError(
                f"{what} failed: the store file {self.where} is damaged ({msg}). Restore it "
                f"from a backup, or salvage it with `sqlite3 {self.where} .recover` into a new "
                "file; run MnesiaStore.check_integrity() for details",
                self.path,
            )
        if "readonly" in low or "read-only" in low or "unable to open" in low or "permission" in low:
            return self._access_error(f"{what} failed on the store file {self.where}: {msg}")
        if "no such table" in low:
            return CorruptStoreError(
                f"{what} failed: a table is missing from the store file {self.where} ({msg}). "
                "Its tables were dropped (drop_tables), or the file was changed by something "
                "other than runic; open a new store handle, or restore the file from a backup",
                self.path,
            )
        if "full" in low:
            return StoreError(f"{what} failed: the disk holding {self.where} is full ({msg}). Free space and retry")
        if isinstance(exc, sqlite3.IntegrityError):
            return CorruptStoreError(
                f"{what} failed: the store file {self.where} is inconsistent ({msg}); events exist "
                "beyond the stored counter. Restore it from a backup or delete the workflow",
                self.path,
            )
        return StoreError(f"{what} failed on the store file {self.where}: {msg}")

    def checkpoint_in_background(self) -> bool:
        """Start the background WAL checkpointer of this file in this process (idempotent)."""
        if self.path is None or self.pid != os.getpid():
            return False
        with self.lock:
            if self.checkpointer is None:
                self.conn.execute(f"PRAGMA wal_autocheckpoint={_AUTOCHECKPOINT_PAGES}")
                self.checkpointer = _Checkpointer(self.path)
                self.checkpointer.start()
        return True

    def close(self) -> None:
        if self.checkpointer is not None and self.pid == os.getpid():
            self.checkpointer.stop()
        with self.lock:
            with contextlib.suppress(sqlite3.Error):
                self.conn.close()
            self._close_lock_file()


_registry_lock = threading.Lock()
_registry: dict[tuple[int, str, str], _Database] = {}
#: databases inherited across fork: never used nor closed in the child (closing could disturb
#: the parent's locks or WAL), only kept alive so that garbage collection does not close them
_inherited: list[_Database] = []


def _acquire_db(path: str | None, synchronous: str, busy_timeout: float) -> _Database:
    key = (os.getpid(), path or ":memory:", synchronous)
    with _registry_lock:
        for k in [k for k in _registry if k[0] != key[0]]:
            _inherited.append(_registry.pop(k))
        db = _registry.get(key)
        if db is not None and path is not None and db.file_identity() != db.ident:
            # the file was removed or replaced (e.g. the RAM file of an actor system that
            # stopped, and a new system reusing its scratch path): open the new file; handles
            # still on the old one keep it until they close
            log.debug("store file %s was replaced; opening it again", path)
            del _registry[key]
            db = None
        if db is None:
            db = _Database(path, synchronous, busy_timeout)
            _registry[key] = db
        db.refs += 1
        return db


def _release_db(db: _Database) -> None:
    if db.path is None or db.pid != os.getpid():
        return  # the in-process RAM database lives as long as the process
    with _registry_lock:
        db.refs -= 1
        if db.refs > 0:
            return
        key = (db.pid, db.path, db.synchronous)
        if _registry.get(key) is db:
            del _registry[key]
    db.close()


# ----------------------------------------------------------------------------- the store

class MnesiaStore(BaseStore):
    """The durable store: Mnesia-shaped transactional tables on SQLite.

    ``MnesiaStore(runner_name, disc_copies=True, dir=None, nodes=None, durability="normal",
    busy_timeout=30.0)``:

    * ``disc_copies=True`` keeps the tables in ``<dir>/runic.db`` (``dir`` defaults to
      ``$RUNIC_DATA_DIR``, else ``./runic-data/<node>``), creating the directory and the
      schema on first use; ``False`` keeps RAM tables (see the module documentation);
    * ``nodes``: ``None`` or a list naming only the local node (:func:`local_node`); tables on
      other nodes need a distributed database, which runic does not have yet;
    * ``durability``: ``"normal"`` or ``"fsync"`` (disc only; see the module documentation);
    * ``busy_timeout``: seconds a write keeps retrying while other processes hold the lock.

    Opening a file that is not a runic store, is damaged or truncated, or was written by a newer
    schema raises a :class:`~runic.store.StoreError` subclass naming the file; an unwritable
    directory raises :class:`~runic.store.StoreAccessError`.
    """

    kind: ClassVar[str] = "mnesia"

    def __init__(
        self,
        runner_name: str,
        disc_copies: bool = True,
        dir: str | os.PathLike[str] | None = None,  # noqa: A002 - the API.md name
        nodes: Iterable[str] | None = None,
        *,
        durability: str = "normal",
        busy_timeout: float = 30.0,
        **opts: Any,
    ) -> None:
        super().__init__(runner_name, **opts)
        if nodes is not None:
            if isinstance(nodes, str):
                nodes = [nodes]
            local = {local_node(), socket.gethostname(), "localhost"}
            remote = [n for n in nodes if str(n) not in local]
            if remote:
                raise StoreArgumentError(
                    f"MnesiaStore({runner_name!r}): nodes {remote!r} are not the local node "
                    f"{local_node()!r}. Tables replicated on other machines need a distributed "
                    "database behind them, which runic does not provide yet; use nodes=None"
                )
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
        self._dbh = _acquire_db(path, synchronous, self.busy_timeout)
        try:
            self._dbh.ensure_runner(runner_name, self.storage_type)
        except BaseException:
            _release_db(self._dbh)
            raise
        self._prepare_sql()
        log.debug("opened %r on %s", self, self._dbh.where)

    # ------------------------------------------------------------------ public extras

    @classmethod
    def child_spec(cls, opts: dict[str, Any]) -> Any:
        """The child spec of the store actor (``<runner>.Store``) for these tables.

        The actor creates the schema and tables when it starts; the data lives in the database,
        not in the actor, so restarting the actor loses nothing. See :mod:`runic.store.actor`.
        """
        from .actor import store_child_spec

        return store_child_spec("mnesia", opts)

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

    def _db(self) -> _Database:
        db = self._dbh
        if db.pid != os.getpid():
            if self.path is None:
                raise StoreClosedError(
                    f"the RAM tables of runner {self.runner_name!r} live in the process that "
                    "created them; this handle crossed a fork. Open the store inside an actor "
                    "system to share RAM tables between processes"
                )
            db = self._dbh = _acquire_db(self.path, self._synchronous, self.busy_timeout)
            db.ensure_runner(self.runner_name, self.storage_type)
        return db

    def _prepare_sql(self) -> None:
        t = {role: _quote(name) for role, name in self.table_names.items()}
        self._t = t
        self._sql = {
            "put_log": f"INSERT INTO {t['logs']} (workflow_id, log, updated_at) VALUES (?, ?, ?) "
                       "ON CONFLICT (workflow_id) DO UPDATE SET log=excluded.log, updated_at=excluded.updated_at",
            "get_log": f"SELECT log FROM {t['logs']} WHERE workflow_id=?",
            "log_keys": f"SELECT workflow_id FROM {t['logs']}",
            "exists": f"SELECT EXISTS (SELECT 1 FROM {t['logs']} WHERE workflow_id=?1) "
                      f"OR EXISTS (SELECT 1 FROM {t['counters']} WHERE workflow_id=?1)",
            "owner": f"SELECT owner, epoch FROM {t['status']} WHERE workflow_id=?",
            "set_count": f"INSERT INTO {t['counters']} (workflow_id, count) VALUES (?, ?) "
                         "ON CONFLICT (workflow_id) DO UPDATE SET count=excluded.count",
            "ins_event": f"INSERT INTO {t['events']} (workflow_id, seq, event) VALUES (?, ?, ?)",
            "count": f"SELECT count FROM {t['counters']} WHERE workflow_id=?",
            "events": f"SELECT seq, event FROM {t['events']} WHERE workflow_id=? AND seq BETWEEN ? AND ? "
                      "ORDER BY seq",
            "put_snapshot": f"INSERT INTO {t['snapshots']} (workflow_id, cursor, snapshot, updated_at) "
                            "VALUES (?, ?, ?, ?) ON CONFLICT (workflow_id) DO UPDATE SET "
                            "cursor=excluded.cursor, snapshot=excluded.snapshot, updated_at=excluded.updated_at",
            "get_snapshot": f"SELECT cursor, snapshot FROM {t['snapshots']} WHERE workflow_id=?",
            "put_fact": f"INSERT INTO {t['facts']} (fact_hash, value) VALUES (?, ?) "
                        "ON CONFLICT (fact_hash) DO UPDATE SET value=excluded.value",
            "get_fact": f"SELECT value FROM {t['facts']} WHERE fact_hash=?",
            "epoch_seq": "SELECT value FROM runic_meta WHERE key=?",
            "set_epoch_seq": "INSERT INTO runic_meta (key, value) VALUES (?, ?) "
                             "ON CONFLICT (key) DO UPDATE SET value=excluded.value",
            "acquire": f"INSERT INTO {t['status']} (workflow_id, owner, epoch, status, updated_at) "
                       "VALUES (?, ?, ?, NULL, ?) ON CONFLICT (workflow_id) DO UPDATE SET "
                       "owner=excluded.owner, epoch=excluded.epoch, updated_at=excluded.updated_at",
            "set_status": f"INSERT INTO {t['status']} (workflow_id, owner, epoch, status, updated_at) "
                          "VALUES (?, NULL, 0, ?, ?) ON CONFLICT (workflow_id) DO UPDATE SET "
                          "status=excluded.status, updated_at=excluded.updated_at",
            "get_status": f"SELECT status FROM {t['status']} WHERE workflow_id=?",
            "all_status": f"SELECT workflow_id, status FROM {t['status']} WHERE status IS NOT NULL",
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
            raise _Stale(current, row[0] if row is not None else None)

    # ------------------------------------------------------------------ primitives

    def _put_log(self, key: Any, blob: bytes, updated_at: int) -> None:
        sql = self._sql["put_log"]
        self._db().write(lambda c: c.execute(sql, (key, blob, updated_at)) and None, "save")

    def _get_log(self, key: Any) -> bytes | None:
        sql = self._sql["get_log"]
        row = self._db().read(lambda c: c.execute(sql, (key,)).fetchone(), "load")
        return None if row is None else row[0]

    def _log_keys(self) -> list[Any]:
        sql = self._sql["log_keys"]
        return [r[0] for r in self._db().read(lambda c: c.execute(sql).fetchall(), "list")]

    def _exists(self, key: Any) -> bool:
        sql = self._sql["exists"]
        return bool(self._db().read(lambda c: c.execute(sql, (key,)).fetchone()[0], "exists"))

    def _append(self, key: Any, blobs: list[bytes], epoch: int | None,
                facts: list[tuple[int, bytes]], status: tuple[str, int] | None = None) -> int:
        n = len(blobs)
        sql = self._sql
        count, set_count, ins, put_fact = sql["count"], sql["set_count"], sql["ins_event"], sql["put_fact"]
        set_status = sql["set_status"]
        check = self._check_owner

        def txn(conn: sqlite3.Connection) -> int:
            # (a RETURNING upsert would save a statement, but measured ~50% slower here)
            if epoch is not None:
                check(conn, key, epoch)
            row = conn.execute(count, (key,)).fetchone()
            before = row[0] if row is not None else 0
            cursor = before + n
            if n == 1:
                conn.execute(ins, (key, cursor, blobs[0]))
            elif n:
                conn.executemany(ins, [(key, before + i, b) for i, b in enumerate(blobs, 1)])
            conn.execute(set_count, (key, cursor))
            if facts:
                conn.executemany(put_fact, [(_signed(h), b) for h, b in facts])
            if status is not None:
                conn.execute(set_status, (key, status[0], status[1]))
            return cursor

        return self._db().write(txn, "append")

    def _count(self, key: Any) -> int | None:
        sql = self._sql["count"]
        row = self._db().read(lambda c: c.execute(sql, (key,)).fetchone(), "stream")
        return None if row is None else row[0]

    def _read_events(self, key: Any, first: int, last: int) -> list[bytes]:
        sql = self._sql["events"]
        rows = self._db().read(lambda c: c.execute(sql, (key, first, last)).fetchall(), "stream")
        if len(rows) == last - first + 1:
            return [r[1] for r in rows]
        out = []
        for seq, blob in rows:  # stop at the first missing sequence number
            if seq != first + len(out):
                break
            out.append(blob)
        return out

    def _put_snapshot(self, key: Any, cursor: int, blob: bytes) -> None:
        sql = self._sql["put_snapshot"]
        now = self._now_ms()
        self._db().write(lambda c: c.execute(sql, (key, cursor, blob, now)) and None, "save_snapshot")

    def _get_snapshot(self, key: Any) -> tuple[int, bytes] | None:
        sql = self._sql["get_snapshot"]
        row = self._db().read(lambda c: c.execute(sql, (key,)).fetchone(), "load_snapshot")
        return None if row is None else (row[0], row[1])

    def _put_facts(self, items: list[tuple[int, bytes]]) -> None:
        sql = self._sql["put_fact"]
        rows = [(_signed(h), b) for h, b in items]
        if len(rows) == 1:
            self._db().write(lambda c: c.execute(sql, rows[0]) and None, "save_fact")
        else:
            self._db().write(lambda c: c.executemany(sql, rows) and None, "save_fact")

    def _get_facts(self, fact_hashes: list[int]) -> list[tuple[int, bytes]]:
        table = self.table_names["facts"]
        out: list[tuple[int, bytes]] = []
        for i in range(0, len(fact_hashes), 500):  # SQLite's host-parameter limit
            chunk = [_signed(h) for h in fact_hashes[i:i + 500]]
            sql = f"SELECT fact_hash, value FROM {_quote(table)} WHERE fact_hash IN ({','.join('?' * len(chunk))})"
            rows = self._db().read(lambda c, sql=sql, chunk=chunk: c.execute(sql, chunk).fetchall(), "load_facts")
            out.extend((h & 0xFFFFFFFFFFFFFFFF, v) for h, v in rows)
        return out

    def _get_fact(self, fact_hash: int) -> bytes | None:
        sql = self._sql["get_fact"]
        row = self._db().read(lambda c: c.execute(sql, (_signed(fact_hash),)).fetchone(), "load_fact")
        return None if row is None else row[0]

    def _delete(self, key: Any) -> None:
        stmts = self._delete_sql

        def txn(conn: sqlite3.Connection) -> None:
            for sql in stmts:
                conn.execute(sql, (key,))

        self._db().write(txn, "delete")

    def _acquire(self, key: Any, owner: str, now_ms: int) -> int:
        seq_key = f"epoch_seq/{self.runner_name}"
        sql = self._sql

        def txn(conn: sqlite3.Connection) -> int:
            row = conn.execute(sql["epoch_seq"], (seq_key,)).fetchone()
            last = row[0] if row is not None else 0
            cur = conn.execute(sql["owner"], (key,)).fetchone()
            epoch = max(last, cur[1] if cur is not None else 0) + 1
            conn.execute(sql["set_epoch_seq"], (seq_key, epoch))
            conn.execute(sql["acquire"], (key, owner, epoch, now_ms))
            return epoch

        return self._db().write(txn, "acquire")

    def _get_owner(self, key: Any) -> tuple[str, int] | None:
        sql = self._sql["owner"]
        row = self._db().read(lambda c: c.execute(sql, (key,)).fetchone(), "owner")
        if row is None or row[0] is None:
            return None
        return (row[0], row[1])

    def _set_status(self, key: Any, status: str, epoch: int | None, now_ms: int) -> None:
        sql = self._sql["set_status"]
        check = self._check_owner

        def txn(conn: sqlite3.Connection) -> None:
            check(conn, key, epoch)
            conn.execute(sql, (key, status, now_ms))

        self._db().write(txn, "set_status")

    def _get_status(self, key: Any) -> str | None:
        sql = self._sql["get_status"]
        row = self._db().read(lambda c: c.execute(sql, (key,)).fetchone(), "status")
        return None if row is None else row[0]

    def _all_status(self) -> list[tuple[Any, str]]:
        sql = self._sql["all_status"]
        return [tuple(r) for r in self._db().read(lambda c: c.execute(sql).fetchall(), "list_status")]  # type: ignore[misc]

    def _table_specs(self) -> dict[str, tuple[str, tuple[str, ...]]]:
        return {self.table_names[role]: (spec[1], spec[2]) for role, spec in _TABLES.items()}

    def _table_size(self, name: str) -> int:
        sql = f"SELECT count(*) FROM {_quote(name)}"
        return self._db().read(lambda c: c.execute(sql).fetchone()[0], "table_info")

    def _drop_tables(self) -> None:
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
