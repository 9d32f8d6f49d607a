"""``runic run`` and ``runic resume``: run a workflow durably, with live progress.

Ctrl-C (or SIGTERM) while either runs shuts its Runner down, then reads the workflow's status
from the store and prints one line: whether it was saved, and the ``runic resume`` command
(with the ``--dir``/``--runner`` it needs) that continues it; exit code 130.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any, Hashable

import click
from rich.console import Console

from ..core import Workflow
from ..errors import FunctionRestoreError
from ..events import ComponentAdded
from ..functions import FunctionRef
from .context import Seconds, Settings, make_console, store_options
from .errors import Interrupted, UsageProblem, WorkFailed
from .execution import RunnerSource, StoreSource, follow, runner_session
from .inspection import node_labels
from .interrupts import interrupt_message
from .loader import load_workflow, parse_input
from .progress import LiveView
from .render import esc, failures_of, results_table
from .stores import open_existing, open_or_create, resolve_id

__all__ = ["run_command", "resume_command", "report_outcome"]

log = logging.getLogger(__name__)

DURABLE = ("default", {"execution_mode": "durable"})


def report_outcome(console: Console, wf: Workflow, workflow_id: Hashable, status: str, settings: Settings | None,
                   components: list[str] | None = None) -> None:
    """Print the results (and failures) of a finished workflow; raise :class:`WorkFailed` if
    it failed or did not finish."""
    results = wf.results(components) if components else wf.results()
    if components:
        results = {k: v for k, v in results.items() if v is not None}
    if results:
        console.print(results_table(results, title="results"))
    else:
        console.print("results: nothing was produced")
    failures = failures_of(wf, node_labels(wf))
    for label, value, error in failures:
        console.print(f"[red]failed[/red] {esc(label)} on {esc(value)}: {esc(error)}", soft_wrap=True)
    where = ""
    if settings is not None:
        where = f"; `{settings.command('show', workflow_id)}` shows it all"
    if status == "stopped":
        raise WorkFailed(f"workflow {workflow_id!r} was stopped before it finished{where}")
    if status == "failed" and failures:
        raise WorkFailed(f"workflow {workflow_id!r} finished with {len(failures)} failed step(s){where}")
    if status != "idle":
        raise WorkFailed(f"workflow {workflow_id!r} ended with status {status!r}{where}")
    if failures:
        raise WorkFailed(f"workflow {workflow_id!r} finished with {len(failures)} failed step(s){where}")
    console.print(f"[green]✓[/green] workflow {esc(workflow_id)} finished (status idle)" +
                  (f"; stored in {esc(settings.location)}" if settings is not None else ""), soft_wrap=True)


def unrestorable(wf: Workflow) -> list[str]:
    """Components whose functions cannot be imported by another process (lambdas, closures)."""
    def refs(value: Any) -> bool:
        if isinstance(value, FunctionRef):
            return value.ref is None
        if isinstance(value, dict):
            return any(refs(v) for v in value.values())
        if isinstance(value, (list, tuple)):
            return any(refs(v) for v in value)
        return False

    return [e.name for e in wf.build_log() if isinstance(e, ComponentAdded) and refs(e.recipe)]


def restore_problem(workflow_id: Hashable, exc: FunctionRestoreError) -> UsageProblem:
    """The command line's advice when a stored workflow's functions cannot be restored."""
    what = str(exc).split(". Pass it to from_log", 1)[0]
    return UsageProblem(
        f"workflow {workflow_id!r} cannot be resumed here: {what}. Define its functions at module level in an "
        "importable module and run `runic resume` where that module imports (its directory, or PYTHONPATH), or "
        f"resume it from Python with Runner.resume({workflow_id!r}, functions=...)")


def interrupted(store: Any, workflow_id: Hashable, settings: Settings) -> Interrupted:
    """The :class:`Interrupted` error for ``workflow_id`` once its Runner is down (``store``:
    the command's handle on the store, ``None`` for a memory store)."""
    if store is None:
        return Interrupted(f"interrupted; workflow {workflow_id!r} ran on a memory store, so nothing was kept")
    try:
        status = store.status(workflow_id)
    except Exception as exc:  # noqa: BLE001 - the store may be what failed; say what we know
        log.debug("cannot read the status of %r after the interruption: %s", workflow_id, exc)
        status = "running"
    return Interrupted(interrupt_message(workflow_id, status, settings.command("resume", workflow_id)))


def _new_id(wf: Workflow) -> str:
    base = str(wf.name) if wf.name is not None else "workflow"
    base = "".join(c if c.isalnum() or c in "-_." else "-" for c in base).strip("-") or "workflow"
    return f"{base}-{secrets.token_hex(3)}"


@click.command("run", short_help='Run a workflow (MODULE:ATTR) durably, with live progress.')
@click.argument("target", metavar="MODULE:ATTR")
@click.option("--input", "input_text", required=True, metavar="JSON",
              help="The input, as JSON text; @FILE reads it from a file, - from stdin.")
@click.option("--id", "workflow_id", default=None, metavar="ID",
              help="Workflow id (default: <workflow name>-<random hex>). Must be new.")
@click.option("--store", "store_kind", type=click.Choice(["mnesia", "memory"]), default="mnesia", show_default=True,
              help="mnesia: durable, on disk under --dir; memory: gone when the command ends.")
@click.option("--max-concurrency", type=click.IntRange(min=1), default=None, metavar="N",
              help="Runnables in flight at once (default: the number of CPUs).")
@click.option("--timeout", type=Seconds(), default=None, metavar="SECONDS",
              help="Give up waiting after this long (the workflow stays saved as running).")
@store_options
def run_command(target: str, input_text: str, workflow_id: str | None, store_kind: str, max_concurrency: int | None,
                timeout: float | None, settings: Settings) -> None:
    """Run a workflow durably: MODULE:ATTR names a runic.Workflow or a zero-argument function
    that returns one.

    \b
    Example:
      runic run shop:pipeline --input '{"order_id": 7}' --id order-7
    """
    value = parse_input(input_text)
    wf, what = load_workflow(target)
    wid = workflow_id or _new_id(wf)
    if workflow_id is not None and not workflow_id.strip():
        raise UsageProblem("--id needs a non-empty id")
    console = make_console()
    store = None
    if store_kind == "mnesia":
        store = open_or_create(settings)
        if store.exists(wid) or store.status(wid) is not None:
            store.close()
            raise UsageProblem(f"workflow {wid!r} already exists in {settings.where}; pick another --id, continue it "
                               f"with `{settings.command('resume', wid)}`, or remove it with "
                               f"`{settings.command('delete', wid)}`")
    wf.append_scheduler_policy(*DURABLE)
    lambdas = unrestorable(wf)
    if lambdas:
        console.print(f"note: {esc(', '.join(lambdas))} use lambdas or closures: this run works, but after a crash "
                      "(or with `runic resume`) another process cannot restore them; define them at module level",
                      style="yellow", soft_wrap=True)
    where = settings.where if store_kind == "mnesia" else "a memory store (nothing is kept after this command)"
    console.print(f"running {esc(what)} as workflow [bold]{esc(wid)}[/bold] in {esc(where)}", soft_wrap=True)
    try:
        with runner_session(settings, store_kind) as runner:
            runner.start_workflow(wid, wf, input=value, max_concurrency=max_concurrency)
            source: Any = StoreSource(store, wid) if store is not None else RunnerSource(runner, wid)
            with LiveView(console, source.model, f"workflow {esc(wid)}") as view:
                status = follow(runner, source, view, settings, timeout=timeout)
            final = source.final_workflow()
    except KeyboardInterrupt:
        raise interrupted(store, wid, settings) from None
    finally:
        if store is not None:
            store.close()
    report_outcome(console, final, wid, status, settings if store_kind == "mnesia" else None)


@click.command("resume", short_help='Resume a stored workflow and run its pending work.')
@click.argument("workflow_id", metavar="ID")
@click.option("--max-concurrency", type=click.IntRange(min=1), default=None, metavar="N",
              help="Runnables in flight at once (default: as the workflow was started).")
@click.option("--timeout", type=Seconds(), default=None, metavar="SECONDS",
              help="Give up waiting after this long (the workflow stays saved as running).")
@store_options
def resume_command(workflow_id: str, max_concurrency: int | None, timeout: float | None, settings: Settings) -> None:
    """Resume a stored workflow (interrupted, stopped or crashed) and run its pending work.

    Completed steps are not run again. The workflow's functions must be importable here (run
    it from the directory of its module).

    \b
    Example:
      runic resume order-7
    """
    console = make_console()
    store = open_existing(settings)
    try:
        wid = resolve_id(store, workflow_id, settings)
        before = store.status(wid)
        console.print(f"resuming workflow [bold]{esc(wid)}[/bold] (status {before}) from {esc(settings.where)}", soft_wrap=True)
        try:
            with runner_session(settings) as runner:
                try:
                    runner.resume(wid, max_concurrency=max_concurrency)
                except FunctionRestoreError as exc:
                    raise restore_problem(wid, exc) from exc
                source = StoreSource(store, wid)
                with LiveView(console, source.model, f"workflow {esc(wid)}") as view:
                    status = follow(runner, source, view, settings, timeout=timeout)
        except KeyboardInterrupt:
            raise interrupted(store, wid, settings) from None
        final = source.final_workflow()
    finally:
        store.close()
    report_outcome(console, final, wid, status, settings)
