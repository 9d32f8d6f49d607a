"""How a Runner is declared: the child spec of ``<name>.Runner`` and the store class it uses.

:func:`runner_child_spec` turns ``Runner`` options into the spec of the runner actor (a
supervisor) with its pool of worker hosts; :func:`resolve_store` turns ``store=`` (a class, a
name or a ``"module:Class"`` path) into a store class. The handle (:mod:`runic.runner.runner`)
and a user's own children list both use them; the actors never import this module.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

from ..errors import ArgumentTypeError, MissingNameError
from ..functions import import_path
from ..store import MemoryStore, MnesiaStore
from ..supervisor import ChildSpec
from .actor import RunnerActor
from .host import WorkerHost, store_path
from .lease import DEFAULT_LEASE_S

__all__ = ["runner_child_spec", "resolve_store"]

_STORES = {"mnesia": MnesiaStore, "memory": MemoryStore}


def resolve_store(store: Any) -> type:
    """A store class from a class, ``"mnesia"``/``"memory"`` or a ``"module:Class"`` path."""
    if store is None:
        return MnesiaStore
    if isinstance(store, type):
        return store
    if isinstance(store, str):
        if store in _STORES:
            return _STORES[store]
        found = import_path(store)
        if not isinstance(found, type):
            raise ArgumentTypeError(f"store {store!r} names {found!r}, not a store class")
        return found
    raise ArgumentTypeError(f"store must be a store class or 'mnesia'/'memory', got {store!r}")


def _is_shared(store_cls: type) -> bool:
    """Whether several processes can open the store (MemoryStore lives in one process)."""
    return not (isinstance(store_cls, type) and issubclass(store_cls, MemoryStore))


def runner_child_spec(opts: dict) -> ChildSpec:
    """The spec of ``<name>.Runner`` (a supervisor child) for the options of ``Runner``."""
    name = opts.get("name")
    if not name:
        raise MissingNameError("name: a Runner needs a name (e.g. Runner.start_link(name='app', ...))")
    store_cls = resolve_store(opts.get("store"))
    shared = _is_shared(store_cls)
    pool = int(opts.get("pool_size") or (os.cpu_count() or 1)) if shared else 1
    host_base = {"runner": name, "store": store_path(store_cls), "store_opts": dict(opts.get("store_opts") or {}),
                 "threads": opts.get("threads"), "telemetry": opts.get("telemetry")}
    hosts = [ChildSpec(id=f"{name}.host-{i}", start=(WorkerHost, {**host_base, "host_id": f"{name}.host-{i}"}),
                       restart="permanent", shutdown=15.0) for i in range(pool)]
    sup_opts = {
        "children": hosts, "strategy": "one_for_one", "name": f"{name}.Runner",
        "max_restarts": int(opts.get("max_restarts", 10)), "max_seconds": float(opts.get("max_seconds", 10)),
        "runner": {**host_base, "recover": opts.get("recover", "auto"), "functions": opts.get("functions"),
                   "shared": shared, "pool": [h.id for h in hosts], "node": opts.get("node"),
                   "lease": float(opts.get("lease") or DEFAULT_LEASE_S), "driver": opts.get("driver"),
                   "instance": opts.get("instance") or uuid.uuid4().hex},
    }
    return ChildSpec(id=f"{name}.Runner", start=(RunnerActor, sup_opts), restart="permanent",
                     shutdown="infinity", type="supervisor")


