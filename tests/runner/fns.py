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


# ---------------------------------------------------------------- failure-path helpers

class Opaque:
    """A plain class the codec does not know (a step returning it cannot be persisted)."""

    def __init__(self, x):
        self.x = x


def returns_opaque(x):
    return Opaque(x)


def pid_then_sleep(path, x):
    """Write this process's pid to ``path``, then sleep long (a process attempt to kill)."""
    with open(path, "w") as f:
        f.write(str(os.getpid()))
    time.sleep(60)
    return x


def thread_name(x):
    import threading

    return threading.current_thread().name


def sleep_then_thread_name(x):
    import threading

    time.sleep(0.3)
    return threading.current_thread().name


def tenant(x, *, context):
    return f"{x}@{context['tenant']}"


def wait_for_file(path, x):
    """Block until ``path`` exists (a test releases it), then add one."""
    while not os.path.exists(path):
        time.sleep(0.01)
    return x + 1


def big_after_gate(path, x):
    """Block until ``path`` exists, then return a value large enough to need new disk pages."""
    while not os.path.exists(path):
        time.sleep(0.01)
    return "x" * 300_000 + str(x)


def logs_and_prints(x):
    """Log at WARNING and INFO under this module's logger, and print, then add one."""
    import logging

    logging.getLogger("tests.runner.fns").warning("step saw %s (pid %d)", x, os.getpid())
    print(f"printed by the step: {x}", flush=True)
    return x + 1


def journal_value_step(path, name, delay, x):
    """Record (step name, the value it got) in a file, wait, then add one: which workflow (by
    its input) ran which step, and how often."""
    import json

    with open(path, "a") as f:
        f.write(json.dumps([name, x]) + "\n")
    time.sleep(delay)
    return x + 1


def timer_slack(x):
    """The timer slack (ns) of the thread running this step (Linux ``PR_GET_TIMERSLACK``)."""
    import ctypes
    import ctypes.util

    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    return libc.prctl(30, 0, 0, 0, 0)
