"""``runic stop``, ``runic cancel`` and ``runic delete``: change a workflow's state in the store.

``stop`` and ``cancel`` work on the store, not through a Runner: :func:`take_over` takes
ownership of the workflow (a new ownership epoch for ``runic-cli/<host>/<pid>``) and records
the new status under that epoch. A Runner still running the workflow — in a ``runic run``, in
your program, in another machine's process on the same store — is thereby *fenced*: its next
write (the result of the step it is running, a status) is refused, its Worker stops, and every
caller waiting on it (``await_idle``) gets :class:`~runic.runner.WorkflowTakenOverError`
naming the new owner. It learns this at its next write: a step that is running finishes first
(its result is discarded), and its side effects happen. To kill in-flight attempts at once,
cancel through the Runner that runs the workflow (``runner.cancel(id)``).

The dashboard (``runic ui``) uses the same :func:`take_over` for its stop and cancel buttons.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
from dataclasses import dataclass
from typing import Any, Hashable

import click

from .context import Settings, make_console, store_options
from .errors import CliError, UsageProblem
from .render import esc, printable
from .stores import open_existing, resolve_id

__all__ = ["stop_command", "cancel_command", "delete_command", "cli_owner", "take_over", "TakeOver"]

log = logging.getLogger(__name__)


def cli_owner() -> str:
    """The owner name the command line takes workflows over with."""
    return f"runic-cli/{socket.gethostname()}/{os.getpid()}"


@dataclass(frozen=True)
class TakeOver:
    """What :func:`take_over` did: the status ``before``, the ``epoch`` it took (``None``: it
    changed nothing) and the ``previous`` owner ``(name, epoch)``, now fenced."""

    workflow_id: Hashable
    status: str
    before: str | None
    epoch: int | None
    previous: tuple[str, int] | None

    @property
    def changed(self) -> bool:
        return self.epoch is not None

    def fenced_note(self) -> str:
        """``"; it was owned by X (epoch N), which is now fenced"`` (empty without an owner)."""
        if not self.changed or not self.previous:
            return ""
        return f"; it was owned by {self.previous[0]} (epoch {self.previous[1]}), which is now fenced"


#: the statuses each target status can be set from (see :func:`take_over`)
_FROM = {"stopped": ("running",), "cancelled": ("running", "stopped", "idle", "failed")}


def take_over(store: Any, workflow_id: Hashable, status: str, owner: str) -> TakeOver:
    """Set ``workflow_id``'s status to ``"stopped"`` or ``"cancelled"`` after taking ownership
    as ``owner`` (see the module docs), if its status allows it: only a running workflow is
    stopped; any workflow not cancelled yet is cancelled (as ``Runner.cancel`` does for a
    stored workflow). Otherwise nothing is written (``changed`` is false)."""
    before = store.status(workflow_id)
    if before is None and store.exists(workflow_id):
        before = "idle"  # events without a recorded status: settled
    if before not in _FROM[status]:
        return TakeOver(workflow_id, status, before, None, None)
    previous = store.owner(workflow_id)
    epoch = store.acquire(workflow_id, owner)
    store.set_status(workflow_id, status, epoch=epoch)
    return TakeOver(workflow_id, status, before, epoch, previous)


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
        done = take_over(store, wid, "stopped", cli_owner())
    if not done.changed:
        console.print(f"workflow {esc(wid)} is not running (status {done.before or 'none'}); nothing to stop",
                      soft_wrap=True)
        return
    console.print(esc(f"stopped workflow {wid} (epoch {done.epoch}){done.fenced_note()}. "
                      f"`{settings.command('resume', wid)}` continues it"), soft_wrap=True)


@click.command("cancel", short_help="Cancel a workflow for good (it is never resumed).")
@click.argument("workflow_id", metavar="ID")
@store_options
def cancel_command(workflow_id: str, settings: Settings) -> None:
    """Cancel a workflow: take it over in the store and mark it cancelled.

    Nothing more of it runs, and it is never resumed (neither by `runic resume` nor by a
    Runner's recovery). A Runner still running it elsewhere is fenced: its next write is
    refused, its Worker stops, and whoever waits on it gets WorkflowTakenOverError; a step
    it is running finishes first and its result is discarded. What completed stays readable
    (`runic show`); `runic delete` removes it.

    \b
    Example:
      runic cancel order-7
    """
    console = make_console()
    with open_existing(settings) as store:
        wid = resolve_id(store, workflow_id, settings)
        done = take_over(store, wid, "cancelled", cli_owner())
    if not done.changed:
        console.print(f"workflow {esc(wid)} is already cancelled; nothing to do", soft_wrap=True)
        return
    console.print(esc(f"cancelled workflow {wid} (was {done.before}; epoch {done.epoch}){done.fenced_note()}. "
                      f"It will not be resumed; `{settings.command('delete', wid)}` removes it"),
                  soft_wrap=True)


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
                                           f"{settings.location}?")):
                raise CliError("aborted; nothing was deleted")
        store.delete(wid)
    console.print(esc(f"deleted workflow {wid} ({events} events) from {settings.where}"), soft_wrap=True)
