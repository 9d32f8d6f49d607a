"""``runic ls``, ``show``, ``events`` and ``graph``: read a store, change nothing."""

from __future__ import annotations

import logging
import os
from typing import Any, Hashable

import click
from rich.table import Table
from rich.text import Text

from ..events import (
    BUILD_EVENTS,
    RunnableCompleted,
    RunnableDispatched,
    RunnableFailed,
)
from ..facts import STRIPPED, Fact
from ..runner.logs import log_file
from ..store import STATUSES, NotFoundError
from .context import Settings, make_console, store_options
from .errors import UsageProblem
from .events_view import describe_event, event_fields
from .inspection import failure_views, load, node_labels, structure_of, workflow_name
from .render import (
    esc,
    failure_block,
    json_line,
    plain,
    printable,
    results_table,
    short,
    titled,
    when,
)
from .stores import all_ids, open_existing, resolve_id

__all__ = ["ls_command", "show_command", "events_command", "graph_command", "STATUS_STYLES"]

log = logging.getLogger(__name__)

STATUS_STYLES = {"running": "yellow", "idle": "green", "stopped": "magenta", "failed": "red", "cancelled": "dim"}
"""The colour of each status in listings."""


def event_type_names() -> dict[str, str]:
    """``{lower-case name: name}`` of every event type (subclasses of :class:`runic.events.Event`,
    including those other modules define)."""
    from ..events import Event

    names: dict[str, str] = {}
    todo = list(Event.__subclasses__())
    while todo:
        cls = todo.pop()
        names[cls.__name__.lower()] = cls.__name__
        todo.extend(cls.__subclasses__())
    return dict(sorted(names.items()))


def _check_types(types: tuple[str, ...]) -> set[str]:
    """The lower-cased ``--type`` names; a usage error listing the valid ones for an unknown name."""
    known = event_type_names()
    wanted = {t.lower() for t in types}
    unknown = [t for t in types if t.lower() not in known]
    if unknown:
        raise UsageProblem(f"unknown event type {', '.join(repr(t) for t in unknown)} for --type; the types are "
                           f"{', '.join(known.values())}")
    return wanted


@click.command("ls", short_help='List the workflows in the store.')
@click.option("--status", "statuses", multiple=True, type=click.Choice(list(STATUSES)),
              help="Only workflows with this status (repeatable).")
@store_options
def ls_command(statuses: tuple[str, ...], settings: Settings) -> None:
    """List the workflows in the store: id, status, name, events, owner and its node.

    Statuses: running (work in flight or queued), idle (settled, no failure), failed
    (settled, a step failed for good), stopped (by `runic stop`; resumable) and cancelled
    (by `runic cancel`; never resumed).

    \b
    Example:
      runic ls --dir ./runic-data/myhost --status running
    """
    console = make_console()
    with open_existing(settings) as store:
        ids = all_ids(store)
        table = Table(pad_edge=False, show_edge=False)
        for col, justify in (("id", "left"), ("status", "left"), ("workflow", "left"), ("events", "right"),
                             ("owner (epoch)", "left"), ("node", "left")):
            table.add_column(col, justify=justify)  # type: ignore[arg-type]
        shown = 0
        for wid in ids:
            status = store.status(wid)
            if statuses and status not in statuses:
                continue
            owner = store.owner(wid)
            table.add_row(plain(wid), plain(status or "-", style=STATUS_STYLES.get(status or "", "")),
                          plain(workflow_name(store, wid) or "?"), str(store.cursor(wid)),
                          plain(f"{owner[0]} ({owner[1]})" if owner else "-"),
                          plain(getattr(owner, "node", None) or "-"))
            shown += 1
    if not shown:
        what = f" with status {'/'.join(statuses)}" if statuses else ""
        console.print(esc(f"no workflows{what} in {settings.where}"), soft_wrap=True)
        return
    console.print(titled(f"workflows in {settings.where}", table))
    console.print(esc(f"{shown} workflow(s); `runic show ID{settings.hint_flags()}` for details"), soft_wrap=True)


def _print_failures(console: Any, views: list, limit: int, tracebacks: bool) -> None:
    if not views:
        console.print("failures: none")
        return
    final = sum(1 for v in views if v.halted)
    heading = f"failures ({len(views)} recorded; {final} failed for good)"
    console.print(Text(heading, style="bold"))
    for view in views:
        console.print(failure_block(view, limit, tracebacks), soft_wrap=True)


def _last_checkpoint(events: list) -> tuple[int, int | None, str]:
    """``(seq, wall-clock ms, what)`` of the last event in the stream that carries a time."""
    for seq in range(len(events), 0, -1):
        e = events[seq - 1]
        if isinstance(e, RunnableCompleted):
            return len(events), e.completed_at, "a step completed"
        if isinstance(e, RunnableFailed):
            return len(events), e.failed_at, "a step failed"
        if isinstance(e, RunnableDispatched):
            return len(events), e.dispatched_at, "a step was dispatched"
    return len(events), None, ""


@click.command("show", short_help='Show a workflow: status, pending work, failures, productions.')
@click.argument("workflow_id", metavar="ID")
@click.option("--full", is_flag=True, help="Do not shorten values.")
@click.option("--short", "short_", is_flag=True, help="Leave the tracebacks out of the failures.")
@store_options
def show_command(workflow_id: str, full: bool, short_: bool, settings: Settings) -> None:
    """Show a workflow: status, owner, events, last checkpoint, pending work, every failure
    with its traceback, and what each component produced.

    Every failed attempt is listed, oldest first: those retried, and those that failed for
    good (which make the workflow's status `failed`). --short leaves the tracebacks out.

    \b
    Example:
      runic show demo-1
    """
    console = make_console()
    limit = 0 if full else 100
    with open_existing(settings) as store:
        wid = resolve_id(store, workflow_id, settings)
        loaded = load(store, wid)
        status = store.status(wid)
        owner = store.owner(wid)
        log_path = log_file(store, settings.runner)
        cursor = store.cursor(wid)
        try:
            snap_cursor, _blob = store.load_snapshot(wid)
            snapshot = f"event {snap_cursor}"
        except NotFoundError:
            snapshot = "none"
    wf = loaded.workflow
    labels = node_labels(wf)
    head = Table(show_header=False, box=None, pad_edge=False)
    head.add_column(style="bold")
    head.add_column(overflow="fold")
    head.add_row("workflow", plain(f"{wid} ({wf.name})" if wf.name is not None else wid))
    head.add_row("status", plain(status or "-"))
    node = getattr(owner, "node", None)
    head.add_row("owner", plain(f"{owner[0]} (epoch {owner[1]}" + (f", node {node})" if node else ")")
                                if owner else "-"))
    head.add_row("store", plain(settings.where))
    if log_path is not None and os.path.exists(log_path):
        head.add_row("log", plain(log_path))
    if loaded.from_stream:
        seq, ms, what = _last_checkpoint(loaded.events)
        head.add_row("events", f"{cursor} in the stream")
        head.add_row("last checkpoint", f"event {seq}" + (f" at {when(ms)} ({what})" if ms else ""))
    else:
        head.add_row("events", f"{len(loaded.events)} in the saved log (no stream)")
    head.add_row("snapshot", snapshot)
    options = wf.annotations.get("runner.options")
    if options:
        head.add_row("options", plain(", ".join(f"{k}={v}" for k, v in options.items() if v is not None)))
    console.print(head)

    pending = wf.next_runnables()
    console.print()
    if pending:
        table = Table(pad_edge=False, show_edge=False)
        heading = f"pending work ({len(pending)})"
        table.add_column("step")
        table.add_column("input", overflow="fold")
        for node, fact in pending:
            info = labels.get(getattr(node, "hash", 0))
            value = fact.value if isinstance(fact, Fact) and fact.value is not STRIPPED else "<not loaded>"
            table.add_row(plain(info.label if info else getattr(node, "name", node)), plain(short(value, limit)))
        console.print(titled(heading, table))
    else:
        console.print("pending work: none")
    console.print()
    _print_failures(console, failure_views(wf, labels), limit, not short_)
    console.print()
    prods = wf.raw_productions_by_component()
    table = Table(pad_edge=False, show_edge=False)
    heading = "productions"
    table.add_column("component")
    table.add_column("kind", style="dim")
    table.add_column("count", justify="right")
    table.add_column("latest value", overflow="fold")
    for name, values in prods.items():
        component = wf.components.get(name)
        table.add_row(plain(name), plain(getattr(component, "kind", "?")), str(len(values)),
                      plain(short(values[-1], limit)) if values else Text("-", style="dim"))
    console.print(titled(heading, table))
    if wf.output_ports:
        console.print(results_table(wf.results(), limit, title="results (output ports)"))


@click.command("events", short_help="Print a workflow's event stream, decoded, a page at a time.")
@click.argument("workflow_id", metavar="ID")
@click.option("--start", type=click.IntRange(min=1), default=1, show_default=True, metavar="SEQ",
              help="First event to show (events are numbered from 1).")
@click.option("--limit", type=click.IntRange(min=0), default=50, show_default=True, metavar="N",
              help="Events per page (0: all).")
@click.option("--type", "types", multiple=True, metavar="TYPE",
              help="Only events of this type, e.g. FactProduced (repeatable, case-insensitive).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line (seq, type, fields).")
@store_options
def events_command(workflow_id: str, start: int, limit: int, types: tuple[str, ...], as_json: bool,
                   settings: Settings) -> None:
    """Print a workflow's event stream, decoded, a page at a time (fact values are loaded from
    the fact table).

    \b
    Example:
      runic events demo-1 --start 51 --limit 25 --type RunnableCompleted
    """
    console = make_console()
    wanted = _check_types(types)
    with open_existing(settings) as store:
        wid = resolve_id(store, workflow_id, settings)
        total = store.cursor(wid)
        build = []
        try:
            stream = iter(store.stream(wid))
        except NotFoundError:
            raise UsageProblem(f"workflow {wid!r} has no event stream (only a saved log); "
                               f"`{settings.command('show', wid)}` shows it") from None
        shown = 0
        last = start - 1
        more = False
        labels: dict | None = None
        for seq, e in enumerate(stream, 1):
            if isinstance(e, BUILD_EVENTS):
                build.append(e)
                labels = None
            if seq < start:
                continue
            if wanted and type(e).__name__.lower() not in wanted:
                continue
            if limit and shown >= limit:
                more = True
                break
            if labels is None:
                labels = _labels(build)
            if as_json:
                click.echo(json_line({"seq": seq, "type": type(e).__name__, "fields": event_fields(e, store)}))
            else:
                console.print(Text.assemble((f"{seq:>6} ", "dim"), (f"{type(e).__name__:<19} ", "bold"),
                                            printable(describe_event(e, labels, store))), soft_wrap=True)
            shown += 1
            last = seq
    if as_json:
        return
    if not shown:
        console.print(plain(f"no events{' of type ' + '/'.join(types) if types else ''} from {start} on "
                      f"(the stream has {total})"))
        return
    flags = settings.hint_flags() + "".join(f" --type {t}" for t in types) + (f" --limit {limit}" if limit != 50 else "")
    page = f"--start {last + 1}{flags}"
    shown_id = _quoted(wid)
    following = f"runic events {page} -- {shown_id}" if str(wid).startswith("-") else f"runic events {shown_id} {page}"
    tail = f"; next page: `{following}`" if more else ""
    if types:
        console.print(esc(f"{shown} {'/'.join(types)} event(s) between {start} and {last}, of {total}{tail}"), style="dim",
                      soft_wrap=True)
    else:
        console.print(esc(f"events {start}–{last} of {total}{tail}"), style="dim", soft_wrap=True)


def _quoted(wid: Hashable) -> str:
    import shlex

    return shlex.quote(str(wid))


def _labels(build: list) -> dict:
    try:
        return node_labels(structure_of(build))
    except Exception as exc:  # noqa: BLE001 - labels are a nicety
        log.debug("no node labels: %s", exc)
        return {}


@click.command("graph", short_help='Draw a workflow (Mermaid or DOT) with what ran and produced.')
@click.argument("workflow_id", metavar="ID")
@click.option("--format", "fmt", type=click.Choice(["mermaid", "dot"]), default="mermaid", show_default=True,
              help="Mermaid flowchart or Graphviz DOT.")
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="Write to FILE instead of stdout.")
@store_options
def graph_command(workflow_id: str, fmt: str, output: str | None, settings: Settings) -> None:
    """Draw a workflow with what ran, what is pending or failed, and what each step produced.

    \b
    Example:
      runic graph demo-1 --format dot | dot -Tsvg > demo-1.svg
    """
    with open_existing(settings) as store:
        wid = resolve_id(store, workflow_id, settings)
        wf = load(store, wid).workflow
    text = wf.to_mermaid() if fmt == "mermaid" else wf.to_dot()
    if output:
        try:
            with open(output, "w", encoding="utf-8") as fh:
                fh.write(text)
        except OSError as exc:
            raise UsageProblem(f"cannot write the graph to {output}: {exc.strerror or exc}; pass --output a file in "
                               "a directory you can write to, or leave it out to print the graph") from None
        make_console().print(esc(f"wrote the {fmt} graph of {wid} to {output}"), soft_wrap=True)
    else:
        click.echo(text, nl=False)

