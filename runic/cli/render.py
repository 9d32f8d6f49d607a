"""Turning workflow values, errors and events into short text for the terminal.

Everything a user or a workflow chose (ids, names, values, error messages, paths) goes
through :func:`printable` before it reaches the terminal, so a workflow id holding an escape
sequence cannot recolour, move the cursor or retitle the terminal of whoever lists it:
control characters (C0, DEL, C1), bidirectional overrides and other invisible format
characters are shown as Python escapes (``\\x1b``, ``\\u202e``).
"""

from __future__ import annotations

import datetime as _dt
import json
from typing import Any

from rich.console import Group
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from ..facts import STRIPPED, Fact

__all__ = ["short", "as_json", "fact_id", "error_text", "when", "results_table", "failures_of", "failure_block",
           "esc", "titled", "printable", "plain", "json_line"]


_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escaped(ch: str) -> str:
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def printable(text: Any) -> str:
    """``str(text)`` with every character the terminal would act on or hide shown as an
    escape (see the module docs); plain spaces and printable text stay as they are."""
    s = str(text)
    if s.isprintable():
        return s
    return "".join(ch if ch.isprintable() or ch == " " else _escaped(ch) for ch in s)


def json_line(record: Any) -> str:
    """``record`` as one line of JSON for scripts: non-ASCII text stays readable, but every
    character :func:`printable` would escape is written as a JSON ``\\u`` escape."""
    text = json.dumps(record, default=repr, ensure_ascii=False)
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() or ch == " " else json.dumps(ch)[1:-1] for ch in text)


def esc(value: Any) -> str:
    """:func:`printable` text with rich markup escaped (user data inside console markup)."""
    return escape(printable(value))


def plain(value: Any, style: str = "") -> Text:
    """User data as a rich :class:`~rich.text.Text` (never markup), made :func:`printable`."""
    return Text(printable(value), style=style)


def titled(title: str, body: Any) -> Group:
    """``body`` under a bold heading line (table titles would wrap to the table's width)."""
    return Group(Text(printable(title), style="bold"), body)


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


def results_table(results: dict[Any, Any], limit: int = 100, title: str | None = None) -> Any:
    """A two-column table of ``{name: value}``."""
    table = Table(show_header=False, show_edge=False, pad_edge=False, box=None)
    table.add_column("name", style="bold")
    table.add_column("value", overflow="fold")
    for name, value in results.items():
        table.add_row(plain(name), plain(short(value, limit)))
    return titled(title, table) if title else table


def failures_of(wf: Any, labels: dict[int, Any]) -> list[tuple[str, str, str]]:
    """``(node label, input, error)`` for every runnable of ``wf`` that failed for good."""
    from .inspection import failure_views

    return [(v.label, short(v.input, 60), error_text(f"{v.failure.error_type}: {v.failure.message}"))
            for v in failure_views(wf, labels) if v.halted]


_OUTCOME_STYLE = {"failed": "bold red", "retried": "yellow", "skipped": "magenta", "fallback": "cyan"}


def failure_block(view: Any, limit: int = 100, tracebacks: bool = True) -> Group:
    """One recorded failure (a :class:`~runic.cli.inspection.FailureView`) for ``runic show``:
    a heading line (number, node, attempt, outcome, time, error), its input, and unless
    ``tracebacks`` is false the traceback (or, without one, the whole message), indented."""
    f = view.failure
    first = (f.message.strip().splitlines() or [""])[0]
    kind = "" if f.kind == "exception" else f" [{f.kind}]"
    head = Text.assemble(
        (f"#{view.number} ", "dim"), (printable(view.label), "bold"),
        (printable(f" ({f.component_kind}) attempt {f.attempts}: "), ""),
        (view.outcome, _OUTCOME_STYLE.get(view.outcome, "")),
        (printable(f"{kind} at {when(f.at)}"), "dim"),
    )
    lines: list[Any] = [head, Text(printable(f"    {f.error_type}: {' '.join(first.split())}"))]
    lines.append(Text(printable(f"    input: {short(view.input, limit)}"), style="dim"))
    if tracebacks:
        body = f.traceback.rstrip() or (f.message.rstrip() if "\n" in f.message.strip() else "")
        for line in body.splitlines():
            lines.append(Text("    │ " + printable(line.rstrip()), style="red" if f.final else ""))
    return Group(*lines)
