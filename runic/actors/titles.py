"""Process titles: every process of an actor system says what it is in ``ps`` and ``top``.

With ``setproctitle`` each process is renamed ``runic: <what>``:

=====================================  ==============================================
process                                title
=====================================  ==============================================
thespian's admin                       ``runic: admin :<admin port>``
thespian's logger                      ``runic: logger``
the system watchdog                    ``runic: watchdog``
the system's guardian                  ``runic: guardian :<admin port>``
a supervised actor (``ChildActor``)    derived from its child id, see :func:`child_title`
any other actor                        ``runic: <class name>``
=====================================  ==============================================

The rule for child ids (:func:`child_title`): an id with a dot is ``<prefix>.<role>``, shown as
``<prefix> <role>`` with the role's first letter lower-cased — ``app.host-0`` → ``runic: app
host-0``, ``app.Store`` → ``runic: app store``, ``app.Runner`` → ``runic: app runner``,
``app.host/wf-1`` → ``runic: app host/wf-1``. An id without a dot names a supervisor
(``runic: app supervisor``) or a worker (``runic: <id>``). A ``ChildActor`` subclass may
override ``process_title()``.

thespian names processes itself (``setProcName``, only when ``setproctitle`` is installed);
:func:`install` replaces that function in the modules that call it, in the driver before the
admin is forked, so the admin, the logger and every actor use runic's names. The driver's own
title is never changed.
"""

from __future__ import annotations

import os
from typing import Any

__all__ = ["PREFIX", "set_title", "child_title", "thespian_title", "install", "current_title"]

PREFIX = "runic: "
_installed = False

_THESPIAN_NAMES = {"logger": "logger", "SystemWatchdog": "watchdog"}


def set_title(what: str) -> None:
    """Rename this process ``runic: <what>`` (no-op without ``setproctitle``)."""
    try:
        from setproctitle import setproctitle
    except ImportError:  # pragma: no cover - a declared dependency
        return
    setproctitle(PREFIX + what)


def current_title() -> str | None:
    try:
        from setproctitle import getproctitle
    except ImportError:  # pragma: no cover
        return None
    return str(getproctitle())


def child_title(child_id: str, child_type: str = "worker") -> str:
    """What a supervised actor with ``child_id`` is called (without the ``runic: `` prefix)."""
    prefix, dot, role = child_id.partition(".")
    if dot and prefix and role:
        return f"{prefix} {role[:1].lower()}{role[1:]}"
    if child_type == "supervisor":
        return f"{child_id} supervisor"
    return child_id


def thespian_title(name: str) -> str:
    """What thespian's own processes are called: ``name`` is what thespian passes."""
    if name.endswith("Admin"):  # MultiProcAdmin
        port = os.environ.get("RUNIC_ADMIN_PORT", "?")
        return f"admin :{port}"
    return _THESPIAN_NAMES.get(name, name)


def _set_proc_name(name: Any, actor_addr: Any) -> None:
    set_title(thespian_title(str(name)))


def install() -> None:
    """Make thespian's ``setProcName`` give runic's titles (idempotent)."""
    global _installed
    if _installed:
        return
    from thespian.system import logdirector, multiprocCommon, utilis

    for module in (utilis, multiprocCommon, logdirector):
        if hasattr(module, "setProcName"):
            module.setProcName = _set_proc_name
    _installed = True
