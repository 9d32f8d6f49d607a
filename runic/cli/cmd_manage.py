"""``runic stop`` and ``runic delete``: change a workflow's state in the store."""

from __future__ import annotations

import logging
import os
import socket
import sys

import click

from .context import Settings, make_console, store_options
from .errors import CliError, UsageProblem
from .render import esc, printable
from .stores import open_existing, resolve_id

__all__ = ["stop_command", "delete_command", "cli_owner"]

log = logging.getLogger(__name__)


def cli_owner() -> str:
    """The owner name the command line takes workflows over with."""
    return f"runic-cli/{socket.gethostname()}/{os.getpid()}"


@click.command("stop", short_help='Stop a running workflow (it can be resumed).')
@click.argument("workflow_id", metavar="ID")
@store_options
def stop_command(workflow_id: str, settings: Settings) -> None:
    """Stop a running workflow: take it over in the store and mark it stopped.

    A Runner still running it elsewhere is fenced: its next write is refused and it stops.
    Completed work stays; `runic resume ID` continues from there.

    \b
    Example:
      runic stop order-7
    """
    console = make_console()
    with open_existing(settings) as store:
        wid = resolve_id(store, workflow_id, settings)
        status = store.status(wid)
        if status != "running":
            console.print(f"workflow {esc(wid)} is not running (status {status or 'none'}); nothing to stop", soft_wrap=True)
            return
        previous = store.owner(wid)
        epoch = store.acquire(wid, cli_owner())
        store.set_status(wid, "stopped", epoch=epoch)
    was = f"; it was owned by {previous[0]} (epoch {previous[1]}), which is now fenced" if previous else ""
    console.print(esc(f"stopped workflow {wid} (epoch {epoch}){was}. `{settings.command('resume', wid)}` "
                  "continues it"), soft_wrap=True)


@click.command("delete", short_help='Delete a workflow from the store.')
@click.argument("workflow_id", metavar="ID")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option("--force", is_flag=True, help="Delete even if the workflow is running.")
@store_options
def delete_command(workflow_id: str, yes: bool, force: bool, settings: Settings) -> None:
    """Delete a workflow's events, log, snapshot and status from the store (fact values
    shared with other workflows stay).

    \b
    Example:
      runic delete order-7 --yes
    """
    console = make_console()
    with open_existing(settings) as store:
        wid = resolve_id(store, workflow_id, settings)
        status = store.status(wid)
        if status == "running" and not force:
            raise UsageProblem(f"workflow {wid!r} is running; stop it first (`{settings.command('stop', wid)}`) "
                               "or pass --force")
        events = store.cursor(wid)
        if not yes:
            if not sys.stdin.isatty():
                raise UsageProblem(f"not deleting {wid!r} without confirmation; pass --yes")
            if not click.confirm(printable(f"delete workflow {wid} ({events} events, status {status}) from "
                                           f"{settings.data_dir}?")):
                raise CliError("aborted; nothing was deleted")
        store.delete(wid)
    console.print(esc(f"deleted workflow {wid} ({events} events) from {settings.where}"), soft_wrap=True)
