"""``runic nodes``: the nodes of a cluster (the Runners sharing the store), read from the store."""

from __future__ import annotations

import click
from rich.table import Table

from .context import Settings, make_console, store_options
from .render import esc, plain, titled, when
from .stores import open_existing

__all__ = ["nodes_command"]


@click.command("nodes", short_help="List the nodes (Runners) that share the store, and their leases.")
@click.option("--all", "show_all", is_flag=True, help="Also the generations that ended long ago "
              "(by default a dead node shows only when it still owns running workflows or is its name's newest).")
@store_options
def nodes_command(show_all: bool, settings: Settings) -> None:
    """List the nodes that share the store: node, generation, alive, lease expiry, running
    workflows it owns, host and pid.

    Every Runner on a store is a node holding a lease it renews every third of the lease. A node
    whose lease ran out is dead, and the live nodes take its running workflows over (each under
    a new ownership epoch); a restarted node with the same name is a new generation.

    \b
    Example:
      runic nodes --dsn postgresql://app@db1/app --runner app
    """
    console = make_console()
    with open_existing(settings) as store:
        nodes = store.nodes()
    table = Table(pad_edge=False, show_edge=False)
    for col, justify in (("node", "left"), ("generation", "right"), ("alive", "left"), ("lease expires", "left"),
                         ("workflows", "right"), ("host", "left"), ("pid", "right")):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    shown = 0
    for n in nodes:
        if not (show_all or n["alive"] or n["workflows"]):
            continue
        info = n.get("info") or {}
        table.add_row(plain(n["node"]), str(n["generation"]),
                      plain("yes" if n["alive"] else "no", style="green" if n["alive"] else "red"),
                      plain(when(n["lease_expires_at"]) + f".{n['lease_expires_at'] % 1000:03d}"),
                      str(len(n["workflows"])), plain(str(info.get("host") or "-")), str(info.get("pid") or "-"))
        shown += 1
    if not shown:
        console.print(esc(f"no {'' if show_all else 'live '}node in {settings.where}"
                          + ("" if show_all else " (`runic nodes --all` lists the dead ones too)")), soft_wrap=True)
        return
    console.print(titled(f"nodes of {settings.where}", table))
    alive = sum(1 for n in nodes if n["alive"])
    console.print(esc(f"{alive} live node(s); lease expiries by the store's clock, shown in local time"), soft_wrap=True)
