"""Workflows for the dashboard tests, with module-level functions (importable by worker hosts).

``shop`` prices an order and ships it; ``failing_shop`` cannot ship (its ``ship`` step raises
``ValueError``); ``chain(n)`` is ``n`` steps that each nap :data:`NAP_SECONDS` (long enough to
watch it run, stop, cancel or resume it).
"""

from __future__ import annotations

import os
import time

import runic

from ..cli.userflows import add, explode, parse, price

NAP_SECONDS = float(os.environ.get("RUNIC_TEST_NAP", "0.25"))


def nap(x):
    time.sleep(NAP_SECONDS)
    return x + 1


def echo(x):
    return x


def shop(name: str = "shop") -> runic.Workflow:
    wf = runic.Workflow(name)
    wf.add(runic.step(parse, name="parse"))
    wf.add(runic.map(runic.step(price, name="price"), name="prices"), to="parse")
    wf.add(runic.reduce(0, add, name="total", map="prices"), to="prices")
    return wf


def failing_shop() -> runic.Workflow:
    wf = shop("failing shop")
    wf.add(runic.step(explode, name="ship"), to="total")
    return wf


def chain(n: int) -> runic.Workflow:
    wf = runic.Workflow(f"chain of {n}")
    prev = None
    for i in range(n):
        wf.add(runic.step(nap, name=f"s{i}"), to=prev)
        prev = f"s{i}"
    wf.add_scheduler_policy("default", {"execution_mode": "durable"})
    return wf


ORDER = {"items": [{"qty": 3, "price": 20}, {"qty": 1, "price": 5}]}
