"""runic: durable dataflow workflows (a Python port of Elixir's Runic).

Build workflows from steps, rules, joins, accumulators, state machines and map/reduce; run
them in-process with :meth:`Workflow.react_until_satisfied`, or durably under a supervised
:class:`runic.runner.Runner` that persists every workflow's event log to a store.
"""

from . import codec
from .components import (
    accumulator,
    condition,
    map,
    reduce,
    rule,
    state_machine,
    step,
)
from .errors import (
    ArgumentError,
    ArgumentTypeError,
    ComponentNotFoundError,
    CorruptLogError,
    DuplicateComponentError,
    FunctionRestoreError,
    InvalidPolicyError,
    RunicError,
    WorkflowDefinitionError,
    WorkflowFailedError,
)
from .failures import Failure
from .facts import NOTHING, STRIPPED, Fact, FactRef
from .nodes import Cont, Halt
from .policy import SchedulerPolicy, fast_fail, io_policy, llm_policy
from .runnable import Apply, CausalContext, HookEvent, Runnable, current_runnable
from .core import REQUIRED, RunContextError, Workflow, workflow
from . import events as events  # registers every event type with the codec

__all__ = [
    "Workflow", "workflow", "step", "condition", "rule", "accumulator", "state_machine", "map",
    "reduce", "Fact", "FactRef", "NOTHING", "STRIPPED", "REQUIRED", "Cont", "Halt", "Apply",
    "HookEvent", "CausalContext", "Runnable", "current_runnable", "SchedulerPolicy", "llm_policy", "io_policy",
    "fast_fail", "codec", "RunicError", "WorkflowDefinitionError", "ComponentNotFoundError",
    "DuplicateComponentError", "FunctionRestoreError", "InvalidPolicyError", "RunContextError",
    "ArgumentError", "ArgumentTypeError", "Failure", "WorkflowFailedError", "CorruptLogError",
]
import typing as _typing  # noqa: E402

__version__: str  # the installed version, looked up on first use, not at import (see runic._version)
if not _typing.TYPE_CHECKING:  # type checkers see the declaration above, not a catch-all __getattr__
    from ._version import module_getattr as __getattr__
del _typing
