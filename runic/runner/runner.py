"""``Runner``: run many workflows durably under a supervision tree.

``Runner.start_link(name="app", store=MnesiaStore, store_opts={...})`` starts, on the actor
system (``runic.actors.default_system()`` unless ``system=`` is given)::

    Supervisor "app" (one_for_one)
    ├── app.Store        the store actor (table lifecycle; data never flows through it)
    └── app.Runner       the runner actor: supervisor of the worker hosts + the API
        ├── app.host-0   worker host: many Workers in one execution loop
        ├── app.host-1   ... (pool_size hosts, default: the number of CPUs)
        └── app.host/<id> a dedicated host (start_workflow(..., dedicated=True))

The same tree can be declared as a children list under your own supervisor::

    children = [(MnesiaStore, {"runner_name": "app"}),
                (Runner, {"name": "app", "store": MnesiaStore, "store_opts": {...}})]
    sup = Supervisor.start_link(children)
    runner = Runner.attach(sup, "app")

Every method is a request to the runner actor (:mod:`runic.runner.messages`); errors come
back as exceptions: :class:`~runic.runner.errors.WorkflowNotFoundError` for unknown ids,
:class:`~runic.runner.errors.AlreadyStartedError` for a second start.
"""

from __future__ import annotations

import atexit
import logging
import weakref
from typing import Any, Iterable

from ..actors import ActorSystemHandle, default_system
from ..errors import ArgumentError, ArgumentTypeError, MissingNameError
from ..store import MemoryStore, MnesiaStore
from ..supervisor import ChildSpec, Supervisor
from ..supervisor.messages import ErrorReply
from ..supervisor.supervisor import _request
from .actor import runner_child_spec
from .errors import RunnerNotRunningError, RunnerTimeoutError, error_for
from .messages import (
    Accepted,
    AwaitIdle,
    AwaitMany,
    Checkpoint,
    GetResults,
    GetTree,
    GetWorkflow,
    ListWorkflows,
    Location,
    Lookup,
    ResumeWorkflow,
    Run,
    StartMany,
    StartWorkflow,
    StopWorkflow,
    StoreAnswer,
    StoreQuery,
    WorkerState,
    pack,
    unpack,
)
from .worker import HOOKS, parse_checkpoint_strategy

__all__ = ["Runner", "resolve_store"]

log = logging.getLogger("runic.runner")

_STORES = {"mnesia": MnesiaStore, "memory": MemoryStore}
_FOREVER = 7 * 24 * 3600.0  # "no timeout" (select() cannot wait longer than ~24 days)


def resolve_store(store: Any) -> type:
    """A store class from a class, ``"mnesia"``/``"memory"`` or a ``"module:Class"`` path."""
    if store is None:
        return MnesiaStore
    if isinstance(store, type):
        return store
    if isinstance(store, str):
        if store in _STORES:
            return _STORES[store]
        from .host import open_store  # noqa: F401 - same resolution rules

        module, _, qual = store.partition(":")
        import importlib

        obj: Any = importlib.import_module(module)
        for part in qual.split("."):
            obj = getattr(obj, part)
        return obj
    raise ArgumentTypeError(f"store must be a store class or 'mnesia'/'memory', got {store!r}")


class Runner:
    """A handle on a running Runner (see the module docs). Also a context manager."""

    def __init__(self, name: str, system: ActorSystemHandle, address: Any, *,
                 supervisor: Supervisor | None = None, timeout: float = 60.0) -> None:
        self.name = name
        self.system = system
        self.address = address
        self.supervisor = supervisor
        self.timeout = timeout
        self._owns_tree = False
        self._closed = False

    def __repr__(self) -> str:
        return f"<Runner {self.name!r}>"

    # ------------------------------------------------------------------ starting
    @classmethod
    def child_spec(cls, opts: dict) -> ChildSpec:
        """The spec of ``<name>.Runner`` for a children list (``store`` may be a class or a name;
        ``functions``/``telemetry`` may be given unpacked)."""
        opts = dict(opts)
        if "functions" in opts and not isinstance(opts["functions"], (bytes, type(None))):
            opts["functions"] = pack(opts["functions"])
        if "telemetry" in opts and not isinstance(opts["telemetry"], (bytes, type(None))):
            opts["telemetry"] = pack(list(opts["telemetry"]))
        return runner_child_spec(opts)

    @classmethod
    def start_link(cls, *, name: str, store: Any = MnesiaStore, store_opts: dict | None = None,
                   pool_size: int | None = None, recover: str = "auto", functions: Any = None,
                   telemetry: Iterable | None = None, threads: int | None = None,
                   system: ActorSystemHandle | None = None, timeout: float = 60.0) -> "Runner":
        """Start the store actor and the runner (its worker hosts) under a new supervisor.

        ``recover="auto"`` resumes the store's unfinished workflows (``"manual"``: leave them);
        ``functions`` (a definition workflow, or name -> callable) restores lambdas of
        recovered workflows; ``telemetry``: ``[(event_names, handler), ...]`` attached in every
        worker host. The tree stops when this process exits or :meth:`shutdown` is called.
        """
        if not name or not isinstance(name, str):
            raise MissingNameError("name: Runner.start_link needs name='<runner name>'")
        if recover not in ("auto", "manual"):
            raise ArgumentError('recover must be "auto" or "manual"')
        store_cls = resolve_store(store)
        store_opts = dict(store_opts or {})
        system = system if system is not None else default_system()
        children = [
            store_cls.child_spec({"runner_name": name, **store_opts}),
            cls.child_spec({"name": name, "store": store_cls, "store_opts": store_opts, "pool_size": pool_size,
                            "recover": recover, "functions": functions, "telemetry": telemetry,
                            "threads": threads}),
        ]
        sup = Supervisor.start_link(children, strategy="one_for_one", system=system, name=name,
                                    max_restarts=10, max_seconds=10)
        runner = cls._from_supervisor(sup, name, timeout)
        runner._owns_tree = True
        _LIVE.add(runner)
        return runner

    @classmethod
    def attach(cls, supervisor: Supervisor, name: str, timeout: float = 60.0) -> "Runner":
        """A handle on the runner ``name`` started as a child of ``supervisor``."""
        return cls._from_supervisor(supervisor, name, timeout)

    @classmethod
    def _from_supervisor(cls, sup: Supervisor, name: str, timeout: float) -> "Runner":
        for info in sup.which_children():
            if info.id == f"{name}.Runner":
                if info.address is None:
                    raise RunnerNotRunningError(f"runner {name!r} is not running under {sup!r}")
                return cls(name, sup.system, info.address, supervisor=sup, timeout=timeout)
        raise RunnerNotRunningError(f"no child {name}.Runner under {sup!r}; add (Runner, {{'name': {name!r}, ...}})")

    # ------------------------------------------------------------------ plumbing
    def _call(self, msg: Any, timeout: float | None = None) -> Any:
        if self._closed:
            raise RunnerNotRunningError(f"runner {self.name!r} was shut down; start a new one")
        t = self.timeout if timeout is None else timeout
        reply = _request(self.system, self.address, msg, t)
        if reply is None:
            self._refresh_address()
            raise RunnerTimeoutError(
                f"runner {self.name!r} did not answer {type(msg).__name__} within {t:g} s"
                + (f" (workflow {msg.workflow_id!r})" if hasattr(msg, "workflow_id") else "")
            )
        if isinstance(reply, ErrorReply):
            raise error_for(reply.type, reply.message)
        return reply

    def _refresh_address(self) -> None:
        """After a timeout: the runner actor may have been restarted at a new address."""
        if self.supervisor is None:
            return
        try:
            for info in self.supervisor.which_children():
                if info.id == f"{self.name}.Runner" and info.address is not None:
                    self.address = info.address
        except Exception:  # noqa: BLE001
            pass

    # ------------------------------------------------------------------ API
    def start_workflow(self, workflow_id: Any, workflow: Any, *, max_concurrency: int | None = None,
                       checkpoint_strategy: Any = "every_cycle", on_complete: Any = None,
                       hooks: dict | None = None, executor: str = "thread", dedicated: bool = False,
                       input: Any = None) -> str:  # noqa: A002
        """Start a Worker for ``workflow`` under ``workflow_id``; returns the host it runs on.

        ``input=``: also feed a first input (start and run in one request)."""
        parse_checkpoint_strategy(checkpoint_strategy)
        unknown = set(hooks or {}) - set(HOOKS)
        if unknown:
            raise ArgumentError(f"unknown hooks {sorted(unknown)}; valid hooks are {HOOKS}")
        options = {"max_concurrency": max_concurrency, "checkpoint_strategy": checkpoint_strategy, "executor": executor}
        callbacks = {"on_complete": on_complete, "hooks": hooks} if (on_complete or hooks) else None
        msg = StartWorkflow(workflow_id, pack(workflow), options, pack(callbacks),
                            pack(input) if input is not None else None, dedicated)
        return self._call(msg).host

    def start_many(self, workflow: Any, items: Iterable[tuple[Any, Any]], *, await_idle: bool = False,
                   timeout: float | None = None, max_concurrency: int | None = None,
                   checkpoint_strategy: Any = "every_cycle", on_complete: Any = None, hooks: dict | None = None,
                   executor: str = "thread") -> dict:
        """Start one workflow per ``(workflow_id, input)`` item, all from the same definition,
        in one request (``input`` None: start without an input). With ``await_idle=True``
        return once all of them have settled. Returns ``{workflow_id: host}``; ids that could
        not be started raise :class:`~runic.runner.errors.RunnerError` listing them (the others
        are started)."""
        parse_checkpoint_strategy(checkpoint_strategy)
        options = {"max_concurrency": max_concurrency, "checkpoint_strategy": checkpoint_strategy, "executor": executor}
        callbacks = {"on_complete": on_complete, "hooks": hooks} if (on_complete or hooks) else None
        msg = StartMany(pack(workflow), [(wid, pack(x) if x is not None else None) for wid, x in items], options,
                        pack(callbacks), await_idle)
        reply = self._call(msg, _FOREVER if (await_idle and timeout is None) else timeout)
        if reply.errors:
            raise _batch_error("start", reply.errors, reply.started)
        return reply.started

    def await_many(self, workflow_ids: Iterable[Any], timeout: float | None = None) -> dict:
        """Block until every listed workflow has settled; returns ``{workflow_id: status}``."""
        reply = self._call(AwaitMany(list(workflow_ids)), _FOREVER if timeout is None else timeout)
        if reply.errors:
            raise _batch_error("await", reply.errors, reply.statuses)
        return reply.statuses

    def run(self, workflow_id: Any, input: Any, run_context: dict | None = None,  # noqa: A002
            scheduler_policies: list | None = None, *, await_idle: bool = False,
            timeout: float | None = None) -> str | None:
        """Feed an input; returns once the workflow's host has accepted it (work goes on).

        ``await_idle=True``: return the status once the workflow has settled instead (one
        request instead of ``run`` + ``await_idle``)."""
        msg = Run(workflow_id, pack(input), pack(run_context), pack(scheduler_policies), await_idle)
        if not await_idle:
            reply = self._call(msg, timeout)
            assert isinstance(reply, Accepted)
            return None
        return self._call(msg, _FOREVER if timeout is None else timeout).status

    def await_idle(self, workflow_id: Any, timeout: float | None = None) -> str:
        """Block until the workflow has nothing left to do; returns its status."""
        return self._call(AwaitIdle(workflow_id), _FOREVER if timeout is None else timeout).status

    def get_results(self, workflow_id: Any, components: list | None = None, *, facts: bool = False,
                    all: bool = False) -> Any:  # noqa: A002
        """Raw productions (a list), or ``results(components, facts=, all=)`` (a dict)."""
        reply = self._call(GetResults(workflow_id, components, facts, all))
        return unpack(reply.value_blob)

    def get_workflow(self, workflow_id: Any) -> Any:
        """A copy of the workflow value as the Worker holds it now."""
        return unpack(self._call(GetWorkflow(workflow_id)).workflow_blob)

    def checkpoint(self, workflow_id: Any) -> None:
        """Persist now, whatever the checkpoint strategy."""
        self._call(Checkpoint(workflow_id))

    def stop(self, workflow_id: Any, persist: bool = True) -> None:
        """Stop the Worker (persisting first unless ``persist=False``)."""
        self._call(StopWorkflow(workflow_id, persist))

    def resume(self, workflow_id: Any, rehydration: str = "full", functions: Any = None, *,
               max_concurrency: int | None = None, checkpoint_strategy: Any = None, on_complete: Any = None,
               hooks: dict | None = None, executor: str | None = None, dedicated: bool = False) -> str:
        """Rebuild a workflow from the store and run its unfinished work; returns its host.

        ``rehydration``: ``"full"`` (every value loaded), ``"hybrid"`` (only what is needed to
        continue), ``"lazy"`` (values loaded when work needs them). Options default to those
        the workflow was started with."""
        if rehydration not in ("full", "hybrid", "lazy"):
            raise ArgumentError('rehydration must be "full", "hybrid" or "lazy"')
        options = None
        if any(v is not None for v in (max_concurrency, checkpoint_strategy, executor)):
            if checkpoint_strategy is not None:
                parse_checkpoint_strategy(checkpoint_strategy)
            options = {"max_concurrency": max_concurrency, "checkpoint_strategy": checkpoint_strategy or "every_cycle",
                       "executor": executor or "thread"}
        callbacks = {"on_complete": on_complete, "hooks": hooks} if (on_complete or hooks) else None
        msg = ResumeWorkflow(workflow_id, rehydration, pack(functions), options, pack(callbacks), dedicated)
        return self._call(msg).host

    def list_workflows(self) -> list:
        """Ids of the running Workers."""
        return self._call(ListWorkflows()).ids

    def lookup(self, workflow_id: Any) -> Location | None:
        """Where the workflow runs (host, address, pid), or ``None``."""
        loc = self._call(Lookup(workflow_id))
        return loc if loc.host is not None else None

    def worker_state(self, workflow_id: Any) -> dict:
        """A snapshot of the Worker's state (status, in-flight work, executor, hooks ...)."""
        return self._call(WorkerState(workflow_id)).state

    def stored(self, workflow_id: Any) -> StoreAnswer:
        """What the store holds for ``workflow_id`` (exists, cursor, status, owner)."""
        return self._call(StoreQuery(workflow_id))

    def tree(self) -> list[dict]:
        """The live tree: one dict per actor (``id``, ``role``, ``pid``, ``restarts``, and for
        hosts ``workflows``)."""
        entries: list[dict] = []
        if self.supervisor is not None:
            entries.append({"id": self.supervisor.name, "role": "supervisor", "pid": self.supervisor.pid,
                            "restarts": None})
            for info in self.supervisor.which_children():
                role = "store" if info.id.endswith(".Store") else "runner" if info.id == f"{self.name}.Runner" else "child"
                if role == "runner":
                    continue
                entries.append({"id": info.id, "role": role, "pid": info.pid, "restarts": info.restarts})
        runner_entries = self._call(GetTree()).entries
        if self.supervisor is not None:
            for info in self.supervisor.which_children():
                if info.id == f"{self.name}.Runner":
                    runner_entries[0]["restarts"] = info.restarts
        return entries + runner_entries

    def pids(self) -> list[int]:
        """Every live process of the Runner's tree."""
        return self.supervisor.pids() if self.supervisor is not None else []

    def shutdown(self) -> None:
        """Stop the tree (workers persist first). Running workflows keep status ``running``
        and are resumed by the next Runner started on the same store."""
        if self._closed:
            return
        self._closed = True
        _LIVE.discard(self)
        if self._owns_tree and self.supervisor is not None:
            self.supervisor.stop()

    def __enter__(self) -> "Runner":
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()


def _batch_error(what: str, errors: dict, done: dict) -> Exception:
    first = next(iter(errors.items()))
    err = error_for(first[1][0], f"{len(errors)} of {len(errors) + len(done)} workflows failed to {what} "
                                 f"(first: {first[0]!r}: {first[1][1]})")
    err.errors = errors  # type: ignore[attr-defined]
    err.done = done  # type: ignore[attr-defined]
    return err


_LIVE: "weakref.WeakSet[Runner]" = weakref.WeakSet()


@atexit.register
def _shutdown_all() -> None:  # pragma: no cover - interpreter exit
    for r in list(_LIVE):
        try:
            r.shutdown()
        except Exception:  # noqa: BLE001
            pass
