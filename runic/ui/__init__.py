"""runic's dashboard: ``runic ui`` serves the workflows of a store to a browser.

It lists every workflow with its status, owner, last change and event count; shows one
workflow's graph (what ran, what is pending or running, what failed, values on hover), every
failure with its traceback, its event timeline, and follows it live while it runs; and has
stop / resume / cancel buttons with the command line's semantics. It listens on ``127.0.0.1``
only, has no authentication, reads the store without writing except for those actions, and
loads nothing from outside the package (see ``docs/dashboard.md``).

Modules: :mod:`~runic.ui.server` (HTTP, routes, security checks), :mod:`~runic.ui.views`
(what the pages show, read from the store), :mod:`~runic.ui.actions` (the buttons, and the
Runner a resume needs), :mod:`~runic.ui.sources` (which store), :mod:`~runic.ui.assets`
(the static files and the vendored library's pin).

Embedding, for a program that has a store (and perhaps a Runner) of its own::

    from runic.ui import Dashboard, GivenRunner, OpenSource

    with Dashboard(OpenSource(store, "orders store"), port=0, runners=GivenRunner(runner)) as ui:
        print("dashboard at", ui.url)
        ...
"""

from __future__ import annotations

from .actions import ActionError, GivenRunner, OwnRunner
from .server import DEFAULT_PORT, HOST, Dashboard, PortInUseError
from .sources import MnesiaSource, OpenSource, Source, source_for

__all__ = ["Dashboard", "DEFAULT_PORT", "HOST", "PortInUseError", "Source", "MnesiaSource", "OpenSource",
           "source_for", "GivenRunner", "OwnRunner", "ActionError"]
