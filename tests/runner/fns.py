"""Module-level step functions for runner tests (importable in worker hosts and after restarts)."""

from __future__ import annotations

import os
import time


def add1(x):
    return x + 1


def double(x):
    return x * 2


def minus1(x):
    return x - 1


def add(a, b):
    return a + b


def add3(a, b, c):
    return a + b + c


def positive(x):
    return x > 0


def label_positive(x):
    return "positive"


def slow(x, seconds=0.1):
    time.sleep(seconds)
    return x


def slow_double(x):
    time.sleep(0.1)
    return x * 2


def very_slow(x):
    time.sleep(0.5)
    return x


def boom(x):
    raise RuntimeError(f"boom on {x!r}")


def where(x):
    return {"pid": os.getpid(), "value": x}


class FlakyFile:
    """Fails until it has been called ``failures`` times (counted in a file: works across processes)."""

    def __init__(self, path, failures):
        self.path = str(path)
        self.failures = failures

    def __call__(self, x):
        with open(self.path, "a") as f:
            f.write("x\n")
        with open(self.path) as f:
            n = len(f.read().splitlines())
        if n <= self.failures:
            raise RuntimeError(f"flaky failure {n}")
        return x * 10


def journal_step(path, name, delay, x):
    """Record (step name, idempotency key) in a file, wait, then add one."""
    import json

    import runic

    key = runic.current_runnable().idempotency_key
    with open(path, "a") as f:
        f.write(json.dumps([name, key]) + "\n")
    time.sleep(delay)
    return x + 1
