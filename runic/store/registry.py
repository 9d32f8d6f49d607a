"""Which store class a name means, and how to open one: the one place that maps names to stores.

Everything outside :mod:`runic.store` that must pick a store from a user's option — the
Runner (``store=``), its worker hosts (which receive the choice across a process boundary as a
``"module:Class"`` path), the store actor, the command line and the dashboard — goes through
:func:`store_class` / :func:`open_store`, so a new adapter is one line in :data:`STORES`.

A store is named by

* a short name: ``"memory"``, ``"mnesia"``, ``"postgres"`` (:data:`STORES`);
* a ``"module:Class"`` path (``"myapp.stores:RedisStore"``), imported on first use; or
* the class itself (a :class:`~runic.store.base.BaseStore` subclass).

``None`` means :data:`DEFAULT` (``"mnesia"``, the Runner's default). Decision: the adapters
are referred to by path, not imported here, so that naming a store never imports the others
(``postgres`` needs psycopg, which only PostgreSQL users install), and so that this module,
which imports only :mod:`runic.store.base`, can be imported by the store actor without a cycle.

What the Runner should call: ``store_class(spec)`` where it resolves ``store=`` today
(``resolve_store``); ``class_path(cls)`` for the path it sends to worker hosts;
``open_store(path, runner_name, store_opts)`` in each process that opens a handle (host, runner
actor); ``cls.shared`` instead of ``issubclass(cls, MemoryStore)``; ``store.streams``
instead of ``supports_stream``/``hasattr(store, "save_fact")``; ``store.on_writer_start()``
in a worker host after opening its handle (instead of probing ``checkpoint_in_background``);
``store.local_dir`` for where the store keeps local files; ``actor_spec(spec, opts)`` for the
store actor's child spec. Every function runs in the caller's thread.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Mapping

from .base import BaseStore
from .errors import StoreArgumentError

if TYPE_CHECKING:
    from ..supervisor.spec import ChildSpec

__all__ = ["STORES", "DEFAULT", "store_class", "class_path", "open_store", "actor_spec"]

STORES: dict[str, str] = {
    "memory": "runic.store.memory:MemoryStore",
    "mnesia": "runic.store.mnesia:MnesiaStore",
    "postgres": "runic.store.postgres:PostgresStore",
}
"""Short store names and the ``"module:Class"`` path each stands for."""

DEFAULT = "mnesia"
"""The store ``None`` means."""


def _import(path: str, given: object) -> Any:
    module_name, sep, qual = path.partition(":")
    if not sep or not module_name or not qual:
        raise StoreArgumentError(
            f"unknown store {given!r}: use one of {sorted(STORES)}, a 'package.module:Class' "
            "path, or a store class"
        )
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        hint = ""
        if path == STORES["postgres"]:
            hint = " (PostgresStore needs psycopg: pip install 'runic-workflows[postgres]')"
        raise StoreArgumentError(f"cannot import the store {given!r}: {exc}{hint}") from exc
    try:
        for part in qual.split("."):
            obj = getattr(obj, part)
    except AttributeError as exc:
        raise StoreArgumentError(f"cannot find the store class {given!r}: {exc}") from exc
    return obj


def store_class(spec: str | type | None) -> type[BaseStore]:
    """The store class ``spec`` names (a short name, a ``"module:Class"`` path, a class or
    ``None`` for :data:`DEFAULT`). Raises :class:`~runic.store.StoreArgumentError` naming the
    spec and the accepted forms."""
    if spec is None:
        spec = DEFAULT
    if isinstance(spec, str):
        cls = _import(STORES.get(spec, spec), spec)
    else:
        cls = spec
    if not (isinstance(cls, type) and issubclass(cls, BaseStore)):
        raise StoreArgumentError(
            f"{spec!r} is not a store class: use one of {sorted(STORES)}, a 'package.module:Class' "
            "path to a runic.store.BaseStore subclass, or such a class"
        )
    return cls


def class_path(cls: type) -> str:
    """``"module:QualName"`` of a store class: what crosses a process boundary (a worker host
    re-imports the class by it)."""
    return f"{cls.__module__}:{cls.__qualname__}"


def open_store(spec: str | type | None, runner_name: str,
               opts: Mapping[str, Any] | None = None) -> BaseStore:
    """Open a handle on the tables of ``runner_name`` in the store ``spec`` names, with the
    adapter's options ``opts`` (``dir=``, ``dsn=``, ...)."""
    return store_class(spec)(runner_name, **dict(opts or {}))


def actor_spec(spec: str | type | None, opts: Mapping[str, Any]) -> "ChildSpec":
    """The child spec ``<runner>.Store`` of the store actor for the store ``spec`` names
    (``opts`` must include ``runner_name``; see :meth:`BaseStore.child_spec`)."""
    return store_class(spec).child_spec(dict(opts))
