"""``runic gc``: remove fact values no stored workflow references, and shrink the WAL.

Runs :meth:`runic.store.BaseStore.gc` on the runner's tables (mark and sweep, safe while
Runners write to the same store: values written during the collection are never swept), then
prints what it removed and the store file's size before and after. ``runic delete`` already
removes the values a workflow owns; ``gc`` is for the values several workflows shared, values
left by stores written by runic 0.1, and values whose workflow disappeared some other way.
"""

from __future__ import annotations

import logging
import os

import click

from ..store.mnesia import DB_FILE
from .context import Settings, make_console, store_options
from .render import esc
from .stores import open_existing

__all__ = ["gc_command"]

log = logging.getLogger(__name__)


def _disk_bytes(directory: str) -> int:
    total = 0
    for suffix in ("", "-wal", "-shm"):
        try:
            total += os.path.getsize(os.path.join(directory, DB_FILE + suffix))
        except OSError:
            pass
    return total


@click.command("gc", short_help="Remove fact values no workflow references; shrink the WAL.")
@store_options
def gc_command(settings: Settings) -> None:
    """Remove the fact values that no workflow stored for the runner references any more (values
    shared by deleted workflows, or left by older runic versions), and cut the write-ahead log
    back to nothing. Values saved by hand with save_fact() stay. Safe while Runners use the store.

    \b
    Example:
      runic gc --dir ./runic-data/host1
    """
    console = make_console()
    before = 0 if settings.dsn else _disk_bytes(settings.data_dir)
    with open_existing(settings) as store:
        result = store.gc()
    after = 0 if settings.dsn else _disk_bytes(settings.data_dir)
    files = "" if settings.dsn else (f"; store files {before:,} -> {after:,} bytes (freed pages are reused by "
                                     "later writes)")
    console.print(esc(
        f"gc of {settings.where}: removed {result['removed']} fact values, kept {result['kept']} "
        f"shared ones still referenced ({result['workflows']} workflows scanned){files}"), soft_wrap=True)
