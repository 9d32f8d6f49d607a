"""OTP-style supervision on thespian: child specs, supervisors, restart on crash.

* :class:`ChildSpec`, :func:`to_child_spec` — what to start and how to restart/stop it.
* :class:`ChildActor` — base class of every supervised actor (``on_start``/``on_stop``).
* :class:`SupervisorActor` — a supervisor as an actor (nests as a child of type supervisor).
* :class:`Supervisor` — the driver-side handle: ``Supervisor.start_link(children, ...)``.
* :mod:`runic.supervisor.messages` — the request/reply dataclasses (usable from any actor).

See ``docs/supervision.md``.
"""

from . import messages
from .actor import SupervisorActor
from .child import ChildActor
from .errors import (
    ChildAlreadyPresentError,
    ChildNotFoundError,
    ChildRunningError,
    ChildStartError,
    InvalidChildSpecError,
    RemoteError,
    SupervisorError,
    SupervisorNotRunningError,
    SupervisorStartError,
    SupervisorTimeoutError,
)
from .intensity import RestartIntensity
from .messages import ChildCounts, ChildInfo, ChildStarted, ErrorReply
from .spec import ChildSpec, to_child_spec
from .strategy import STRATEGIES, plan_restart, should_restart
from .supervisor import Supervisor

__all__ = [
    "STRATEGIES",
    "ChildActor",
    "ChildAlreadyPresentError",
    "ChildCounts",
    "ChildInfo",
    "ChildNotFoundError",
    "ChildRunningError",
    "ChildSpec",
    "ChildStartError",
    "ChildStarted",
    "ErrorReply",
    "InvalidChildSpecError",
    "RemoteError",
    "RestartIntensity",
    "Supervisor",
    "SupervisorActor",
    "SupervisorError",
    "SupervisorNotRunningError",
    "SupervisorStartError",
    "SupervisorTimeoutError",
    "messages",
    "plan_restart",
    "should_restart",
    "to_child_spec",
]
