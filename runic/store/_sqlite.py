"""The SQLite machinery of :class:`~runic.store.MnesiaStore` (private): one connection per
database file and process, its locks, its transactions and retries, the file checks at open,
schema creation and upgrades, and the background WAL checkpointer.

:class:`_Database` is shared by every ``MnesiaStore`` handle of a process on the same file (and
durability); :func:`_acquire_db` / :func:`_release_db` count its users. Which thread runs what:
every method of :class:`_Database` runs in the caller's thread behind :attr:`_Database.lock`
(threads of a process share the connection), except :class:`_Checkpointer`, a thread of its
own with its own connection. Write transactions are serialised across processes by an
exclusive ``flock`` on ``<dir>/runic.db.lock`` (fair between writers; the kernel releases it if
the holder dies), then by SQLite's write lock; ``database is locked`` is retried until the busy
timeout. The store's behaviour (what the tables mean) is in :mod:`runic.store.mnesia`; the
layout and its migrations in :mod:`runic.store.schema`.
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
from typing import Callable, TypeVar

from .. import codec
from . import files, schema
from .errors import (
    CorruptStoreError,
    ForeignStoreError,
    SchemaVersionError,
    StoreAccessError,
    StoreBusyError,
    StoreError,
    StoreReplacedError,
)
from .schema import APPLICATION_ID

__all__ = ["local_node"]

log = logging.getLogger("runic.store")

#: the WAL file is cut back to this size once a checkpoint has emptied it (SQLite's
#: ``journal_size_limit``; without it the file keeps its largest size for ever). Measured: 4 MiB,
#: the automatic checkpoint's own threshold, costs nothing per commit; 1 MiB cost ~0.7 µs per
#: commit, and checkpointing every 1 MiB to keep the WAL that small cost +50-90% mean append
#: time (a checkpoint flushes the file), so the WAL stays up to ~4 MiB between checkpoints
_WAL_SIZE_LIMIT = 4 * 1024 * 1024

#: the page size of new store files. Decision (measured, docs/benchmarks.md): 1 KiB, not
#: SQLite's 4 KiB. A commit writes every page it dirtied to the WAL in full; an append (one
#: row of ~100-300 bytes) dirties the tail leaf of its workflow, and a group commit of K
#: workflows dirties K such leaves, so 4 KiB pages wrote 4 KiB per ~200-byte step. With 1 KiB
#: pages: +15-40% durable steps/s, one workflow or a hundred; larger rows (a build log) simply
#: take overflow pages. Existing files keep the page size they were created with.
_PAGE_SIZE = 1024

T = TypeVar("T")


def local_node() -> str:
    """The name of this node: ``$RUNIC_NODE`` if set, else the host name."""
    return os.environ.get("RUNIC_NODE") or socket.gethostname()


def _is_busy(exc: BaseException) -> bool:
    msg = str(exc).lower()
    return "locked" in msg or "busy" in msg


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
    None``) is never closed: it lives as long as the process. ``guard_identity`` (disc files)
    turns on the removed-or-replaced check around write transactions (see the module docs).
    """

    def __init__(self, path: str | None, synchronous: str, busy_timeout: float,
                 guard_identity: bool = False) -> None:
        self.path = path
        self.synchronous = synchronous
        self.busy_timeout = busy_timeout
        self.pid = os.getpid()
        self.lock = threading.RLock()
        self.refs = 0
        self.lock_fd: int | None = None
        #: a read-only descriptor on the database file: its link count tells whether the name
        #: still leads to it
        self.ident_fd: int | None = None
        self.guard_identity = False  # turned on once that descriptor is open
        #: set once the file was found removed or replaced: every later call raises it again
        self.replaced: str | None = None
        self.checkpointer: _Checkpointer | None = None
        self.runners: set[str] = set()
        self.where = path if path is not None else "<in-process RAM database>"
        if path is not None:
            self._precheck(path)
            self._open_lock_file(path + ".lock")
        try:
            self.conn = self._connect()
            if guard_identity and path is not None:
                self.ident_fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
                self.guard_identity = True
        except BaseException:
            self._close_fds()
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
        if files.read_only_fs(directory) and not os.path.exists(path):
            raise self._read_only_error("create the store")
        try:
            files.private_dir(directory)
        except OSError as exc:
            raise self._access_error(f"cannot create the store directory {directory}: {exc.strerror or exc}") from exc
        try:
            files.check_database(path)
        except FileNotFoundError:
            pass
        except files.NotADatabase:
            raise CorruptStoreError(
                f"the store file {path} is not a SQLite database (it is corrupt, truncated, or "
                "some other kind of file). Nothing was changed. Move it away (or restore it from "
                "a backup) and open the store again to start a new one",
                path,
            ) from None
        except files.Truncated as cut:
            raise CorruptStoreError(
                f"the store file {path} is truncated: {cut.missing} of its {cut.pages} pages "
                f"are in neither the file ({cut.size} bytes) nor its write-ahead log. Nothing was "
                "changed. Restore it from a backup, or salvage what is left with "
                f"`sqlite3 {path} .recover` into a new file",
                path,
            ) from None
        except OSError as exc:
            raise self._access_error(f"cannot read the store file {path}: {exc.strerror or exc}") from exc
        if files.read_only_fs(path):
            raise self._read_only_error("open the store")
        try:
            files.private_file(path)
        except OSError as exc:
            raise self._access_error(f"cannot create the store file {path}: {exc.strerror or exc}") from exc

    def _open_lock_file(self, lock_path: str) -> None:
        try:
            created = files.private_file(lock_path)
            self.lock_fd = os.open(lock_path, os.O_RDWR | os.O_CLOEXEC)
        except OSError as exc:
            raise self._access_error(f"cannot create the lock file {lock_path}: {exc.strerror or exc}") from exc
        if created:
            log.debug("created lock file %s (mode 0600)", lock_path)

    def _close_fds(self) -> None:
        if self.lock_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self.lock_fd)
            self.lock_fd = None
        if self.ident_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self.ident_fd)
            self.ident_fd = None

    def _access_error(self, what: str) -> StoreAccessError:
        directory = os.path.dirname(self.path) if self.path else "?"
        return StoreAccessError(
            f"{what}. Make the store directory {directory} and its files writable by this user "
            "(or its parent, if it does not exist yet), or pass dir= (or set RUNIC_DATA_DIR) to "
            "a writable directory",
            self.path,
        )

    def _read_only_error(self, what: str) -> StoreAccessError:
        directory = os.path.dirname(self.path) if self.path else "?"
        return StoreAccessError(
            f"cannot {what}: the file system holding {directory} is mounted read-only (EROFS). "
            "runic writes to its store even to read it (its write-ahead log). Remount the file "
            "system read-write, or copy the store directory to a writable place and point "
            "dir= (or RUNIC_DATA_DIR) at the copy",
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
            found = self.read(self._identify_snapshot, "open")
            if found is None:  # a new file: its page size is set before its first page is written
                conn.execute(f"PRAGMA page_size={_PAGE_SIZE}")
            if self.path is not None:
                mode = self._retry(lambda: conn.execute("PRAGMA journal_mode=WAL").fetchone()[0], "open")
                if str(mode).lower() != "wal":
                    raise StoreAccessError(
                        f"the store file {self.path} cannot use write-ahead logging (journal_mode "
                        f"stayed {mode!r}); put the store on a local file system",
                        self.path,
                    )
                conn.execute(f"PRAGMA journal_size_limit={_WAL_SIZE_LIMIT}")
            conn.execute(f"PRAGMA synchronous={self.synchronous}")
            self._init_schema()
        except BaseException as exc:
            conn.close()
            if isinstance(exc, sqlite3.Error):
                raise self.map_error(exc, "open") from exc
            if isinstance(exc, UnicodeDecodeError):
                raise self._bad_schema(exc) from exc
            raise
        return conn

    def _bad_schema(self, exc: UnicodeDecodeError) -> CorruptStoreError:
        return CorruptStoreError(
            f"the schema of the store file {self.where} is damaged: a name in it is not valid "
            f"UTF-8 ({exc.reason} at byte {exc.start}). Nothing was changed. Restore the file "
            f"from a backup, or salvage it with `sqlite3 {self.where} .recover` into a new file",
            self.path,
        )

    def _identify_snapshot(self, conn: sqlite3.Connection) -> int | None:
        """:meth:`_identify` inside one read transaction: its two reads see the same state.
        (Read separately, a process creating the file between them made a new store look
        foreign: an empty application id, then runic's tables.)"""
        conn.execute("BEGIN")
        try:
            return self._identify(conn)
        finally:
            if conn.in_transaction:
                conn.execute("COMMIT")

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
        if found > schema.SCHEMA_VERSION:
            raise SchemaVersionError(
                f"the store file {self.where} uses schema version {found}, newer than the "
                f"version {schema.SCHEMA_VERSION} this runic supports. Nothing was changed. Upgrade "
                "runic to open it (or use another directory)",
                self.path, found, schema.SCHEMA_VERSION,
            )
        if found < schema.SCHEMA_VERSION:
            for version in range(found, schema.SCHEMA_VERSION):
                if version not in schema.MIGRATIONS:
                    raise SchemaVersionError(
                        f"the store file {self.where} uses schema version {found}, and this runic "
                        f"has no migration from version {version} to {version + 1}. Nothing was "
                        "changed. Open it with the runic version that wrote it and export the "
                        "workflows",
                        self.path, found, schema.SCHEMA_VERSION,
                    )
        return found

    def _init_schema(self) -> None:
        def txn(conn: sqlite3.Connection) -> None:
            found = self._identify(conn)  # again: another process may have changed it meanwhile
            if found is None:
                self._create_schema(conn)
                return
            while found < schema.SCHEMA_VERSION:
                step = schema.MIGRATIONS[found]
                log.info("migrating store %s from schema %d to %d", self.where, found, found + 1)
                step(conn)
                found += 1
                conn.execute("UPDATE runic_meta SET value=? WHERE key='schema_version'", (found,))
                conn.execute(f"PRAGMA user_version={found}")

        self.write(txn, "open")

    def _create_schema(self, conn: sqlite3.Connection) -> None:
        from .. import __version__

        conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
        conn.execute(f"PRAGMA user_version={schema.SCHEMA_VERSION}")
        conn.execute("CREATE TABLE runic_meta (key TEXT PRIMARY KEY NOT NULL, value)")
        conn.execute(
            "CREATE TABLE runic_tables (name TEXT PRIMARY KEY NOT NULL, runner TEXT NOT NULL, "
            "role TEXT NOT NULL, type TEXT NOT NULL, attributes TEXT NOT NULL, "
            "storage_type TEXT NOT NULL, created_at INTEGER NOT NULL)"
        )
        conn.executemany(
            "INSERT INTO runic_meta (key, value) VALUES (?, ?)",
            [
                ("schema_version", schema.SCHEMA_VERSION),
                ("codec_version", codec.CODEC_VERSION),
                ("created_by", f"runic {__version__}"),
                ("created_at", time.time_ns() // 1_000_000),
                ("node", local_node()),
            ],
        )
        log.info("created runic store schema version %d in %s", schema.SCHEMA_VERSION, self.where)

    def ensure_runner(self, runner_name: str, storage_type: str) -> None:
        """Create the tables of ``runner_name`` if missing (idempotent)."""
        if runner_name in self.runners:
            return
        self.write(lambda conn: schema.create_runner_tables(conn, runner_name, storage_type),
                   "create tables")
        self.runners.add(runner_name)

    # -- the file's identity

    def check_identity(self, what: str, committed: bool) -> None:
        """Raise :class:`StoreReplacedError` if the database file was removed or replaced;
        ``committed``: called right after a commit, whose write is then lost.

        :meth:`write` inlines the cheap part (one ``fstat`` of the database file before the
        transaction and one after the commit, ~0.7 µs each) and calls this when one fails."""
        if self.replaced is not None:
            raise StoreReplacedError(self.replaced, self.path)
        if self.ident_fd is None or os.fstat(self.ident_fd).st_nlink != 0:
            return
        gone = ("the last write went into the removed file and is lost; " if committed
                else "nothing was written; ")
        self.replaced = (
            f"{what} refused: the store file {self.path} was removed or "
            f"replaced while open; {gone}nothing more will be written to the old file. If that "
            "was a mistake, restore the file from a backup before anything else opens the store "
            "directory; to start afresh on purpose, open a new store handle (it creates a new "
            "file)"
        )
        log.error("%s", self.replaced)
        raise StoreReplacedError(self.replaced, self.path)

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

    def write(self, fn: Callable[[sqlite3.Connection], T], what: str, *, begin: bool = True) -> T:
        """Run ``fn(conn)`` in one write transaction, serialised across threads and processes.

        ``begin=False`` runs ``fn`` without ``BEGIN``/``COMMIT``: for an ``fn`` that writes with
        exactly one statement, which SQLite makes atomic and durable by itself (autocommit),
        saving two statements per write.

        Threads of this process take :attr:`lock`; processes take an exclusive ``flock`` on the
        side file (fair between writers, released by the kernel if the holder dies), then
        SQLite's own write lock (``BEGIN IMMEDIATE``). A busy database is retried until
        ``busy_timeout``. For a disc file, the file's identity is checked once the locks are
        held and again after the commit (see :meth:`check_identity`).
        """
        fstat = os.fstat
        with self.lock:
            conn = self.conn
            fd = self.lock_fd
            guard = self.guard_identity
            deadline: float | None = None
            while True:
                busy: sqlite3.OperationalError | None = None
                if fd is not None:
                    fcntl.flock(fd, fcntl.LOCK_EX)
                try:
                    if guard and (self.replaced is not None or fstat(self.ident_fd).st_nlink == 0):  # type: ignore[arg-type]
                        self.check_identity(what, committed=False)
                    if begin:
                        conn.execute("BEGIN IMMEDIATE")
                    try:
                        result = fn(conn)
                        if begin:
                            conn.execute("COMMIT")
                    except BaseException:
                        if conn.in_transaction:
                            with contextlib.suppress(sqlite3.Error):
                                conn.execute("ROLLBACK")
                        raise
                    if guard and fstat(self.ident_fd).st_nlink == 0:  # type: ignore[arg-type]
                        self.check_identity(what, committed=True)
                    return result
                except sqlite3.OperationalError as exc:
                    if not _is_busy(exc):
                        raise self.map_error(exc, what) from exc
                    busy = exc
                except sqlite3.Error as exc:
                    raise self.map_error(exc, what) from exc
                except UnicodeDecodeError as exc:
                    raise self._bad_schema(exc) from exc
                finally:
                    if fd is not None:
                        fcntl.flock(fd, fcntl.LOCK_UN)
                deadline = self._busy(busy, what, deadline)  # sleeps without the file lock

    def read(self, fn: Callable[[sqlite3.Connection], T], what: str) -> T:
        """Run ``fn(conn)`` outside any explicit transaction (a "dirty" read)."""
        with self.lock:
            if self.replaced is not None:
                raise StoreReplacedError(self.replaced, self.path)
            conn = self.conn
            deadline: float | None = None
            while True:
                try:
                    return fn(conn)
                except sqlite3.OperationalError as exc:
                    if conn.in_transaction:
                        with contextlib.suppress(sqlite3.Error):
                            conn.execute("ROLLBACK")
                    if not _is_busy(exc):
                        raise self.map_error(exc, what) from exc
                    deadline = self._busy(exc, what, deadline)
                except sqlite3.Error as exc:
                    raise self.map_error(exc, what) from exc
                except UnicodeDecodeError as exc:
                    raise self._bad_schema(exc) from exc

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
        if self.path is not None and ("disk i/o" in low or "readonly" in low or "read-only" in low) \
                and files.read_only_fs(self.path):
            return self._read_only_error(what)
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

    def truncate_wal(self) -> None:
        """Copy the whole WAL into the file and cut it to zero bytes (waits for readers)."""
        if self.path is None:
            return
        self.read(lambda c: c.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall(), "checkpoint")

    def close(self) -> None:
        if self.checkpointer is not None and self.pid == os.getpid():
            self.checkpointer.stop()
        with self.lock:
            with contextlib.suppress(sqlite3.Error):
                self.conn.close()
            self._close_fds()


_registry_lock = threading.Lock()
_registry: dict[tuple[int, str, str], _Database] = {}
#: databases inherited across fork: never used nor closed in the child (closing could disturb
#: the parent's locks or WAL), only kept alive so that garbage collection does not close them
_inherited: list[_Database] = []


def _acquire_db(path: str | None, synchronous: str, busy_timeout: float,
                guard_identity: bool = False) -> _Database:
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
            db = _Database(path, synchronous, busy_timeout, guard_identity)
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
