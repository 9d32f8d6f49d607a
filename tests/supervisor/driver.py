"""A driver program for the process-lifecycle tests: ``python -m tests.supervisor.driver MODE [PORT]``.

It starts (or, in ``link`` mode, attaches to) an actor system, starts a small supervision tree,
prints one JSON line describing it, then:

* ``kill``: sleeps until the test SIGKILLs it (the watchdog must clean up);
* ``exit``: returns without shutting anything down (``atexit`` must clean up);
* ``abandon``: no watchdog, no link, ``os._exit`` (everything is left; the test attaches);
* ``link PORT``: attaches to the test's system, starts a linked tree, sleeps until killed.
"""

from __future__ import annotations

import json
import os
import sys
import time

from runic.actors import attach, start_system
from runic.supervisor import ChildSpec, Supervisor, SupervisorActor

from .actors import Echo


def main(argv: list[str]) -> None:
    mode = argv[0]
    if mode == "link":
        system = attach(int(argv[1]))
    else:
        system = start_system(watchdog=(mode != "abandon"))
    inner = ChildSpec("inner", (SupervisorActor, {"children": [ChildSpec("x", (Echo, {}))]}), type="supervisor")
    sup = Supervisor.start_link(
        [ChildSpec("a", (Echo, {})), inner], system=system, name="drv", link=(mode != "abandon")
    )
    print("actor output must not reach this pipe", file=sys.stderr, flush=True)
    print(json.dumps({
        "port": system.admin_port,
        "session": system.session,
        "system_pids": system.pids(),
        "tree_pids": sup.pids(),
        "scratch": str(system.scratch_dir),
    }), flush=True)
    if mode == "exit":
        return
    if mode == "abandon":
        os._exit(0)
    while True:
        time.sleep(1)


if __name__ == "__main__":
    main(sys.argv[1:])
