"""The ``runic`` command group and :func:`main`, which turns every error into one line.

``main()`` runs click in non-standalone mode and maps what comes out (see
:mod:`runic.cli.errors` for the exit codes): usage errors and bad input exit 2 with one line
on stderr, failed work exits 1, Ctrl-C exits 130 with one line saying how to continue
(:mod:`runic.cli.interrupts`). ``--debug`` (or ``RUNIC_DEBUG=1``) adds the traceback and debug
logs. Every line is passed through :func:`runic.cli.render.printable` first: messages quote
ids, names and paths the user chose, and those may hold terminal escape sequences.
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
from typing import Any, Sequence

import click

from .. import __version__
from . import interrupts
from .context import debug_option, debug_requested, setup_logging
from .errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_USAGE, Interrupted, describe
from .render import printable

__all__ = ["cli", "main"]

log = logging.getLogger(__name__)

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class _OrderedGroup(click.Group):
    """Lists its commands in the order they were added (the order of a typical session)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)

    def invoke(self, ctx: click.Context) -> Any:
        # click turns a KeyboardInterrupt into Abort after printing an empty line; a command
        # interrupted before it said more than "interrupted" reaches main() as Interrupted.
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt as exc:
            raise Interrupted("interrupted") from exc


@click.group(cls=_OrderedGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, "--version", prog_name="runic", message="%(prog)s %(version)s")
@debug_option
def cli() -> None:
    """runic: durable dataflow workflows.

    Workflows run on a Runner whose store keeps every event on disk (a runic store
    directory: --dir, else $RUNIC_DATA_DIR, else ./runic-data/<host name>). A crashed or
    interrupted workflow resumes where it stopped.

    \b
    Start with:
      runic demo                  the example pipeline, with a crash and a resume
      runic ls                    the workflows in the store
      runic run MODULE:ATTR --input JSON
    """


def _register() -> None:
    from .cmd_demo import demo_command
    from .cmd_gc import gc_command
    from .cmd_inspect import events_command, graph_command, ls_command, show_command
    from .cmd_manage import cancel_command, delete_command, stop_command
    from .cmd_nodes import nodes_command
    from .cmd_run import resume_command, run_command

    for command in (demo_command, run_command, ls_command, show_command, events_command, graph_command,
                    resume_command, stop_command, cancel_command, delete_command, nodes_command, gc_command):
        cli.add_command(command)
    for command in plugin_commands():
        cli.add_command(command)


COMMANDS_GROUP = "runic.commands"
"""Entry-point group of commands that live above the command line (``runic ui`` lives in
``runic.ui``, which builds on the command line's helpers; the CLI never imports it)."""


def plugin_commands() -> list[click.Command]:
    """The click commands registered under :data:`COMMANDS_GROUP`, in name order."""
    from importlib.metadata import entry_points

    found = []
    for ep in sorted(entry_points(group=COMMANDS_GROUP), key=lambda e: e.name):
        try:
            command = ep.load()
        except Exception as exc:  # noqa: BLE001 - one broken plugin must not break the CLI
            log.warning("command %r (%s) could not be loaded: %s", ep.name, ep.value, exc)
            continue
        if isinstance(command, click.Command):
            found.append(command)
    return found


_register()


def _usage_line(exc: click.UsageError) -> str:
    ctx = exc.ctx
    path = ctx.command_path if ctx is not None else "runic"
    message = " ".join(exc.format_message().split())
    return f"error: {message} (see `{path} --help`)"


def _say(line: str) -> None:
    click.echo(printable(line), err=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return (and, as a console script, exit with) its exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = debug_requested() or "--debug" in args
    setup_logging(debug)
    interrupts.install()
    try:
        result = cli.main(args=args, prog_name="runic", standalone_mode=False)
    except click.UsageError as exc:
        if type(exc).__name__ == "NoArgsIsHelpError" or exc.format_message().startswith("Usage:"):
            click.echo(exc.format_message())  # `runic` alone: the help
            return 0
        if debug:
            traceback.print_exc()
        _say(_usage_line(exc))
        return EXIT_USAGE
    except click.exceptions.Abort:
        if interrupts.by_signal():  # Ctrl-C at a confirmation prompt
            _say("interrupted; nothing was changed")
            return EXIT_INTERRUPTED
        _say("aborted")
        return EXIT_FAILED
    except click.exceptions.Exit as exc:
        return int(exc.exit_code or 0)
    except click.ClickException as exc:
        if debug:
            traceback.print_exc()
        _say(f"error: {' '.join(exc.format_message().split())}")
        return exc.exit_code
    except Interrupted as exc:
        if debug:
            traceback.print_exc()
        _say(exc.message)
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        if debug:
            traceback.print_exc()
        _say("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `runic events ID | head`: the reader left; say nothing more
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_FAILED
    except Exception as exc:  # noqa: BLE001 - the one place every error becomes one line
        if debug:
            traceback.print_exc()
        message, code = describe(exc)
        _say(f"error: {message}")
        return code
    return int(result or 0) if isinstance(result, int) else 0
