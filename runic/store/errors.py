"""Exceptions raised by :mod:`runic.store`.

Every store exception derives from :class:`StoreError`, itself a :class:`runic.RunicError`.
Messages name the store file or table involved and say what to do about it.

=============================  =====================================================  ==========================
exception                      raised when                                            also derives from
=============================  =====================================================  ==========================
:class:`NotFoundError`         ``load``/``stream``/``load_snapshot``/``load_fact``    :class:`LookupError`
                               find nothing for the key
:class:`FencedError`           a write carries an ownership epoch that is no longer
                               the workflow's current one (a stale owner)
:class:`StoreEncodeError`      a value cannot be encoded by :mod:`runic.codec`        :class:`TypeError`
:class:`StoreDecodeError`      a stored value cannot be decoded (an unregistered      :class:`ValueError`
                               record type, or damaged bytes)
:class:`CorruptStoreError`     a store file is not a database, is truncated or
                               damaged
:class:`ForeignStoreError`     a file is a valid database that runic did not create
:class:`SchemaVersionError`    a store file was written by a newer (or unmigratable)
                               schema version
:class:`StoreAccessError`      the store directory or file cannot be created or       :class:`PermissionError`
                               written (read-only directory or file system,
                               permissions)
:class:`StoreReplacedError`    the store file was removed or replaced while open
                               (nothing more is written to the removed file)
:class:`NodeFencedError`       a node renews a lease of a generation that is no
                               longer current, or that was declared dead
:class:`StoreBusyError`        the store stayed locked by other writers past the      :class:`TimeoutError`
                               busy timeout
:class:`StoreClosedError`      a closed store handle is used
:class:`StoreUnavailableError` a database server cannot be reached, or no server of   :class:`ConnectionError`
                               ``nodes`` accepts writes, within the connect timeout
                               (or the failover timeout, once connected)
:class:`StoreTimelineError`    a database server is on an older timeline than one
                               this process already wrote to (a resurrected old
                               primary after a failover): nothing is written to it
:class:`StoreArgumentError`    an argument or option is invalid (unknown status,      :class:`runic.ArgumentError`
                               fact hash out of range, a workflow id that breaks the  (a :class:`ValueError`)
                               id rule of :mod:`runic.ids`, remote ``nodes``...)
=============================  =====================================================  ==========================
"""

from __future__ import annotations

from typing import Any

from ..errors import ArgumentError, RunicError

__all__ = [
    "StoreError",
    "NotFoundError",
    "FencedError",
    "StoreEncodeError",
    "StoreDecodeError",
    "CorruptStoreError",
    "ForeignStoreError",
    "SchemaVersionError",
    "StoreAccessError",
    "StoreReplacedError",
    "NodeFencedError",
    "StoreBusyError",
    "StoreClosedError",
    "StoreArgumentError",
    "StoreUnavailableError",
    "StoreTimelineError",
]


class StoreError(RunicError):
    """Base class of every exception raised by a runic store."""


class NotFoundError(StoreError, LookupError):
    """Nothing is stored under the key asked for (workflow id, or fact hash)."""

    def __init__(self, what: str, key: Any, table: str | None = None) -> None:
        self.what = what
        self.key = key
        self.table = table
        where = f" in table {table!r}" if table else ""
        super().__init__(f"no {what} stored for {key!r}{where}")


class FencedError(StoreError):
    """A write was refused because its ownership epoch is stale.

    Another owner took the workflow over (:meth:`runic.store.base.BaseStore.acquire`) after the
    writer got its epoch: the writer is an orphan (for example a process that kept running after
    its supervisor declared it dead) and must stop writing. Nothing was written.
    """

    def __init__(self, workflow_id: Any, epoch: int, current_epoch: int, owner: str | None,
                 operation: str, table: str | None = None) -> None:
        self.workflow_id = workflow_id
        self.epoch = epoch
        self.current_epoch = current_epoch
        self.owner = owner
        self.operation = operation
        self.table = table
        held = f"held by {owner!r} " if owner is not None else ""
        super().__init__(
            f"{operation} to workflow {workflow_id!r} refused: epoch {epoch} is stale, the workflow "
            f"is now {held}at epoch {current_epoch}. This writer lost ownership (another process "
            "took the workflow over); stop writing and re-acquire the workflow if it should run here"
        )


class StoreEncodeError(StoreError, TypeError):
    """A value cannot be stored because :mod:`runic.codec` cannot encode it."""


class StoreDecodeError(StoreError, ValueError):
    """A stored value cannot be decoded by :mod:`runic.codec`.

    Usually the value names a record type that is not registered in this process (import the
    module that registers it); otherwise the stored bytes are damaged.
    """


class CorruptStoreError(StoreError):
    """A store file is not a database, is truncated or damaged."""

    def __init__(self, message: str, path: str | None = None) -> None:
        self.path = path
        super().__init__(message)


class ForeignStoreError(StoreError):
    """A file is a valid database, but not one created by runic."""

    def __init__(self, message: str, path: str | None = None) -> None:
        self.path = path
        super().__init__(message)


class SchemaVersionError(StoreError):
    """A store file uses a schema version this runic cannot read or migrate."""

    def __init__(self, message: str, path: str | None = None, found: int | None = None,
                 supported: int | None = None) -> None:
        self.path = path
        self.found = found
        self.supported = supported
        super().__init__(message)


class StoreAccessError(StoreError, PermissionError):
    """The store directory or file cannot be created, opened or written."""

    def __init__(self, message: str, path: str | None = None) -> None:
        self.path = path
        StoreError.__init__(self, message)

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class StoreReplacedError(StoreError):
    """The store file was removed or replaced while this handle had it open.

    SQLite keeps writing into the open file even after it was unlinked: every write would be
    acknowledged and then lost for good. The handle checks the file's identity around each
    write transaction and raises this instead; nothing more is written to the removed file.
    """

    def __init__(self, message: str, path: str | None = None) -> None:
        self.path = path
        super().__init__(message)


class NodeFencedError(StoreError):
    """A node's lease cannot be renewed: its generation is no longer the node's current one (the
    node name was registered again, by a restarted process) or it was declared dead.

    The node must stop dispatching and persisting work at once: others take its workflows over.
    """

    def __init__(self, node: str, generation: int, current: int | None, alive: bool,
                 table: str | None = None) -> None:
        self.node = node
        self.generation = generation
        self.current_generation = current
        self.alive = alive
        self.table = table
        if current is None:
            why = "the node is not registered"
        elif current != generation:
            why = f"the node was registered again since (generation {current})"
        else:
            why = "it was declared dead"
        where = f" in table {table!r}" if table else ""
        super().__init__(
            f"node {node!r} generation {generation} cannot renew its lease{where}: {why}. This "
            "node lost its workflows to others; stop dispatching and persisting now, and "
            "register again (a new generation) to take work again"
        )


class StoreBusyError(StoreError, TimeoutError):
    """Other writers kept the store locked for longer than the busy timeout."""

    def __init__(self, message: str, path: str | None = None) -> None:
        self.path = path
        StoreError.__init__(self, message)

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class StoreUnavailableError(StoreError, ConnectionError):
    """No database server could be reached (or none of ``nodes`` accepts writes) in time.

    ``servers`` names what was tried. The call wrote nothing it acknowledged; retry once the
    server (or a promoted standby) is back.
    """

    def __init__(self, message: str, servers: str | None = None) -> None:
        self.servers = servers
        StoreError.__init__(self, message)

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class StoreTimelineError(StoreError):
    """A database server answered on a timeline older than one this process already saw.

    After a failover the promoted standby starts a new timeline; the old primary, restarted,
    still runs the old one and accepts writes that the new primary never sees (split brain).
    Nothing was written to it. ``server``, ``timeline`` and ``seen`` tell which server and
    timelines.
    """

    def __init__(self, message: str, server: str, timeline: int, seen: int) -> None:
        self.server = server
        self.timeline = timeline
        self.seen = seen
        super().__init__(message)


class StoreClosedError(StoreError):
    """The store handle was closed; open a new one."""


class StoreArgumentError(StoreError, ArgumentError):
    """An argument or option given to a store is invalid (also a :class:`runic.ArgumentError`,
    hence a :class:`ValueError`)."""
