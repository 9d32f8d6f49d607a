"""Turning workflow values, errors and events into short text for the terminal."""

from __future__ import annotations

import datetime as _dt
import json
from typing import Any

from rich.console import Group
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from ..facts import STRIPPED, Fact, FactRef

__all__ = ["short", "as_json", "fact_id", "error_text", "when", "results_table", "failures_of", "esc", "titled"]


def esc(value: Any) -> str:
    """``str(value)`` with rich markup escaped (user data inside console markup)."""
    return escape(str(value))


def titled(title: str, body: Any) -> Group:
    """``body`` under a bold heading line (table titles would wrap to the table's width)."""
    return Group(Text(title, style="bold"), body)


def _default(value: Any) -> Any:
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    if isinstance(value, Fact):
        return value.value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace") if len(value) < 200 else f"<{len(value)} bytes>"
    return repr(value)


def as_json(value: Any) -> str:
    """``value`` as compact JSON when it is plain data, else its ``repr``."""
    if value is STRIPPED:
        return "<value in the fact table>"
    try:
        return json.dumps(value, ensure_ascii=False, default=_default, separators=(", ", ": "))
    except (TypeError, ValueError):
        return repr(value)


def short(value: Any, limit: int = 80) -> str:
    """:func:`as_json`, cut to ``limit`` characters (``limit <= 0``: never cut)."""
    text = as_json(value)
    if limit > 0 and len(text) > limit:
        return text[: limit - 1] + "…"
    return text


def fact_id(h: Any) -> str:
    """A fact or node hash as the short hex shown everywhere (``#1a2b3c4d``)."""
    if isinstance(h, int):
        return f"#{h & 0xFFFFFFFFFFFFFFFF:016x}"[:9]
    return str(h)


def error_text(error: Any) -> str:
    """An error recorded in an event (an ``ErrorInfo``, an exception, a tuple) as one line."""
    if error is None:
        return "skipped"
    if isinstance(error, BaseException):
        text = f"{type(error).__name__}: {error}"
    else:
        text = str(error)
    return " ".join(text.split())


def when(ms: int | None) -> str:
    """A wall-clock timestamp in ms as local ``YYYY-MM-DD HH:MM:SS``."""
    if not ms:
        return "unknown"
    return _dt.datetime.fromtimestamp(ms / 1000).strftime("%Y-%m-%d %H:%M:%S")


def results_table(results: dict, limit: int = 100, title: str | None = None) -> Any:
    """A two-column table of ``{name: value}``."""
    table = Table(show_header=False, show_edge=False, pad_edge=False, box=None)
    table.add_column("name", style="bold")
    table.add_column("value", overflow="fold")
    for name, value in results.items():
        table.add_row(Text(str(name)), Text(short(value, limit)))
    return titled(title, table) if title else table


def failures_of(wf: Any, labels: dict) -> list[tuple[str, str, str]]:
    """``(node label, input, error)`` for every runnable of ``wf`` that failed for good."""
    out = []
    for f in wf.halted_failures():
        info = labels.get(f.node_hash)
        fact = wf.graph.vertices.get(f.fact_hash)
        value = fact.value if isinstance(fact, Fact) else ("<value not loaded>" if isinstance(fact, FactRef) else "?")
        out.append((info.label if info else f"node {f.node_hash:016x}", short(value, 60),
                    error_text(f"{f.error_type}: {f.message}")))
    return out
