"""Run context: values a caller hands to components at run time, scoped by component name.

``wf.put_run_context({"_global": {...}, "charge": {"api_key": ...}})`` stores the run context;
a node sees ``_global`` overlaid by the entries of the components that own it (outermost first,
so the innermost component wins), then by its own name's entry. Components declare the keys
they read with ``context=`` (:data:`REQUIRED` for a key without a default); a declared key that
the run context does not provide gets its default (``None`` for a required one: the check that
required keys are present is :func:`missing_keys`, run by ``Workflow.validate_run_context``).

Pure functions over plain data: the workflow supplies its run context and its owners map.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from .errors import RunicError

__all__ = ["REQUIRED", "RunContextError", "scoped_context", "with_declared_keys", "declared_keys",
           "missing_keys"]


class _Required:
    __slots__ = ()

    def __repr__(self) -> str:
        return "runic.REQUIRED"

    def __reduce__(self) -> str:
        return "REQUIRED"


REQUIRED = _Required()
"""Marks a declared context key that has no default (``runic.step(fn, context={"k": REQUIRED})``)."""


class RunContextError(RunicError, ValueError):
    """Required run-context keys are missing (``missing``: component -> keys)."""

    def __init__(self, missing: dict[str, list[str]]) -> None:
        self.missing = missing
        parts = "; ".join(f"{c}: {', '.join(ks)}" for c, ks in missing.items())
        super().__init__(f"missing required run context keys ({parts}); pass them with "
                         "run_context={component: {key: value}} or under '_global'")


def scoped_context(run_context: Mapping[str, Any], names: Iterable[str]) -> dict[str, Any]:
    """``_global`` overlaid by the entries of ``names`` (given innermost first, applied last)."""
    out = dict(run_context.get("_global") or {})
    for n in reversed(list(names)):
        entry = run_context.get(n)
        if isinstance(entry, dict):
            out.update(entry)
    return out


def with_declared_keys(ctx: dict[str, Any], keys: Mapping[str, Any] | None) -> dict[str, Any]:
    """``ctx`` with the defaults of the declared ``keys`` it lacks filled in (in place)."""
    if keys:
        for key, default in keys.items():
            if key not in ctx:
                ctx[key] = None if default is REQUIRED else (default() if callable(default) else default)
    return ctx


def declared_keys(nodes: Iterable[Any], owners: Mapping[int, list[str]]) -> dict[str, list[tuple[str, Any]]]:
    """``{component: [(key, "required" | ("optional", default))]}`` for the keys ``nodes``
    declare, each under the outermost component that owns its node."""
    out: dict[str, list[tuple[str, Any]]] = {}
    for node in nodes:
        keys = getattr(node, "context_keys", None)
        if not keys:
            continue
        owner = (owners.get(node.hash) or [node.name])[0]
        out.setdefault(owner, []).extend(
            (k, "required" if d is REQUIRED else ("optional", d)) for k, d in keys.items()
        )
    return out


def missing_keys(declared: Mapping[str, list[tuple[str, Any]]], ctx: Mapping[str, Any]) -> dict[str, list[str]]:
    """Per component, the required keys that ``ctx`` does not provide (``_global`` counts)."""
    missing: dict[str, list[str]] = {}
    glob = ctx.get("_global") or {}
    for comp, keys in declared.items():
        own = ctx.get(comp) or {}
        for key, kind in keys:
            if kind == "required" and key not in own and key not in glob:
                missing.setdefault(comp, []).append(key)
    return missing
