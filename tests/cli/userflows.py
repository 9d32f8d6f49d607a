"""Workflows a user would write, for the CLI tests: copied into each test's working directory
as ``flows.py`` and run with ``runic run flows:<name>`` (so worker hosts import them from there)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import runic

JOURNAL = Path(__file__).with_name("journal.txt")


def parse(order):
    return order["items"]


def price(item):
    return item["qty"] * item["price"]


def add(x, acc):
    return acc + x


def is_big(total):
    return total > 50


def flag_big(total):
    return f"big order: {total}"


def explode(total):
    raise ValueError(f"cannot ship an order of {total}")


def pipeline():
    """parse -> map(price) -> reduce(total) -> rule big."""
    wf = runic.Workflow("shop")
    wf.add(runic.step(parse, name="parse"))
    wf.add(runic.map(runic.step(price, name="price"), name="prices"), to="parse")
    wf.add(runic.reduce(0, add, name="total", map="prices"), to="prices")
    wf.add(runic.rule(is_big, flag_big, name="big"), to="total")
    return wf


PIPELINE = pipeline()


def failing():
    """The pipeline with a step that always fails after the total."""
    wf = pipeline()
    wf.add(runic.step(explode, name="ship"), to="total")
    return wf


def tick(x):
    """One slow step: record this execution (step name, pid) in the journal, then add one."""
    current = runic.current_runnable()
    with open(JOURNAL, "a") as f:
        f.write(f"{current.node_name if current else '?'} {os.getpid()}\n")
    time.sleep(float(os.environ.get("FLOWS_TICK_SECONDS", "0.15")))
    return x + 1


def slow(steps: int = 40):
    """A chain of slow steps: s0 -> s1 -> ... (long enough to stop, interrupt or kill mid-way)."""
    wf = runic.Workflow("slow")
    prev = None
    for i in range(steps):
        wf.add(runic.step(tick, name=f"s{i}"), to=prev)
        prev = f"s{i}"
    return wf


def raises():
    raise RuntimeError("the factory is broken")


def returns_number():
    return 7


NOT_A_WORKFLOW = 42


def lambdas():
    """A workflow of lambdas: it runs, but another process cannot restore it."""
    wf = runic.Workflow("lambdas")
    wf.add(runic.step(lambda x: x + 1, name="inc"))
    return wf


def inc(x):
    return x + 1


def increment():
    """One step: inc."""
    wf = runic.Workflow("increment")
    wf.add(runic.step(inc, name="inc"))
    return wf


def hostile_names():
    """A workflow and a step whose names hold terminal escape sequences."""
    wf = runic.Workflow("shop\x1b]0;owned\x07")
    wf.add(runic.step(inc, name="inc\x1b[2J\u202e"))
    return wf


def flaky_lookup(total):
    """Fails on its first two attempts (counted in a file beside this module), then answers."""
    counter = JOURNAL.with_name("flaky-count.txt")
    n = int(counter.read_text()) if counter.exists() else 0
    counter.write_text(str(n + 1))
    if n < 2:
        raise ConnectionError(f"lookup service unavailable (attempt {n + 1})")
    return {"total": total, "customer": "ada"}


def flaky():
    """The pipeline with a lookup that succeeds on its third attempt (two retries)."""
    wf = pipeline()
    wf.add(runic.step(flaky_lookup, name="lookup"), to="total")
    wf.add_scheduler_policy("lookup", {"max_retries": 2})
    return wf
