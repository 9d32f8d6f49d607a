"""Which store the dashboard reads, and the one thing it needs beyond the store protocol.

A :class:`Source` names a store and opens one handle on it; the dashboard keeps that handle for
its whole life and shares it between its request threads (store handles serialise their own
reads). :func:`source_for` maps the command line's options to a source: today ``--dir`` (a
``MnesiaStore`` directory, checked the way every inspection command checks it, so a directory
that is not a runic store is refused before anything opens it). A PostgreSQL store is one more
``Source`` class and one line in :func:`source_for`.

:func:`status_times` answers when each workflow's status row last changed (a status change,
or a change of owner: ``acquire``). The store protocol has no call for it, so it reads the
``updated_at`` column of a ``MnesiaStore``'s status table over a read-only SQLite connection
(``mode=ro``: it cannot write, whatever happens), and answers nothing for other stores. It is
what the list shows as "updated".
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from typing import Any, Hashable, Protocol

from .. import codec
from ..cli.context import Settings
from ..cli.stores import open_existing

__all__ = ["Source", "MnesiaSource", "OpenSource", "source_for", "status_times"]

log = logging.getLogger(__name__)


class Source(Protocol):
    """A store the dashboard can open: ``where`` names it in pages and messages."""

    @property
    def where(self) -> str: ...

    def open(self) -> Any:
        """A new store handle (the caller closes it)."""
        ...


@dataclass(frozen=True)
class MnesiaSource:
    """The ``MnesiaStore`` of ``settings`` (``--dir``, ``--runner``): an existing store only."""

    settings: Settings

    @property
    def where(self) -> str:
        return self.settings.where

    def open(self) -> Any:
        return open_existing(self.settings)


@dataclass(frozen=True)
class OpenSource:
    """A store handle someone else opened (a program embedding the dashboard); ``open``
    returns it as it is, and the dashboard does not close it."""

    store: Any
    where: str = "the given store"

    def open(self) -> Any:
        return self.store


def source_for(settings: Settings) -> Source:
    """The source the command line's options name (``--dir``/``--runner``)."""
    return MnesiaSource(settings)


def status_times(store: Any) -> dict[Hashable, int]:
    """``{workflow_id: epoch ms}`` of the last change of each workflow's status row (see the
    module docs); empty for stores that do not keep one where this function can read it."""
    path = getattr(store, "path", None)
    table = getattr(store, "table_names", {}).get("status")
    if not path or not table or getattr(store, "storage_type", "") != "disc_copies":
        return {}
    quoted = '"' + table.replace('"', '""') + '"'
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5.0)
    except sqlite3.Error as exc:
        log.debug("no status times from %s: %s", path, exc)
        return {}
    try:
        rows = conn.execute(f"SELECT workflow_id, updated_at FROM {quoted}").fetchall()  # noqa: S608 - quoted name
    except sqlite3.Error as exc:
        log.debug("no status times from %s: %s", path, exc)
        return {}
    finally:
        conn.close()
    out: dict[Hashable, int] = {}
    for key, updated in rows:
        try:
            wid = key if isinstance(key, str) else codec.loads(key)
            out[wid] = int(updated)
        except Exception as exc:  # noqa: BLE001 - a time is a nicety; the row is still listed
            log.debug("skipping the status time of %r: %s", key, exc)
    return out
