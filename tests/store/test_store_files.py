"""MnesiaStore against faults of its files: removed or replaced while open, truncated with a
write-ahead log present, a damaged schema, a read-only file system, a crowd of processes
creating the same new store, and the files' permissions.

Real processes and real files throughout: writers are killed with SIGKILL, files are removed
and cut with the ordinary system calls, the read-only file system is a tmpfs remounted
read-only in a private mount namespace (``unshare``), which disappears with its process.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any
from typing import Callable

import pytest

from runic.store import CorruptStoreError, MnesiaStore, StoreAccessError, StoreReplacedError
from runic.store.mnesia import DB_FILE

from .conftest import PYTHON, Proc

ROOT = Path(__file__).resolve().parents[2]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else "absent"


def acks_until(proc: Proc, n: int) -> list[dict]:
    got: list[dict] = []
    while len([g for g in got if "ack" in g]) < n:
        item = proc.line()
        assert item is not None, proc.stderr()
        got.append(item)
    return got


# ----------------------------------------------------------------------------- removed or replaced

@pytest.mark.parametrize("which", ["db", "db+wal+shm", "replaced"])
def test_a_write_after_the_file_was_removed_raises_and_writes_nothing(tmp_path: Path, which: str) -> None:
    d = tmp_path / "data"
    with MnesiaStore("app", dir=d) as s:
        assert s.append("wf", ["before"]) == 1
        db = d / DB_FILE
        if which == "replaced":
            shutil.copy(db, tmp_path / "copy.db")
            os.replace(tmp_path / "copy.db", db)  # renamed over: the open file is unlinked
        else:
            db.unlink()
            if which == "db+wal+shm":
                for suffix in ("-wal", "-shm"):
                    (d / (DB_FILE + suffix)).unlink(missing_ok=True)
        with pytest.raises(StoreReplacedError) as info:
            s.append("wf", ["after"])
        message = str(info.value)
        assert str(db) in message and "removed or replaced while open" in message
        assert "nothing was written" in message and "restore" in message.lower()
        assert info.value.path == str(db)
        # every later call fails the same way, reads included
        for call in (lambda: s.save("wf", [1]), lambda: s.set_status("wf", "idle"), lambda: s.cursor("wf")):
            with pytest.raises(StoreReplacedError):
                call()
    # a new handle opens the file now at that path (a copy, or a new empty store)
    with MnesiaStore("app", dir=d) as fresh:
        assert fresh.cursor("wf") == (1 if which == "replaced" else 0)


@pytest.mark.parametrize("which", ["db", "db+wal+shm"])
def test_writers_in_another_process_stop_acknowledging_once_the_file_is_removed(
        tmp_path: Path, spawn: Callable[..., Proc], which: str) -> None:
    d = tmp_path / "data"
    MnesiaStore("app", dir=d).close()
    writer = spawn("append_until_refused", d, "app", "wf")
    acks_until(writer, 200)
    (d / DB_FILE).unlink()
    removed_at = time.monotonic()  # once the unlink returned: appends begun later must fail
    if which == "db+wal+shm":
        for suffix in ("-wal", "-shm"):
            (d / (DB_FILE + suffix)).unlink(missing_ok=True)
    rest = writer.lines(timeout=60)
    assert writer.wait() == 0, writer.stderr()
    refused = rest[-1]
    assert refused.get("refused") == "StoreReplacedError", rest[-3:]
    assert str(d / DB_FILE) in refused["message"]
    # An append that began after the unlink must be refused. (One that committed into the file
    # before the unlink but returned after it is a write the file holds, not a lost one: the
    # writer may be descheduled between its post-commit check and taking the time.)
    late = [r for r in rest if "ack" in r and r["began"] > removed_at]
    assert late == [], f"{len(late)} appends begun after the file was removed were acknowledged"


# ----------------------------------------------------------------------------- truncation with a WAL

def killed_writer_with_wal(d: Path, spawn: Callable[..., Proc], acks: int) -> None:
    """A store whose writer was SIGKILLed: its last commits are only in the WAL."""
    MnesiaStore("app", dir=d).close()
    writer = spawn("append", d, "app", "wf", 10, 0, "A")
    acks_until(writer, acks)
    os.kill(writer.pid, signal.SIGKILL)
    writer.lines()
    assert writer.wait() == -signal.SIGKILL
    assert (d / (DB_FILE + "-wal")).stat().st_size > 0


def test_pages_only_in_the_wal_are_not_truncation(tmp_path: Path, spawn: Callable[..., Proc]) -> None:
    d = tmp_path / "data"
    killed_writer_with_wal(d, spawn, 400)  # ~4,000 events: well below a checkpoint
    header_pages = int.from_bytes((d / DB_FILE).read_bytes()[28:32], "big")
    with MnesiaStore("app", dir=d) as s:
        pages = s._db().read(lambda c: c.execute("PRAGMA page_count").fetchone()[0], "t")
        assert pages > header_pages  # the file lags behind its WAL: the case the check allows
        assert s.cursor("wf") >= 4000 and len(list(s.stream("wf"))) == s.cursor("wf")


def test_a_store_truncated_with_its_wal_present_is_refused_at_open(tmp_path: Path,
                                                                   spawn: Callable[..., Proc]) -> None:
    d = tmp_path / "data"
    with MnesiaStore("app", dir=d) as s:  # enough checkpointed pages to cut
        for i in range(40):
            s.append("old", [{"pad": "x" * 200, "i": j} for j in range(100)])
    killed_writer_with_wal(d, spawn, 50)
    db = d / DB_FILE
    data = db.read_bytes()
    db.write_bytes(data[: len(data) // 2])
    before = (digest(db), digest(d / (DB_FILE + "-wal")))
    with pytest.raises(CorruptStoreError) as info:
        MnesiaStore("app", dir=d)
    message = str(info.value)
    assert "truncated" in message and "write-ahead log" in message and str(db) in message
    assert f"sqlite3 {db} .recover" in message and "{path}" not in message
    assert (digest(db), digest(d / (DB_FILE + "-wal"))) == before  # nothing was written


def test_a_store_truncated_without_wal_names_the_file_in_the_salvage_command(tmp_path: Path) -> None:
    d = tmp_path / "data"
    with MnesiaStore("app", dir=d) as s:
        for i in range(20):
            s.append("wf", [{"pad": "y" * 300} for _ in range(50)])
    db = d / DB_FILE
    db.write_bytes(db.read_bytes()[: db.stat().st_size // 3])
    with pytest.raises(CorruptStoreError) as info:
        MnesiaStore("app", dir=d)
    assert f"`sqlite3 {db} .recover`" in str(info.value) and "{path}" not in str(info.value)


# ----------------------------------------------------------------------------- damaged schema

def test_a_table_name_that_is_not_utf8_is_a_corrupt_store(tmp_path: Path) -> None:
    d = tmp_path / "data"
    with MnesiaStore("app", dir=d) as s:
        s.append("wf", [1])
    conn = sqlite3.connect(d / DB_FILE)
    conn.execute("PRAGMA writable_schema=ON")
    conn.execute("UPDATE sqlite_master SET name=CAST(X'72756E6963C5' AS TEXT) WHERE name='app.FactStore'")
    conn.commit()
    conn.close()
    before = digest(d / DB_FILE)
    with pytest.raises(CorruptStoreError) as info:
        MnesiaStore("app", dir=d)
    assert "not valid UTF-8" in str(info.value) and str(d / DB_FILE) in str(info.value)
    assert digest(d / DB_FILE) == before


# ----------------------------------------------------------------------------- many processes, one new store

def test_many_processes_creating_one_new_store_at_once(tmp_path: Path, spawn: Callable[..., Proc]) -> None:
    for round_ in range(4):
        d = tmp_path / f"data{round_}"
        go = tmp_path / f"go{round_}"
        procs = [spawn("open_at", go, d, "app") for _ in range(10)]
        for p in procs:
            assert p.line() == {"ready": True}
        go.touch()
        for p in procs:
            (result,) = p.lines()
            assert p.wait() == 0, p.stderr()
            assert result == {"error": None}, result
        with MnesiaStore("app", dir=d) as s:
            assert s.load("probe") == [1]


# ----------------------------------------------------------------------------- privacy

PRIVACY_CHILD = textwrap.dedent("""
    import os, sys, json
    sys.path.insert(0, {root!r})
    os.umask(0o022)
    from runic.store import MnesiaStore
    d = sys.argv[1]
    with MnesiaStore("app", dir=d) as s:
        s.append("wf", ["secret"])
        names = ["", "/runic.db", "/runic.db-wal", "/runic.db-shm", "/runic.db.lock"]
        print(json.dumps({{n or "dir": oct(os.stat(d + n).st_mode & 0o777) for n in names}}))
""")


def test_store_files_are_private_whatever_the_umask(tmp_path: Path) -> None:
    code = PRIVACY_CHILD.format(root=str(ROOT))
    new = tmp_path / "parent" / "store"
    out = subprocess.run([PYTHON, "-c", code, str(new)], capture_output=True, text=True, check=True).stdout
    import json

    modes = json.loads(out)
    assert modes == {"dir": "0o700", "/runic.db": "0o600", "/runic.db-wal": "0o600",
                     "/runic.db-shm": "0o600", "/runic.db.lock": "0o600"}
    # an existing directory keeps the mode its owner gave it
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o750)
    out = subprocess.run([PYTHON, "-c", code, str(shared)], capture_output=True, text=True, check=True).stdout
    assert json.loads(out)["dir"] == "0o750"
    assert stat.S_IMODE((shared / DB_FILE).stat().st_mode) == 0o600


# ----------------------------------------------------------------------------- read-only file system

READ_ONLY_CHILD = textwrap.dedent("""
    set -e
    mount -t tmpfs -o size=8m runic-test {mnt}
    {python} -c '
import sys; sys.path.insert(0, "{root}")
from runic.store import MnesiaStore
with MnesiaStore("app", dir="{mnt}/data") as s:
    s.append("wf", [1])
'
    mount -o remount,ro {mnt}
    {python} -c '
import sys, json, sqlite3; sys.path.insert(0, "{root}")
from runic.store import MnesiaStore, StoreAccessError
from runic.store.mnesia import _Database
out = {{}}
for what, d in (("existing", "{mnt}/data"), ("new", "{mnt}/other")):
    try:
        MnesiaStore("app", dir=d).close()
        out[what] = None
    except StoreAccessError as exc:
        out[what] = str(exc)
db = _Database.__new__(_Database)
db.path = "{mnt}/data/runic.db"; db.where = db.path
out["mid-run"] = str(db.map_error(sqlite3.OperationalError("disk I/O error"), "append"))
print(json.dumps(out))
'
""")


def test_a_read_only_file_system_is_named_with_what_to_do(tmp_path: Path) -> None:
    if shutil.which("unshare") is None:
        pytest.skip("needs unshare(1) to mount a private read-only file system")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    script = READ_ONLY_CHILD.format(mnt=mnt, python=sys.executable, root=ROOT)
    proc = subprocess.run(["unshare", "-Urm", "sh", "-c", script], capture_output=True, text=True,
                          timeout=120)
    if proc.returncode != 0 and "Operation not permitted" in proc.stderr:
        pytest.skip(f"user and mount namespaces are not available here: {proc.stderr.strip()[-200:]}")
    assert proc.returncode == 0, proc.stderr
    import json

    out = json.loads(proc.stdout.strip().splitlines()[-1])
    for what in ("existing", "new", "mid-run"):
        message = out[what]
        assert message is not None, what
        assert "read-only (EROFS)" in message and "Remount" in message, message
    assert not any(mnt.iterdir())  # the tmpfs lived in the child's namespace only


class _Rows:
    """Rows already fetched, answering like a cursor."""

    def __init__(self, rows: list) -> None:
        self.rows = rows

    def fetchone(self) -> Any:
        return self.rows[0] if self.rows else None

    def fetchall(self) -> list:
        return self.rows

    def __iter__(self) -> Any:
        return iter(self.rows)


def test_identifying_a_store_another_process_is_creating_sees_one_state(tmp_path: Path) -> None:
    """The interleaving behind the old race, made deterministic: another connection creates the
    schema right after the identifying connection read the (still empty) application id."""
    import threading

    from runic.store.mnesia import _Database

    created: dict[str, object] = {}

    def make_store_schema(path: Path) -> None:
        try:
            MnesiaStore("app", dir=path.parent).close()
            created[str(path)] = True
        except Exception as exc:  # noqa: BLE001 - inspected below
            created[str(path)] = exc

    class Interleaved:
        """A connection whose ``PRAGMA application_id`` lets a creator run before returning."""

        def __init__(self, conn: sqlite3.Connection, path: Path, wait_s: float) -> None:
            self.conn, self.path, self.wait_s = conn, path, wait_s
            self.creator: threading.Thread | None = None

        def execute(self, sql: str, *args: object) -> Any:
            cursor = self.conn.execute(sql, *args)
            if sql.startswith("PRAGMA application_id") and self.creator is None:
                # finish the statement first: an open statement would itself hold a read lock
                cursor = _Rows(cursor.fetchall())
                self.creator = threading.Thread(target=make_store_schema, args=(self.path,))
                self.creator.start()
                # nothing holds it back in the old way: let it finish, however loaded the machine;
                # a read transaction holds it back in the new way: it cannot finish meanwhile
                self.creator.join(self.wait_s)
            return cursor

        @property
        def in_transaction(self) -> bool:
            return self.conn.in_transaction

    def identify(method: str, d: Path, wait_s: float) -> object:
        d.mkdir()
        path = d / DB_FILE
        path.touch()
        conn = sqlite3.connect(path, isolation_level=None, timeout=10)
        db = _Database.__new__(_Database)
        db.path = db.where = str(path)
        wrapped = Interleaved(conn, path, wait_s)
        try:
            return getattr(db, method)(wrapped)
        except Exception as exc:  # noqa: BLE001 - the outcome is what the test compares
            return type(exc).__name__
        finally:
            conn.close()
            if wrapped.creator is not None:
                wrapped.creator.join(30)

    # two separate reads (what opening did before): the store looks foreign
    outcome = identify("_identify", tmp_path / "old", 60.0)
    assert created.get(str(tmp_path / "old" / DB_FILE)) is True, created
    assert outcome == "ForeignStoreError"
    # one read transaction: a consistent view (a new, empty file), and the creator then finishes
    assert identify("_identify_snapshot", tmp_path / "new", 0.5) is None
    with MnesiaStore("app", dir=tmp_path / "new") as s:
        assert s.meta()["schema_version"] >= 2
