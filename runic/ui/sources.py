"""Which store the dashboard reads, and the one thing it needs beyond the store protocol.

A :class:`Source` names a store and opens one handle on it; the dashboard keeps that handle for
its whole life and shares it between its request threads (store handles serialise their own
reads). :func:`source_for` maps the command line's options to a source: ``--dir`` (a
``MnesiaStore`` directory) or ``--dsn``/``$RUNIC_DATABASE_URL`` (a ``PostgresStore``), each
checked the way every inspection command checks it (:func:`runic.cli.stores.open_existing`), so
a directory or database that holds no runic store is refused before anything opens it.

:func:`status_times` answers when each workflow's status row last changed (a status change,
or a change of owner: ``acquire``): the store's :meth:`~runic.store.BaseStore.status_times`,
or nothing for a store that is not a :class:`~runic.store.BaseStore`. It is what the list shows
as "updated".
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Hashable, Protocol

from ..cli.context import Settings
from ..cli.stores import open_existing

__all__ = ["Source", "SettingsSource", "MnesiaSource", "PostgresSource", "OpenSource", "source_for", "status_times"]

log = logging.getLogger(__name__)


class Source(Protocol):
    """A store the dashboard can open: ``where`` names it in pages and messages."""

    @property
    def where(self) -> str: ...

    def open(self) -> Any:
        """A new store handle (the caller closes it)."""
        ...


@dataclass(frozen=True)
class SettingsSource:
    """The store the command line's ``settings`` name (``--dir`` or ``--dsn``, and
    ``--runner``): an existing store only, opened as every inspection command opens it."""

    settings: Settings

    @property
    def where(self) -> str:
        return self.settings.where

    def open(self) -> Any:
        return open_existing(self.settings)


#: the names the dashboard's callers use for the two kinds of settings
MnesiaSource = PostgresSource = SettingsSource


@dataclass(frozen=True)
class OpenSource:
    """A store handle someone else opened (a program embedding the dashboard); ``open``
    returns it as it is, and the dashboard does not close it."""

    store: Any
    where: str = "the given store"

    def open(self) -> Any:
        return self.store


def source_for(settings: Settings) -> Source:
    """The source the command line's options name (``--dir``/``--dsn``, ``--runner``)."""
    return SettingsSource(settings)


def status_times(store: Any) -> dict[Hashable, int]:
    """``{workflow_id: epoch ms}`` of the last change of each workflow's status row (see the
    module docs); empty for stores that do not keep one."""
    from ..store import BaseStore, StoreError

    if not isinstance(store, BaseStore):
        return {}
    try:
        return store.status_times()
    except StoreError as exc:  # a time is a nicety; the rows are still listed
        log.debug("no status times from %r: %s", store, exc)
        return {}
