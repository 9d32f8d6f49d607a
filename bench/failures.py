"""How long a failure takes to reach the caller who waits for it.

    .venv/bin/python bench/failures.py [--n 100]

Prints, next to the same request on a workflow that succeeds (its floor, same run):

* ``run(id, x, await_idle=True)`` of a 1-step workflow whose step raises: the time until the
  call raises :class:`~runic.WorkflowFailedError` (the failure recorded in the store first);
* the same with ``max_retries=2`` and no backoff (three attempts, each recorded);
* ``await_idle`` of a workflow cancelled from another thread: the time from ``cancel`` to the
  waiter's answer;
* a worker host SIGKILLed while a step runs: the time until the waiter (which follows the
  restarted host) returns, with the resumed step's own time subtracted.

Medians of ``--n`` requests after a warm-up (the kill: ``--kills`` trials); the machine is
shared, so read the ratios.
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import runic  # noqa: E402
from runic.runner import Runner  # noqa: E402
from runic.store import MnesiaStore  # noqa: E402
from tests.runner import fns  # noqa: E402
from _runner_steps import median_time  # noqa: E402


def timed(fn, n: int) -> float:  # type: ignore[no-untyped-def]
    """Median ms of ``n`` calls of ``fn``."""
    return median_time(fn, n, warmup=20) * 1e3


def expect_failure(r: Runner, wid: str) -> None:
    try:
        r.run(wid, 1, await_idle=True, timeout=30)
    except runic.WorkflowFailedError:
        return
    raise AssertionError(f"{wid} did not fail")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--kills", type=int, default=5)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="runic-bench-failures-"))
    try:
        ok = runic.workflow("ok", steps=[runic.step(fns.add1, name="a")])
        bad = runic.workflow("bad", steps=[runic.step(fns.boom, name="a")])
        retried = runic.workflow("retried", steps=[runic.step(fns.boom, name="a")])
        retried.add_scheduler_policy("a", {"max_retries": 2, "backoff": "none"})
        gate = work / "gate"
        blocked = runic.workflow("blocked", steps=[
            runic.step(functools.partial(fns.wait_for_file, str(gate)), name="g")])
        with Runner.start_link(name="bench", store=MnesiaStore, store_opts={"dir": str(work / "data")},
                               pool_size=1) as r:
            r.start_workflow("ok", ok)
            r.start_workflow("bad", bad)
            r.start_workflow("retried", retried)
            ok_ms = timed(lambda: r.run("ok", 1, await_idle=True), args.n)
            bad_ms = timed(lambda: expect_failure(r, "bad"), args.n)
            retried_ms = timed(lambda: expect_failure(r, "retried"), max(20, args.n // 2))

            cancel_ms = []
            for i in range(max(10, args.n // 5)):
                wid = f"c{i}"
                r.start_workflow(wid, blocked, input=1)
                answer: list[float] = []

                def wait(wid: str = wid, answer: list[float] = answer) -> None:
                    try:
                        r.await_idle(wid, timeout=30, raise_on_failure=False)
                    except runic.runner.RunnerError:
                        pass
                    answer.append(time.perf_counter())

                t = threading.Thread(target=wait)
                t.start()
                time.sleep(0.05)
                t0 = time.perf_counter()
                r.cancel(wid)
                t.join(30)
                assert answer, f"the waiter of {wid} never returned"
                cancel_ms.append((answer[0] - t0) * 1e3)

        # the kill: a Runner of its own, holding only the workflow killed (a host resumes every
        # workflow it held before answering, and the ones above have long logs)
        kill_ms = []
        with Runner.start_link(name="kill", store=MnesiaStore, store_opts={"dir": str(work / "data")},
                               pool_size=1) as r:
            for i in range(args.kills):
                wid = f"k{i}"
                r.start_workflow(wid, blocked, input=1)
                host_pid = _host_pid(r)
                done: list[float] = []
                t = threading.Thread(target=lambda wid=wid, done=done: (
                    r.await_idle(wid, timeout=60), done.append(time.perf_counter())))
                t.start()
                time.sleep(0.1)
                t0 = time.perf_counter()
                os.kill(host_pid, signal.SIGKILL)
                gate.touch()  # the resumed step finds its gate open at once
                t.join(60)
                gate.unlink()
                assert done, f"the waiter of {wid} never returned after the kill"
                kill_ms.append((done[0] - t0) * 1e3)
                print(f"kill {i}: {kill_ms[-1]:.1f} ms", file=sys.stderr)

        print(f"{'what':68} {'ms':>8} {'floor ms':>9} {'ratio':>6}")
        rows = [
            ("run(await_idle) of a step that raises -> WorkflowFailedError", bad_ms, ok_ms),
            ("same, max_retries=2 (3 attempts recorded)", retried_ms, ok_ms),
            ("cancel(id) -> a waiting await_idle answers", statistics.median(cancel_ms), ok_ms),
            ("SIGKILL of the host -> the waiter returns (resumed, restarted host)", statistics.median(kill_ms), ok_ms),
        ]
        for what, ms, floor in rows:
            print(f"{what:68} {ms:8.2f} {floor:9.2f} {ms / floor:6.1f}x")
        print("floor: run(await_idle) of the same 1-step workflow succeeding, same Runner, same run")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _host_pid(r: Runner) -> int:
    """The pid of the Runner's only worker host (``pool_size=1``)."""
    for entry in r.tree():
        if entry["role"] == "host" and entry["pid"]:
            return int(entry["pid"])
    raise RuntimeError("no live worker host in the Runner's tree")


if __name__ == "__main__":
    main()
