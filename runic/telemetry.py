"""Telemetry: the Runner's event catalogue and a tiny handler bus.

Event names are tuples starting with ``("runic", "runner")``; :func:`event_names` lists all 12.
Handlers are called as ``handler(name, measurements, metadata)`` **in the process where the
event happens** — the worker host that runs the workflow. Attach handlers before the Runner
starts (its processes are forked and inherit them), or pass them to
``Runner.start_link(telemetry=[(names, handler), ...])``. A handler that raises is logged and
detached; it never breaks a Worker.

Only the Runner emits; the workflow core emits nothing. Durations are integer milliseconds.
:mod:`runic.telemetry_otel` bridges these events to OpenTelemetry spans.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from typing import Any, Callable, Iterable

from .errors import ArgumentError, ArgumentTypeError

__all__ = ["event_names", "attach", "detach", "execute", "span", "handlers", "Handler"]

log = logging.getLogger(__name__)

Handler = Callable[[tuple[Any, ...], dict[Any, Any], dict[Any, Any]], Any]

_PREFIX = ("runic", "runner")
_NAMES = [
    _PREFIX + ("workflow", "start"), _PREFIX + ("workflow", "stop"), _PREFIX + ("workflow", "exception"),
    _PREFIX + ("runnable", "start"), _PREFIX + ("runnable", "stop"), _PREFIX + ("runnable", "exception"),
    _PREFIX + ("store", "start"), _PREFIX + ("store", "stop"), _PREFIX + ("store", "exception"),
    _PREFIX + ("promise", "start"), _PREFIX + ("promise", "stop"), _PREFIX + ("rehydration", "complete"),
]

_lock = threading.Lock()
_ids = itertools.count(1)
_handlers: dict[Any, tuple[frozenset[Any], Handler]] = {}
_by_name: dict[tuple[Any, ...], list[tuple[Any, Handler]]] = {}


def event_names() -> list[tuple[str, ...]]:
    """The 12 event names of the catalogue."""
    return list(_NAMES)


def _rebuild() -> None:
    by: dict[tuple[Any, ...], list[Any]] = {}
    for hid, (names, fn) in _handlers.items():
        for n in names:
            by.setdefault(n, []).append((hid, fn))
    global _by_name
    _by_name = by


def attach(names: Iterable[tuple[Any, ...]] | tuple[Any, ...], handler: Handler, handler_id: Any = None) -> Any:
    """Call ``handler(name, measurements, metadata)`` for each event in ``names`` (a name or a
    list of names). Returns the handler id (for :func:`detach`)."""
    if isinstance(names, tuple) and names and isinstance(names[0], str):
        names = [names]
    names = frozenset(tuple(n) for n in names)
    unknown = names - set(_NAMES)
    if unknown:
        raise ArgumentError(f"unknown telemetry events {sorted(unknown)}; see runic.telemetry.event_names()")
    if not callable(handler):
        raise ArgumentTypeError("a telemetry handler must be callable as handler(name, measurements, metadata)")
    with _lock:
        hid = handler_id if handler_id is not None else next(_ids)
        _handlers[hid] = (names, handler)
        _rebuild()
    return hid


def detach(handler_id: Any) -> bool:
    """Remove a handler; False if it was not attached."""
    with _lock:
        found = _handlers.pop(handler_id, None) is not None
        _rebuild()
    return found


def handlers() -> dict[Any, tuple[frozenset[Any], Handler]]:
    """The attached handlers by id."""
    return dict(_handlers)


def execute(name: tuple[Any, ...], measurements: dict[Any, Any], metadata: dict[Any, Any]) -> None:
    """Emit one event to its handlers (a raising handler is logged and detached)."""
    targets = _by_name.get(name)
    if not targets:
        return
    for hid, fn in targets:
        try:
            fn(name, measurements, metadata)
        except Exception:  # noqa: BLE001 - telemetry never breaks the caller
            log.exception("telemetry handler %r failed on %s; detaching it", hid, ".".join(name))
            detach(hid)


def span(prefix: tuple[Any, ...], metadata: dict[Any, Any], fn: Callable[[], Any]) -> Any:
    """Emit ``prefix + ("start",)``, run ``fn``, then ``("stop",)`` with ``duration`` (ms), or
    ``("exception",)`` with the error (and re-raise). Returns ``fn()``'s result."""
    start = time.monotonic_ns()
    if _by_name:
        execute(prefix + ("start",), {"system_time": time.time_ns(), "monotonic_time": start}, metadata)
    try:
        result = fn()
    except Exception as exc:
        if _by_name:
            execute(prefix + ("exception",), {"duration": (time.monotonic_ns() - start) // 1_000_000},
                    {**metadata, "kind": "error", "reason": exc})
        raise
    if _by_name:
        end = time.monotonic_ns()
        execute(prefix + ("stop",), {"duration": (end - start) // 1_000_000, "monotonic_time": end}, metadata)
    return result


def enabled() -> bool:
    """Whether any handler is attached (lets hot paths skip building metadata)."""
    return bool(_by_name)
