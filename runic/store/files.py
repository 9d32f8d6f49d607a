"""The store's files on disk: checks before SQLite opens them, and private creation.

Everything here runs in the process opening the store, before any SQLite connection exists, and
writes nothing to an existing file: a file refused here is left exactly as it was.

* :func:`check_database` refuses a file that is not a SQLite database, or is truncated. A file
  is truncated when a page its header (or its write-ahead log) says the database has is neither
  in the file nor in the committed part of the WAL. The first version skipped the check
  whenever a WAL existed — a checkpoint cut short by a crash legitimately leaves the main file
  shorter than its new header says, the missing pages being in the WAL — and so accepted a file
  truncated under a running Runner. Now the WAL's frame headers are read (not its checksums:
  a torn last transaction may count as present here and still fail on first read, as an error)
  and every page must be somewhere.
* :func:`private_dir` / :func:`private_file` create the store directory 0700 and its files 0600
  whatever the umask (SQLite gives ``-wal``/``-shm`` the database file's mode). An existing
  directory or file keeps its mode: the owner may have shared it on purpose.
* :func:`read_only_fs` tells an ``EROFS`` file system, which SQLite reports only as
  ``disk I/O error``.
"""

from __future__ import annotations

import errno
import os
import struct

__all__ = ["SQLITE_MAGIC", "Truncated", "NotADatabase", "check_database", "wal_committed_pages",
           "private_dir", "private_file", "read_only_fs"]

SQLITE_MAGIC = b"SQLite format 3\x00"
_WAL_MAGICS = (0x377F0682, 0x377F0683)
_WAL_HEADER = 32
_FRAME_HEADER = 24


class NotADatabase(Exception):
    """The file does not start with a SQLite header."""


class Truncated(Exception):
    """Pages of the database are missing from both the file and its WAL."""

    def __init__(self, size: int, pages: int, page_size: int, missing: int) -> None:
        super().__init__(size, pages, page_size, missing)
        self.size = size
        self.pages = pages
        self.page_size = page_size
        self.missing = missing


def wal_committed_pages(wal_path: str, page_size: int | None) -> tuple[set[int], int | None, int | None]:
    """``(pages, database size in pages, page size)`` from the committed frames of a WAL.

    Reads frame headers only. Frames count while their salts match the WAL header's (older
    frames left over from before the last reset do not); frames after the last commit frame
    are not committed. A missing, empty or invalid WAL gives ``(set(), None, None)``.
    """
    try:
        with open(wal_path, "rb") as fh:
            header = fh.read(_WAL_HEADER)
            if len(header) < _WAL_HEADER:
                return set(), None, None
            magic, _version, wal_page_size, _ckpt, salt1, salt2 = struct.unpack(">IIIIII", header[:24])
            if magic not in _WAL_MAGICS or wal_page_size < 512 or wal_page_size & (wal_page_size - 1):
                return set(), None, None
            if page_size is not None and wal_page_size != page_size:
                return set(), None, None
            committed: set[int] = set()
            pending: set[int] = set()
            db_pages: int | None = None
            offset = _WAL_HEADER
            while True:
                fh.seek(offset)
                frame = fh.read(_FRAME_HEADER)
                if len(frame) < _FRAME_HEADER:
                    break
                pgno, commit_size, s1, s2 = struct.unpack(">IIII", frame[:16])
                if (s1, s2) != (salt1, salt2) or pgno == 0:
                    break
                fh.seek(offset + _FRAME_HEADER + wal_page_size - 1)
                if not fh.read(1):  # the frame's page is cut short
                    break
                pending.add(pgno)
                if commit_size:
                    committed |= pending
                    pending = set()
                    db_pages = commit_size
                offset += _FRAME_HEADER + wal_page_size
            return committed, db_pages, wal_page_size
    except OSError:
        return set(), None, None


def check_database(path: str) -> None:
    """Raise :class:`NotADatabase` or :class:`Truncated` for a damaged existing database
    file; return quietly for a sound one, or for a missing or empty one (a new store).

    ``OSError`` from reading the file propagates (the caller names it).
    """
    size = os.path.getsize(path)
    wal = path + "-wal"
    if size == 0:
        in_wal, db_pages, _ = wal_committed_pages(wal, None)
        if db_pages:
            missing = [p for p in range(1, db_pages + 1) if p not in in_wal]
            if missing:
                raise Truncated(0, db_pages, 0, len(missing))
        return
    with open(path, "rb") as fh:
        head = fh.read(100)
    if len(head) < 100 or head[:16] != SQLITE_MAGIC:
        raise NotADatabase()
    page_size = int.from_bytes(head[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    if page_size < 512 or page_size & (page_size - 1):
        raise NotADatabase()
    header_valid = head[24:28] == head[92:96]
    header_pages = int.from_bytes(head[28:32], "big") if header_valid else 0
    wal_pages, wal_db_pages, _ = wal_committed_pages(wal, page_size)
    pages = wal_db_pages if wal_db_pages else header_pages
    full_pages = size // page_size
    if not pages:
        if size % page_size and full_pages + 1 not in wal_pages:
            raise Truncated(size, full_pages + 1, page_size, 1)
        return
    missing = [p for p in range(full_pages + 1, pages + 1) if p not in wal_pages]
    if missing:
        raise Truncated(size, pages, page_size, len(missing))


def private_dir(directory: str) -> bool:
    """Create ``directory`` (and missing parents) if needed; a directory created here gets mode
    0700 whatever the umask. Returns whether it was created. ``OSError`` propagates."""
    if os.path.isdir(directory):
        return False
    try:
        os.makedirs(directory, mode=0o700)
    except FileExistsError:
        return False
    os.chmod(directory, 0o700)
    return True


def private_file(path: str) -> bool:
    """Create ``path`` empty with mode 0600 (whatever the umask) unless it exists; return
    whether it was created here. ``OSError`` other than "exists" propagates."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except FileExistsError:
        return False
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)
    return True


def read_only_fs(path: str) -> bool:
    """True if the file system holding ``path`` (or its nearest existing parent) is mounted
    read-only."""
    probe = path
    while probe and not os.path.exists(probe):
        parent = os.path.dirname(probe)
        if parent == probe:
            break
        probe = parent
    try:
        return bool(os.statvfs(probe or "/").f_flag & os.ST_RDONLY)
    except OSError as exc:
        return exc.errno == errno.EROFS
