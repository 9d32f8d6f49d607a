"""``runic demo``: the durable-execution story in a few seconds.

Builds the order pipeline of :mod:`runic.demo` (a map-reduce, a flaky step with retries, a
join, a rule), runs it on a Runner over the on-disk store with a live table, kills the worker
host with SIGKILL half-way, watches the Runner restart it and resume the workflow from the
store, then prints the results, checks that no step completed before the kill ran again, and
says where the data lives. Every run is kept: the next ``runic demo`` lists the earlier ones.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from .. import demo
from ..store import BaseStore
from .cmd_run import interrupted
from .context import Settings, make_console, store_options
from .errors import WorkFailed
from .execution import StoreSource, follow, host_pid, kill, runner_session
from .inspection import load
from .progress import LiveView
from .render import esc, plain, short, titled
from .stores import all_ids, open_or_create

__all__ = ["demo_command"]

log = logging.getLogger(__name__)

_DEMO_ID = re.compile(r"^demo-(\d+)$")
KILL_AFTER_PRICED = 2
"""The worker host is killed once this many order lines are priced (mid map-reduce)."""


def _next_number(ids: list) -> int:
    numbers = [int(m.group(1)) for w in ids if isinstance(w, str) and (m := _DEMO_ID.match(w))]
    return max(numbers, default=0) + 1


def _earlier_runs(console: Console, store: BaseStore, ids: list, settings: Settings) -> None:
    if not ids:
        console.print("This store is new: no earlier runs.")
        return
    table = Table(pad_edge=False, show_edge=False)
    for col in ("id", "status", "events", "outcome"):
        table.add_column(col, justify="right" if col == "events" else "left")
    for wid in ids[-5:]:
        outcome = ""
        try:
            wf = load(store, wid).workflow
            invoice = wf.results(["invoice"]).get("invoice") if "invoice" in wf.components else None
            if isinstance(invoice, dict):
                outcome = f"{invoice.get('customer')}: total {invoice.get('total')}"
            elif wf.next_runnables():
                outcome = f"{len(wf.next_runnables())} step(s) pending"
        except Exception as exc:  # noqa: BLE001 - a listing shows what it can
            log.debug("cannot summarise %r: %s", wid, exc)
        table.add_row(plain(wid), plain(store.status(wid) or "-"), str(store.cursor(wid)), plain(outcome))
    console.print(titled(f"earlier workflows in this store ({len(ids)})", table))
    if len(ids) > 5:
        console.print(esc(f"(and {len(ids) - 5} more: `runic ls{settings.hint_flags()}`)"))


@dataclass
class _Crash:
    """The kill-and-resume part of the story, driven from the progress loop."""

    runner: Any
    source: StoreSource
    view: LiveView
    enabled: bool
    victim: int | None = None
    killed_at_event: int = 0
    completed_before: set = field(default_factory=set)
    in_flight: list = field(default_factory=list)
    in_flight_count: int = 0
    restarted_pid: int | None = None

    def _priced(self) -> int:
        for row in self.source.model.rows():
            if row.info.label == "price_line":
                return row.done
        return 0

    def __call__(self) -> None:
        wid = self.source.workflow_id
        if self.enabled and self.victim is None and self._priced() >= KILL_AFTER_PRICED:
            pid = host_pid(self.runner, wid)
            if pid is None:
                return
            self.source.poll()
            model = self.source.model
            self.killed_at_event = model.events or 0
            self.completed_before = model.completed_ids()
            self.in_flight = model.running_labels()
            self.in_flight_count = model.in_flight()
            self.view.snapshot()
            self.view.note(f"[bold red]⚡ killing worker host pid {pid} (SIGKILL)[/bold red] with "
                           f"{model.totals().done} steps done and {self.in_flight_count} in flight "
                           f"({esc(', '.join(self.in_flight))}); {model.events} events are in the store")
            kill(pid)
            self.victim = pid
        elif self.victim is not None and self.restarted_pid is None:
            pid = host_pid(self.runner, wid)
            if pid is not None and pid != self.victim:
                self.restarted_pid = pid
                self.view.note(f"[bold green]↻ worker host restarted as pid {pid}, resuming {wid} from the store[/bold green] "
                               f"(completed steps are not run again; the {self.in_flight_count} in flight are redone)")


@click.command("demo", short_help='Run the example pipeline, kill its worker host, watch it resume.')
@click.option("--no-kill", is_flag=True, help="Do not kill the worker host half-way.")
@store_options
def demo_command(no_kill: bool, settings: Settings) -> None:
    """Run the example order pipeline durably, kill its worker host half-way, watch it resume.

    The pipeline has a map-reduce, a flaky step with retries, a join and a rule; its data is
    kept in the store directory, and the next run lists the earlier ones.

    \b
    Example:
      runic demo            # then: runic ls, runic show demo-1, runic graph demo-1
    """
    console = make_console()
    console.print("[bold]runic demo[/bold]: a durable order pipeline")
    store = open_or_create(settings)
    try:
        ids = all_ids(store)
        console.print(esc(f"store: {getattr(store, 'path', None) or settings.location} (runner {settings.runner!r})"), soft_wrap=True)
        _earlier_runs(console, store, ids, settings)
        number = _next_number(ids)
        wid = f"demo-{number}"
        while store.exists(wid) or store.status(wid) is not None:  # pragma: no cover - ids from elsewhere
            number += 1
            wid = f"demo-{number}"
        order = demo.order(number)
        wf = demo.build()
        console.print()
        console.print(f"[bold]1. built[/bold] workflow {wf.name!r}: {len(wf.components)} components")
        console.print("   parse_order → line_items → price_lines (map: price_line per line) → subtotal (reduce)\n"
                      f"   parse_order → lookup_customer (flaky: fails {demo.FLAKY_FAILURES}× per call, retried up to 3×)\n"
                      "   join(subtotal, lookup_customer) → invoice → render_invoice\n"
                      f"   invoice → rule large_order_review (total > {demo.REVIEW_THRESHOLD:.0f})", soft_wrap=True)
        console.print(f"[bold]2. running[/bold] {wid}: order {order['order_id']} for {order['customer']!r}, "
                      f"{len(order['items'])} lines", soft_wrap=True)
        started = time.monotonic()
        try:
            with runner_session(settings) as runner:
                runner.start_workflow(wid, wf, input=order, max_concurrency=4)
                console.print(f"   worker host pid {host_pid(runner, wid)}", soft_wrap=True)
                source = StoreSource(store, wid)
                with LiveView(console, source.model, f"{wid} (live, from the store's event stream)") as view:
                    crash = _Crash(runner, source, view, enabled=not no_kill)
                    status = follow(runner, source, view, settings, timeout=120.0, on_poll=crash)
                    if crash.victim is not None and crash.restarted_pid is None:
                        crash()
        except KeyboardInterrupt:
            raise interrupted(store, wid, settings) from None
        elapsed = time.monotonic() - started
        final = load(store, wid).workflow
        model = source.model
    finally:
        store.close()

    console.print()
    console.print(f"[bold]3. results[/bold] ({status} after {elapsed:.1f} s, {model.events} events)")
    results = final.results(["subtotal", "invoice", "render_invoice", "large_order_review"])
    for name, value in results.items():
        if value is not None:
            console.print(f"   {name}: {esc(short(value, 110))}", soft_wrap=True)
    if results.get("large_order_review") is None:
        console.print(f"   large_order_review: did not fire (total not over {demo.REVIEW_THRESHOLD:.0f})")
    retries = sum(r.retried for r in model.rows())
    if retries:
        console.print(f"   lookup_customer failed and was retried {retries}× before it answered", soft_wrap=True)
    if crash.victim is not None:
        repeated = model.completions_after(crash.killed_at_event, crash.completed_before)
        if repeated:
            raise WorkFailed(f"{len(repeated)} step run(s) completed before the kill ran again after it")
        console.print(f"   [green]✓[/green] none of the {len(crash.completed_before)} step runs completed before the "
                      f"kill ran again; the {crash.in_flight_count} in flight were redone", soft_wrap=True)
    elif not no_kill:
        console.print("   (the workflow finished before the kill point; nothing was killed)")
    failures = final.halted_failures()
    if status != "idle" or failures:
        raise WorkFailed(f"the demo workflow ended with status {status!r} and {len(failures)} failure(s); "
                         f"`{settings.command('show', wid)}` shows why")
    console.print()
    flags = settings.hint_flags()
    console.print(esc(f"data lives in {getattr(store, 'path', None) or settings.location} (runner {settings.runner!r}); run `runic ls{flags}`, "
                      f"`{settings.command('show', wid)}`, `{settings.command('events', wid)}` or "
                      f"`{settings.command('graph', wid)}`. "
                      f"Run `runic demo{flags}` again: this run will be listed."), soft_wrap=True)
