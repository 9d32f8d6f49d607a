"""Opening the command line's store, and finding workflows in it.

Inspection commands (``ls``, ``show``, ``events``, ``graph``, ``stop``, ``delete``) need an
existing store: :func:`open_existing` refuses a directory that does not exist, holds no
``runic.db``, or holds an empty one (SQLite would happily turn a 0-byte file into a new
database), instead of creating one, and names the runners a store holds when ``--runner``
names none of them. These checks look at the files before anything opens them, so a refused
directory is left exactly as it was. Commands that run workflows (``run``, ``demo``) create the store with
:func:`open_or_create`, but never inside a directory that holds other things.

With a connection string (``--dsn`` or ``$RUNIC_DATABASE_URL``) the store is a
``PostgresStore``: :func:`open_existing` first reads (read-only) which runners have tables in
the database's ``runic`` schema, and refuses a database without one, or without the runner,
the same way.
"""

from __future__ import annotations

import difflib
import logging
import os
import sqlite3
from typing import Any, Hashable

from ..store import BaseStore, MnesiaStore, open_store
from ..store.mnesia import DB_FILE
from .context import Settings
from .errors import UsageProblem

__all__ = ["open_existing", "open_or_create", "resolve_id", "unknown_id", "runners_in", "pg_runners", "all_ids"]

log = logging.getLogger(__name__)

_OWN_FILES = (DB_FILE, DB_FILE + "-wal", DB_FILE + "-shm", DB_FILE + ".lock", DB_FILE + "-journal")


def runners_in(db_path: str) -> list[str] | None:
    """The runner names with tables in a store file (read-only), or ``None`` if the file cannot
    be read that way (the store's own open reports why)."""
    try:
        conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5.0)
    except sqlite3.Error:
        return None
    try:
        rows = conn.execute("SELECT DISTINCT runner FROM runic_tables ORDER BY runner").fetchall()
        return [r[0] for r in rows]
    except sqlite3.Error:
        return None
    finally:
        conn.close()


def _check_directory(settings: Settings) -> str:
    d = settings.data_dir
    if not os.path.exists(d):
        raise UsageProblem(
            f"no runic store at {d}: the directory does not exist. Pass --dir (or set RUNIC_DATA_DIR) "
            "to a store directory, or create one with `runic demo` or `runic run`")
    if not os.path.isdir(d):
        raise UsageProblem(f"{d} is a file, not a runic store directory; pass --dir the directory that holds {DB_FILE}")
    return d


def _refuse_empty(db: str) -> None:
    """A 0-byte ``runic.db`` (with no write-ahead log holding its pages) is not a store."""
    if os.path.getsize(db) > 0:
        return
    wal = db + "-wal"
    if os.path.isfile(wal) and os.path.getsize(wal) > 0:
        return  # a new store whose first pages are still in the write-ahead log
    raise UsageProblem(
        f"{db} is an empty file, not a runic store (nothing was written to it). Pass --dir a store directory, or "
        "remove the empty file and create the store with `runic run` or `runic demo`")


def pg_runners(dsn: str, schema: str = "runic") -> list[str] | None:
    """The runner names with tables in the ``schema`` of the database ``dsn`` names (read
    only), ``[]`` if there is no such schema, or ``None`` if that cannot be read (opening the
    store then reports why, naming the server)."""
    try:
        import psycopg
    except ImportError:
        return None
    try:
        with psycopg.connect(dsn, connect_timeout=5, autocommit=True) as conn:
            found = conn.execute("SELECT to_regclass(%s)", (f'"{schema}".runic_tables',)).fetchone()
            if found is None or found[0] is None:
                return []
            rows = conn.execute(f'SELECT DISTINCT runner FROM "{schema}".runic_tables ORDER BY runner').fetchall()
            return [r[0] for r in rows]
    except psycopg.Error as exc:
        log.debug("cannot list the runners of %s: %s", settings_where(dsn), exc)
        return None


def settings_where(dsn: str) -> str:
    return Settings(None, "?", dsn=dsn).location


def _open_existing_pg(settings: Settings) -> BaseStore:
    assert settings.dsn is not None
    runners = pg_runners(settings.dsn)
    if runners is not None and settings.runner not in runners:
        if runners:
            raise UsageProblem(
                f"{settings.location} has no runner {settings.runner!r}; it holds the workflows of "
                f"{', '.join(repr(r) for r in runners)}: pass --runner {runners[0]}")
        raise UsageProblem(
            f"{settings.location} holds no runic workflows yet; start one with `runic run` or `runic demo` "
            "(with the same --dsn or $RUNIC_DATABASE_URL)")
    return open_store(settings.store_name, settings.runner, settings.store_opts)


def open_existing(settings: Settings) -> BaseStore:
    """A handle on the existing store of ``settings`` (see the module docs)."""
    if settings.dsn:
        return _open_existing_pg(settings)
    d = _check_directory(settings)
    db = os.path.join(d, DB_FILE)
    if not os.path.isfile(db):
        raise UsageProblem(
            f"{d} is not a runic store (it has no {DB_FILE}). Pass --dir (or set RUNIC_DATA_DIR) to a "
            "store directory, or create one with `runic demo` or `runic run`")
    _refuse_empty(db)
    runners = runners_in(db)
    if runners is not None and settings.runner not in runners:
        if runners:
            raise UsageProblem(
                f"the store {d} has no runner {settings.runner!r}; it holds the workflows of "
                f"{', '.join(repr(r) for r in runners)}: pass --runner {runners[0]}")
        raise UsageProblem(f"the store {d} holds no workflows yet; start one with `runic run` or `runic demo`")
    return MnesiaStore(settings.runner, dir=d)


def open_or_create(settings: Settings) -> BaseStore:
    """A handle on the store of ``settings``, created if missing (in a new or empty directory,
    or one that already is a runic store; or the runner's tables in the PostgreSQL database)."""
    if settings.dsn:
        return open_store(settings.store_name, settings.runner, settings.store_opts)
    d = settings.data_dir
    if os.path.exists(d):
        if not os.path.isdir(d):
            raise UsageProblem(f"{d} is a file, not a directory; pass --dir a directory for the runic store")
        entries = [e for e in os.listdir(d) if not e.startswith(".")]
        if entries and DB_FILE not in entries:
            others = sorted(e for e in entries if e not in _OWN_FILES)
            raise UsageProblem(
                f"{d} is not a runic store: it holds other files ({', '.join(others[:3])}"
                f"{', ...' if len(others) > 3 else ''}) and no {DB_FILE}. Pass --dir a new or empty directory, "
                "or an existing runic store")
    return MnesiaStore(settings.runner, dir=d)


def all_ids(store: Any) -> list[Hashable]:
    """Every workflow id the store knows (a status, a saved log), in a stable order."""
    ids: dict[Any, None] = {}
    for wid in store.list_status():
        ids[wid] = None
    for wid in store.list():
        ids[wid] = None
    return sorted(ids, key=lambda w: (str(type(w).__name__) != "str", str(w)))


def unknown_id(store: Any, text: str, settings: Settings) -> UsageProblem:
    """The error for an id the store does not hold (with close matches, if any)."""
    known = [str(w) for w in all_ids(store)]
    close = difflib.get_close_matches(text, known, n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else "."
    return UsageProblem(
        f"no workflow {text!r} in {settings.where}{hint} `runic ls{settings.hint_flags()}` lists the workflows there")


def resolve_id(store: Any, text: str, settings: Settings) -> Hashable:
    """The stored id whose text is ``text`` (ids are usually ``str``; a non-``str`` id stored by
    library code matches its ``str()``); :class:`UsageProblem` if there is none."""
    if store.exists(text) or store.status(text) is not None:
        return text
    for wid in all_ids(store):
        if str(wid) == text:
            return wid
    raise unknown_id(store, text, settings)
