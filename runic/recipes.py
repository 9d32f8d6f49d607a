"""Rebuilding components from a log: ``from_recipe`` and the ``functions=`` lookup.

A ``ComponentAdded`` event records a component's kind, name, hash and *recipe* (its functions
as :class:`~runic.functions.FunctionRef` values, its literal parameters, the hashes of its
nodes). :func:`from_recipe` rebuilds the component with that identity, restoring each function
right away (:func:`restore_or_stub`), so a function that cannot be restored fails the rebuild,
never a later run. :class:`FunctionLookup` resolves what the caller passed as ``functions=``: a
workflow definition (matched by component name) or a mapping ``{component: callable | {part:
callable}}``.

With ``stub_missing`` (inspection: drawing a graph, listing productions), a function that
cannot be restored is replaced by a stand-in that raises the restore error if it is called.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from .components import (
    Component,
    Map,
    StateMachine,
    make_accumulator,
    make_condition,
    make_reduce,
    make_rule,
    make_step,
)
from .context import REQUIRED
from .errors import FunctionRestoreError, WorkflowDefinitionError
from .functions import FunctionRef, restore
from .structure import Structure

__all__ = ["FunctionLookup", "from_recipe", "restore_or_stub", "missing_function"]


class FunctionLookup:
    """Resolves ``functions=`` for replay: a workflow definition, or a mapping of component
    name -> callable, or -> ``{part: callable}``."""

    def __init__(self, functions: Any, stub_missing: bool = False) -> None:
        self.workflow = functions if isinstance(functions, Structure) else None
        self.mapping = functions if isinstance(functions, Mapping) else None
        self.stub_missing = stub_missing

    def get(self, component: str, part: str) -> Callable[..., Any] | None:
        if self.mapping is not None and component in self.mapping:
            entry = self.mapping[component]
            if isinstance(entry, Mapping):
                found: Callable[..., Any] | None = entry.get(part)
                return found
            if callable(entry) and part in ("work", "reducer", "reaction"):
                fn: Callable[..., Any] = entry
                return fn
            if isinstance(entry, Component):
                return entry.functions().get(part)
        if self.workflow is not None:
            comp = self.workflow.components.get(component)
            if comp is not None:
                own: Callable[..., Any] | None = comp.functions().get(part)
                return own
        return None


def restore_or_stub(fref: FunctionRef, provided: Callable[..., Any] | None, component: str, part: str,
                    stub_missing: bool) -> Callable[..., Any]:
    """:func:`runic.functions.restore`; when that fails and ``stub_missing`` (inspection only),
    a stand-in that raises the restore error if it is ever called."""
    try:
        return restore(fref, provided, component, part)
    except FunctionRestoreError as exc:
        if not stub_missing:
            raise
        return missing_function(exc)


def _restore(lookup: FunctionLookup, component: str, part: str, fref: FunctionRef) -> Callable[..., Any]:
    return restore_or_stub(fref, lookup.get(component, part), component, part, lookup.stub_missing)


def missing_function(error: Exception) -> Callable[..., Any]:
    """A stand-in for a function that could not be restored (inspection only): calling it
    raises the restore error."""

    def missing(*args: Any, **kwargs: Any) -> Any:
        raise error

    missing.__runic_missing__ = True  # type: ignore[attr-defined]
    return missing


def _restore_init(lookup: FunctionLookup, component: str, spec: dict[Any, Any]) -> Any:
    if "fn" in spec:
        return _restore(lookup, component, "init", spec["fn"])
    return spec.get("value")


def _restore_context(lookup: FunctionLookup, component: str, spec: Any) -> dict[Any, Any] | None:
    if not spec:
        return None
    out: dict[str, Any] = {}
    for k, d in spec.items():
        if d.get("required"):
            out[k] = REQUIRED
        elif "fn" in d:
            out[k] = _restore(lookup, component, f"context:{k}", d["fn"])
        else:
            out[k] = d.get("value")
    return out


def from_recipe(kind: str, name: str, h: int, recipe: dict[Any, Any], lookup: FunctionLookup) -> Component:
    """Rebuild a component from its ``ComponentAdded`` fields, keeping the logged identity."""
    if kind == "step":
        work = _restore(lookup, name, "work", recipe["work"])
        return make_step(work, name, _restore_context(lookup, name, recipe.get("context")),
                          fref=recipe["work"], auto=False, hash=h)
    if kind == "condition":
        work = _restore(lookup, name, "work", recipe["work"])
        return make_condition(work, name, _restore_context(lookup, name, recipe.get("context")),
                               fref=recipe["work"], auto=False, hash=h)
    if kind == "rule":
        cond = _restore(lookup, name, "condition", recipe["condition"])
        reaction = _restore(lookup, name, "reaction", recipe["reaction"])
        return make_rule(cond, reaction, name, _restore_context(lookup, name, recipe.get("context")),
                          auto=False, frefs=(recipe["condition"], recipe["reaction"]), hash=h,
                          node_hashes=(recipe.get("condition_hash"), recipe.get("reaction_hash")))
    if kind == "accumulator":
        reducer = _restore(lookup, name, "reducer", recipe["reducer"])
        init = _restore_init(lookup, name, recipe["init"])
        return make_accumulator(init, reducer, name, _restore_context(lookup, name, recipe.get("context")),
                                 auto=False, reducer_ref=recipe["reducer"], hash=h)
    if kind == "reduce":
        reducer = _restore(lookup, name, "reducer", recipe["reducer"])
        init = _restore_init(lookup, name, recipe["init"])
        return make_reduce(init, reducer, name, recipe.get("map"), auto=False, reducer_ref=recipe["reducer"],
                            hash=h, node_hash=recipe.get("fan_in_hash"))
    if kind == "state_machine":
        acc_spec = recipe["accumulator"]
        acc: Any = from_recipe("accumulator", acc_spec["name"], acc_spec["hash"], acc_spec["recipe"],
                               _Scoped(lookup, name, acc_spec["name"]))
        reactors = [from_recipe("rule", r["name"], r["hash"], r["recipe"], lookup) for r in recipe["reactors"]]
        return StateMachine(name, acc, reactors, h, acc.init_value, acc.reducer)  # type: ignore[arg-type]
    if kind == "map":
        body = [_entry_from_recipe(e, lookup) for e in recipe["body"]]
        return Map(name, body, h, False)
    raise WorkflowDefinitionError(f"unknown component kind {kind!r} in log (component {name!r})")


class _Scoped(FunctionLookup):
    """Looks a part up under the outer component's name first (state machines)."""

    def __init__(self, inner: FunctionLookup, outer: str, own: str) -> None:
        self.inner, self.outer, self.own = inner, outer, own
        self.stub_missing = inner.stub_missing

    def get(self, component: str, part: str) -> Callable[..., Any] | None:
        return self.inner.get(self.outer, part) or self.inner.get(self.own, part)


def _entry_from_recipe(spec: dict[Any, Any], lookup: FunctionLookup) -> Any:
    if "parent" in spec:
        p = spec["parent"]
        parent = [_entry_from_recipe(x, lookup) for x in p] if isinstance(p, list) else _entry_from_recipe(p, lookup)
        return (parent, [_entry_from_recipe(c, lookup) for c in spec["children"]])
    return from_recipe(spec["kind"], spec["name"], spec["hash"], spec["recipe"], lookup)
