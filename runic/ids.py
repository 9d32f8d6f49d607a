"""TEMPORARY (lead branch): replaced by the store engineer's version at merge."""

from __future__ import annotations

import uuid
from typing import Any

from .errors import ArgumentError


def check_workflow_id(wid: Any) -> Any:
    if isinstance(wid, bool) or wid is None or isinstance(wid, float):
        raise ArgumentError(f"workflow id {wid!r} is not allowed; use a str")
    if isinstance(wid, (str, int, bytes, uuid.UUID)):
        return wid
    if isinstance(wid, tuple):
        for x in wid:
            check_workflow_id(x)
        return wid
    raise ArgumentError(f"workflow id {wid!r} is not allowed; use a str")
