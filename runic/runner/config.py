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

from ..errors import MissingNameError
from ..store.registry import class_path, store_class
from ..supervisor import ChildSpec
from .actor import RunnerActor
from .host import WorkerHost
from .lease import DEFAULT_LEASE_S

__all__ = ["runner_child_spec", "resolve_store"]

def resolve_store(store: Any) -> type:
    """A store class from a class, a name (``"mnesia"``, ``"memory"``, ``"postgres"``) or a
    ``"module:Class"`` path (see :func:`runic.store.registry.store_class`)."""
    return store_class(store)


def _is_shared(store_cls: type) -> bool:
    """Whether several processes can open the store (its declared capability)."""
    return bool(getattr(store_cls, "shared", True))


def runner_child_spec(opts: dict) -> ChildSpec:
    """The spec of ``<name>.Runner`` (a supervisor child) for the options of ``Runner``."""
    name = opts.get("name")
    if not name:
        raise MissingNameError("name: a Runner needs a name (e.g. Runner.start_link(name='app', ...))")
    store_cls = resolve_store(opts.get("store"))
    shared = _is_shared(store_cls)
    pool = int(opts.get("pool_size") or (os.cpu_count() or 1)) if shared else 1
    host_base = {"runner": name, "store": class_path(store_cls), "store_opts": dict(opts.get("store_opts") or {}),
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


