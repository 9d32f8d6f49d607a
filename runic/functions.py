"""Functions in workflow logs: content hashes, references and restoring them.

A component's functions are recorded in its ``ComponentAdded`` event as a
:class:`FunctionRef`: an import path ``"package.module:qualname"`` (when the function can be
imported) plus a *content hash* of its code. Nothing executable is stored.

The content hash covers the function's bytecode, constants (nested code included), names,
defaults and the values it captured in its closure (Runic's "pinned" values), but not its line
numbers: the same code with the same captured values hashes the same wherever it is defined,
and a closure over ``n=3`` differs from one over ``n=4``. ``functools.partial`` objects over
importable functions with encodable arguments are recorded with those arguments and restore by
themselves.

Restoring (:func:`restore`) prefers a callable supplied by the caller (``functions=``), then the
import path. When the restored code's hash differs from the logged one, the current code is
used, the logged hash stays the component's identity, and a warning is logged.

Calling conventions are decided once, at build time, from the signature (:func:`call_shape`):
the number of required positional parameters (0: called with no argument; 1: the whole input;
2 or more: a list input is spread) and whether the function takes a ``context`` parameter (it
then receives the component's run context as ``context=``): an explicit flag, instead of
Runic's "context non-empty and arity >= 2" rule, which guesses wrong for functions of two
parameters.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import inspect
import logging
import types
import weakref
from typing import Any, Callable

from . import codec
from .errors import FunctionRestoreError
from .hashing import canonical_form, canonical_bytes, content_hash, hash_bytes

__all__ = ["FunctionRef", "CallShape", "call_shape", "function_hash", "describe", "restore", "import_ref",
           "import_path", "content_id"]

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, slots=True)
class FunctionRef:
    """How a function is recorded in a log: an import path (or ``None``) and a content hash.

    ``args``/``kwargs`` are set for ``functools.partial`` objects over importable functions.
    """

    ref: str | None
    hash: int
    name: str
    args: tuple[Any, ...] = ()
    kwargs: dict[Any, Any] | None = None


codec.register(FunctionRef, "runic.FunctionRef")


@dataclasses.dataclass(frozen=True, slots=True)
class CallShape:
    """How a function is called with an input value (decided once, at build time)."""

    positional: int  # required positional parameters (capped at 2 meaning "spread")
    context: bool  # takes a ``context`` keyword
    varargs: bool


_SHAPES: "weakref.WeakKeyDictionary[Any, dict[Any, CallShape]]" = weakref.WeakKeyDictionary()
_INTERNED: dict[CallShape, CallShape] = {}


def intern_shape(shape: CallShape) -> CallShape:
    """The one shared instance equal to ``shape`` (nodes test the common shape by identity)."""
    return _INTERNED.setdefault(shape, shape)


def call_shape(fn: Callable[..., Any], default_positional: int = 1) -> CallShape:
    """Inspect ``fn``'s signature: required positional parameters and a ``context`` parameter
    (cached per function object: ``inspect.signature`` is slow). A ``functools.partial``'s shape
    depends only on its function, how many positional arguments it binds and which keywords
    (not their values), so it is cached under its function: each partial is a new object, and a
    pipeline of 20,000 partials of one function computed the same signature 20,000 times, a
    third of building it."""
    owner: Any = fn
    key: Any = default_positional
    if type(fn) is functools.partial:
        owner, key = fn.func, (len(fn.args), frozenset(fn.keywords), default_positional)
    try:
        per_owner = _SHAPES.get(owner)
        if per_owner is None:
            per_owner = _SHAPES[owner] = {}
    except TypeError:  # cannot be weakly referenced or hashed: not cached
        return _call_shape(fn, default_positional)
    shape = per_owner.get(key)
    if shape is None:
        shape = per_owner[key] = _call_shape(fn, default_positional)
    return shape


def _call_shape(fn: Callable[..., Any], default_positional: int) -> CallShape:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):  # some builtins have no signature
        return intern_shape(CallShape(default_positional, False, False))
    required = 0
    varargs = False
    context = False
    for p in sig.parameters.values():
        if p.name == "context" and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD):
            context = True
            continue
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty:
            required += 1
        elif p.kind is p.VAR_POSITIONAL:
            varargs = True
    if required == 0 and varargs:
        required = default_positional
    return intern_shape(CallShape(required, context, varargs))


def _code_key(code: types.CodeType, depth: int = 0) -> list[Any]:
    consts = []
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            consts.append(_code_key(c, depth + 1) if depth < 20 else c.co_name)
        else:
            consts.append(canonical_form(c, 0))
    return [code.co_code, consts, list(code.co_names), code.co_argcount,
            code.co_kwonlyargcount, list(code.co_varnames), list(code.co_freevars)]


def _value_key(value: Any, depth: int) -> Any:
    if depth > 10:
        return "..."
    if isinstance(value, (types.FunctionType, functools.partial)) or (
        callable(value) and hasattr(value, "__code__")
    ):
        return ["fn", _function_key(value, depth + 1)]
    if isinstance(value, types.ModuleType):
        return ["module", value.__name__]
    if isinstance(value, type):
        return ["type", f"{value.__module__}.{value.__qualname__}"]
    try:
        return canonical_form(value, 0)
    except Exception:  # unhashable exotic values: fall back to their type
        return ["opaque", f"{type(value).__module__}.{type(value).__qualname__}"]


def _function_key(fn: Any, depth: int = 0) -> list[Any]:
    if isinstance(fn, functools.partial):
        return ["partial", _function_key(fn.func, depth + 1),
                [_value_key(a, depth + 1) for a in fn.args],
                {k: _value_key(v, depth + 1) for k, v in (fn.keywords or {}).items()}]
    if isinstance(fn, types.MethodType):
        return ["method", _function_key(fn.__func__, depth + 1), _value_key(fn.__self__, depth + 1)]
    code = getattr(fn, "__code__", None)
    if code is None:
        t = fn if isinstance(fn, type) else type(fn)
        if not isinstance(fn, (types.BuiltinFunctionType, type)) and hasattr(t, "__call__"):
            call = getattr(t, "__call__")
            inner = _function_key(call, depth + 1) if hasattr(call, "__code__") else None
            return ["callable", f"{t.__module__}.{t.__qualname__}", inner, _value_key(vars(fn) if hasattr(fn, "__dict__") else None, depth + 1)]
        return ["builtin", getattr(fn, "__module__", None) or "", getattr(fn, "__qualname__", repr(fn))]
    closure = []
    for cell in fn.__closure__ or ():
        try:
            closure.append(_value_key(cell.cell_contents, depth + 1))
        except ValueError:  # empty cell
            closure.append(None)
    defaults = [_value_key(d, depth + 1) for d in (fn.__defaults__ or ())]
    kwdefaults = {k: _value_key(v, depth + 1) for k, v in (fn.__kwdefaults__ or {}).items()}
    return ["fn", fn.__module__, fn.__qualname__, _code_key(code), closure, defaults, kwdefaults]


_HASHES: "weakref.WeakKeyDictionary[Any, int]" = weakref.WeakKeyDictionary()


def function_hash(fn: Callable[..., Any]) -> int:
    """Stable content hash of a callable's code and captured values (see module docs).

    Cached per function object (rebuilding a 1,000-step pipeline of one function hashes it
    once); a function whose defaults or closure cells are reassigned afterwards keeps its
    first hash."""
    try:
        cached = _HASHES.get(fn)
    except TypeError:  # not weak-referenceable (bound methods, some builtins)
        return hash_bytes(canonical_bytes(_function_key(fn)))
    if cached is None:
        cached = hash_bytes(canonical_bytes(_function_key(fn)))
        try:
            _HASHES[fn] = cached
        except TypeError:
            pass
    return cached


def import_ref(fn: Callable[..., Any]) -> str | None:
    """``"module:qualname"`` when ``fn`` can be imported by that path, else ``None``."""
    if isinstance(fn, functools.partial):
        return import_ref(fn.func)
    module = getattr(fn, "__module__", None)
    qualname = getattr(fn, "__qualname__", None)
    if not module or not qualname or "<" in qualname:
        return None
    return f"{module}:{qualname}"


def describe(fn: Callable[..., Any]) -> FunctionRef:
    """Record ``fn`` as a :class:`FunctionRef` (import path when importable, content hash)."""
    h = function_hash(fn)
    name = getattr(fn, "__name__", None) or type(fn).__name__
    if isinstance(fn, functools.partial):
        ref = import_ref(fn.func)
        args, kwargs = tuple(fn.args), dict(fn.keywords or {})
        try:
            codec.dumps([args, kwargs])
        except codec.EncodeError:
            ref = None
        if ref is None:
            return FunctionRef(None, h, getattr(fn.func, "__name__", "partial"))
        return FunctionRef(ref, h, getattr(fn.func, "__name__", "partial"), args, kwargs or None)
    return FunctionRef(import_ref(fn), h, name)


def import_path(ref: str) -> Any:
    """The object named by ``"package.module:qualname"`` (``qualname`` may be dotted:
    ``"pkg.mod:Class.method"``), imported now. The one place runic resolves such paths.

    Raises :class:`ImportError` when the module cannot be imported, :class:`AttributeError`
    when it has no such attribute, and :class:`ValueError` when ``ref`` has no ``":"``.
    """
    module_name, sep, qualname = ref.partition(":")
    if not sep or not module_name or not qualname:
        raise ValueError(f"{ref!r} is not a 'package.module:qualname' path")
    obj: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def _unwrap(fn: Any) -> Any:
    """The function inside a component made by a decorator (``@runic.step`` leaves the component
    where the function was, so importing the function's path gives the component)."""
    if fn is not None and getattr(type(fn), "__runic_function__", None) is not None:
        return fn.__runic_function__
    return fn


def restore(fref: FunctionRef, provided: Callable[..., Any] | None, component: object, part: str) -> Callable[..., Any]:
    """Rebuild a recorded function: ``provided`` wins, then the import path.

    Raises :class:`runic.errors.FunctionRestoreError` naming the component and part when neither
    gives a callable.
    """
    fn: Callable[..., Any] | None = _unwrap(provided)
    if fn is None:
        if fref.ref is None:
            raise FunctionRestoreError(component, part, fref.name,
                                       "it is a lambda, closure or nested function, which cannot be imported")
        try:
            fn = _unwrap(import_path(fref.ref))
        except Exception as exc:  # ImportError, AttributeError...
            raise FunctionRestoreError(component, part, fref.ref, f"import failed ({type(exc).__name__}: {exc})") from exc
        if fref.args or fref.kwargs:
            fn = functools.partial(fn, *fref.args, **(fref.kwargs or {}))
    if not callable(fn):
        raise FunctionRestoreError(component, part, fref.ref or fref.name, f"{fn!r} is not callable")
    current = function_hash(fn)
    if current != fref.hash:
        log.warning(
            "the %s function of component %r changed since it was logged (hash %x -> %x); "
            "using the current code and keeping the logged identity", part, component, fref.hash, current,
        )
    return fn


def content_id(*parts: Any) -> int:
    """Content hash of a tuple of parts (component identities)."""
    return content_hash(parts)
