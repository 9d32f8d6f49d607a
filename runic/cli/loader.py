"""Loading what ``runic run`` is given: ``MODULE:ATTR`` and the ``--input`` JSON."""

from __future__ import annotations

import importlib
import json
import logging
import os
import sys
from typing import Any

from ..core import Workflow
from .errors import UsageProblem

__all__ = ["load_workflow", "parse_input"]

log = logging.getLogger(__name__)


def _a(kind: str) -> str:
    return f"{'an' if kind[:1].lower() in 'aeiou' else 'a'} {kind}"


def load_workflow(target: str) -> tuple[Workflow, str]:
    """Import ``MODULE:ATTR`` and return ``(workflow, description)``.

    ``ATTR`` (dotted for nested attributes) is a :class:`~runic.Workflow`, or a callable taking
    no argument that returns one. Modules are imported as ``python -m`` would, with the working
    directory on ``sys.path``."""
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise UsageProblem(f"{target!r} is not MODULE:ATTR; name a module and the workflow in it, e.g. `runic run shop:pipeline`")
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise UsageProblem(
                f"cannot import module {module_name!r}: no module named {exc.name!r} (looked in {cwd} and on "
                "sys.path); run from the directory that holds it, or add that directory to PYTHONPATH") from exc
        raise UsageProblem(f"importing module {module_name!r} failed: {exc}") from exc
    except Exception as exc:  # noqa: BLE001 - user code: SyntaxError, anything at import time
        raise UsageProblem(f"importing module {module_name!r} failed: {type(exc).__name__}: {exc}") from exc
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise UsageProblem(f"module {module_name!r} has no attribute {attr!r}; name a workflow defined in "
                               f"{getattr(module, '__file__', module_name)}") from None
    if isinstance(obj, Workflow):
        return obj, target
    if callable(obj) and not isinstance(obj, type):
        try:
            made = obj()
        except TypeError as exc:
            raise UsageProblem(f"{target} is a function, but calling it with no argument failed ({exc}); "
                               "name a workflow or a zero-argument function that returns one") from exc
        except Exception as exc:  # noqa: BLE001 - user code
            raise UsageProblem(f"calling {target}() failed: {type(exc).__name__}: {exc}") from exc
        if isinstance(made, Workflow):
            return made, f"{target}()"
        raise UsageProblem(f"{target}() returned {_a(type(made).__name__)}, not a runic.Workflow; name a workflow "
                           "or a zero-argument function that returns one")
    raise UsageProblem(f"{target} is {_a(type(obj).__name__)}, not a runic.Workflow; name a workflow or a "
                       "zero-argument function that returns one")


def parse_input(text: str) -> Any:
    """The ``--input`` value: JSON text, ``@FILE`` (JSON read from a file) or ``-`` (stdin)."""
    where = "--input"
    if text == "-":
        text = sys.stdin.read()
        where = "--input - (stdin)"
    elif text.startswith("@"):
        path = text[1:]
        try:
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
        except OSError as exc:
            raise UsageProblem(f"cannot read the --input file {path}: {exc.strerror or exc}") from exc
        where = f"--input file {path}"
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        snippet = text.strip().replace("\n", " ")
        snippet = snippet if len(snippet) <= 40 else snippet[:39] + "…"
        raise UsageProblem(f"{where} is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}: "
                           f"{snippet!r}); quote it for the shell, e.g. --input '{{\"order_id\": 1}}'") from exc
