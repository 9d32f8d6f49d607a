"""Loading what ``runic run`` is given: ``MODULE:ATTR`` and the ``--input`` JSON.

Both are user input, checked in the command's own process before any Runner starts, and every
way they can be wrong is a :class:`~runic.cli.errors.UsageProblem` (one line, exit code 2):

* ``--input`` is read with a bound (:data:`MAX_INPUT_BYTES`; ``@/dev/zero`` stops there),
  must be UTF-8 JSON, may not nest deeper than Python's JSON parser can follow, and must be
  storable by :mod:`runic.codec` (checked with ``codec.dumps`` before the workflow starts);
* importing the module or calling the factory runs the user's code: any exception, and also
  ``SystemExit`` (``sys.exit(7)`` at import) and a ``KeyboardInterrupt`` that the code raised
  itself, become one line naming the module. A real Ctrl-C during the import stays an
  interruption (exit 130): :func:`runic.cli.interrupts.by_signal` tells them apart.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import sys
from typing import Any, BinaryIO

from ..core import Workflow
from .errors import UsageProblem

__all__ = ["load_workflow", "parse_input", "MAX_INPUT_BYTES"]

log = logging.getLogger(__name__)

MAX_INPUT_BYTES = 64 * 1024 * 1024
"""The largest ``--input`` read from a file or stdin (64 MiB): the input is stored as one fact."""


def _user_code_failed(what: str, exc: BaseException) -> UsageProblem:
    """The error for user code that raised ``exc`` while ``what`` (re-raises a real Ctrl-C)."""
    from . import interrupts

    if isinstance(exc, KeyboardInterrupt) and interrupts.by_signal():
        raise exc
    if isinstance(exc, SystemExit):
        return UsageProblem(f"{what} failed: it called sys.exit({exc.code!r}); a workflow module must not exit "
                            "when imported (guard that code with `if __name__ == \"__main__\":`)")
    detail = f": {exc}" if str(exc) else ""
    return UsageProblem(f"{what} failed: {type(exc).__name__}{detail}")


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
    except (Exception, SystemExit, KeyboardInterrupt) as exc:  # noqa: BLE001 - user code, anything at import
        raise _user_code_failed(f"importing module {module_name!r}", exc) from exc
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
        except (Exception, SystemExit, KeyboardInterrupt) as exc:  # noqa: BLE001 - user code
            raise _user_code_failed(f"calling {target}()", exc) from exc
        if isinstance(made, Workflow):
            return made, f"{target}()"
        raise UsageProblem(f"{target}() returned {_a(type(made).__name__)}, not a runic.Workflow; name a workflow "
                           "or a zero-argument function that returns one")
    raise UsageProblem(f"{target} is {_a(type(obj).__name__)}, not a runic.Workflow; name a workflow or a "
                       "zero-argument function that returns one")


def _read_bounded(stream: BinaryIO, where: str) -> bytes:
    data = stream.read(MAX_INPUT_BYTES + 1)
    if len(data) > MAX_INPUT_BYTES:
        raise UsageProblem(f"{where} is larger than {MAX_INPUT_BYTES // (1024 * 1024)} MiB; the input of a workflow "
                           "is stored as one value: pass a smaller input (for example a path or a key to the data)")
    return data


def _nesting(value: Any) -> int:
    """How deeply lists and objects nest in a decoded JSON value (iteratively: any depth)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (list, dict)):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def parse_input(text: str) -> Any:
    """The ``--input`` value: JSON text, ``@FILE`` (JSON read from a file) or ``-`` (stdin);
    see the module docs for what is refused."""
    where = "--input"
    if text == "-":
        where = "--input - (stdin)"
        raw = _read_bounded(sys.stdin.buffer, where)
    elif text.startswith("@"):
        path = text[1:]
        where = f"--input file {path}"
        try:
            with open(path, "rb") as fh:
                raw = _read_bounded(fh, where)
        except OSError as exc:
            raise UsageProblem(f"cannot read the --input file {path}: {exc.strerror or exc}") from exc
    else:
        raw = None
    if raw is not None:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise UsageProblem(f"{where} is not JSON text: byte {exc.start} is not UTF-8 (is it a binary file?)") from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        snippet = text.strip().replace("\n", " ")
        snippet = snippet if len(snippet) <= 40 else snippet[:39] + "…"
        raise UsageProblem(f"{where} is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}: "
                           f"{snippet!r}); quote it for the shell, e.g. --input '{{\"order_id\": 1}}'") from exc
    except RecursionError:
        raise UsageProblem(f"{where} nests lists or objects too deeply to be read (more than about "
                           f"{sys.getrecursionlimit()} levels); flatten the input") from None
    _check_storable(value, where)
    return value


def _check_storable(value: Any, where: str) -> None:
    """Refuse an input that cannot become a fact (:mod:`runic.codec` cannot store it, or its
    content hash cannot be computed: too deep), before anything starts."""
    from .. import codec, hashing
    from ..errors import RunicError

    try:
        codec.dumps(value)
        hashing.content_hash(value)
    except (RunicError, RecursionError) as exc:
        reason = str(exc) if isinstance(exc, RunicError) else "it nests too deeply"
        raise UsageProblem(f"{where} cannot be stored ({_nesting(value)} levels of lists/objects): {reason}") from None
