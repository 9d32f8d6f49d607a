"""What one request to a Runner costs, and whether slow requests delay quick ones.

    .venv/bin/python bench/requests.py [--n 300]

Prints, each next to its floor measured in the same run:

* ``run(id, x, await_idle=True)`` of a 1-step workflow (target ≤ 0.5 ms) and ``get_results``
  (target ≤ 0.3 ms), over the direct channel — and the same requests through the runner actor
  (thespian), the path every request took before the channel;
* the floor: a pickled request echoed by another process over a Unix socket;
* a quick ``get_results`` while 20 threads each wait in ``await_idle`` (it must not wait behind
  them), and the same with 20 asyncio tasks on an ``AsyncRunner``.

Medians of ``--n`` requests after a warm-up; the machine is shared, so read the ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import multiprocessing
import pickle
import shutil
import socket
import statistics
import struct
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import runic  # noqa: E402
from runic.runner import AsyncRunner, Runner  # noqa: E402
from runic.runner.messages import GetResults  # noqa: E402
from runic.store import MnesiaStore  # noqa: E402
from tests.runner import fns  # noqa: E402
from _runner_steps import median_time  # noqa: E402

_LEN = struct.Struct(">I")


def _echo_server(path: str, ready: "multiprocessing.synchronize.Event") -> None:  # type: ignore[name-defined]
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)
    ready.set()
    conn, _ = srv.accept()
    buf = b""
    while True:
        data = conn.recv(1 << 16)
        if not data:
            return
        buf += data
        while len(buf) >= 4:
            (n,) = _LEN.unpack_from(buf)
            if len(buf) < 4 + n:
                break
            frame, buf = buf[4:4 + n], buf[4 + n:]
            reply = pickle.dumps(pickle.loads(frame))
            conn.sendall(_LEN.pack(len(reply)) + reply)


def floor_us(n: int, work: Path) -> float:
    """A pickled request echoed by another process over a Unix socket (round trip, µs)."""
    path = str(work / "echo.sock")
    ready = multiprocessing.get_context("fork").Event()
    proc = multiprocessing.get_context("fork").Process(target=_echo_server, args=(path, ready), daemon=True)
    proc.start()
    ready.wait(10)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    msg = GetResults("w", ["a"])
    times = []
    for i in range(n + 50):
        t0 = time.perf_counter()
        payload = pickle.dumps(msg)
        s.sendall(_LEN.pack(len(payload)) + payload)
        (size,) = _LEN.unpack(s.recv(4))
        got = b""
        while len(got) < size:
            got += s.recv(size - len(got))
        pickle.loads(got)
        if i >= 50:
            times.append(time.perf_counter() - t0)
    s.close()
    proc.join(5)
    if proc.is_alive():
        proc.kill()
    return statistics.median(times) * 1e6


def timed(fn, n: int) -> float:  # type: ignore[no-untyped-def]
    """Median µs of ``n`` calls of ``fn``."""
    return median_time(fn, n, warmup=50) * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=300)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="runic-bench-requests-"))
    try:
        floor = floor_us(args.n, work)
        wf = runic.workflow("one", steps=[runic.step(fns.add1, name="a")])
        gate = work / "gate"
        slow = runic.workflow("slow", steps=[runic.step(functools.partial(fns.wait_for_file, str(gate)), name="g")])
        with Runner.start_link(name="bench", store=MnesiaStore, store_opts={"dir": str(work / "data")},
                               pool_size=1) as r:
            r.start_workflow("w", wf)
            run_us = timed(lambda: r.run("w", 1, await_idle=True), args.n)
            get_us = timed(lambda: r.get_results("w", ["a"]), args.n)
            r._endpoints.clear()
            scratch, r.system.scratch_dir = r.system.scratch_dir, None  # the path before the channel
            run_actor_us = timed(lambda: r.run("w", 1, await_idle=True), max(50, args.n // 3))
            get_actor_us = timed(lambda: r.get_results("w", ["a"]), max(50, args.n // 3))
            r.system.scratch_dir = scratch
            ids = [f"slow{i}" for i in range(20)]
            r.start_many(slow, [(w, 1) for w in ids])
            waiters = [threading.Thread(target=r.await_idle, args=(w,), kwargs={"timeout": 120}) for w in ids]
            for t in waiters:
                t.start()
            time.sleep(0.5)
            busy_get_us = timed(lambda: r.get_results("w", ["a"]), args.n)
            assert all(t.is_alive() for t in waiters)
            gate.touch()
            for t in waiters:
                t.join(60)
            gate.unlink()

            async def async_case() -> float:
                ar = AsyncRunner(r)
                ids2 = [f"aslow{i}" for i in range(20)]
                await ar.start_many(slow, [(w, 1) for w in ids2])
                tasks = [asyncio.ensure_future(ar.await_idle(w, timeout=120)) for w in ids2]
                await asyncio.sleep(0.5)
                times = []
                for _ in range(args.n):
                    t0 = time.perf_counter()
                    await ar.get_results("w", ["a"])
                    times.append(time.perf_counter() - t0)
                assert not any(t.done() for t in tasks)
                gate.touch()
                await asyncio.gather(*tasks)
                return statistics.median(times) * 1e6

            async_get_us = asyncio.run(async_case())
        print(f"floor: pickled echo over a Unix socket, another process   {floor:8.0f} µs")
        print(f"run(await_idle=True), 1-step workflow, direct channel    {run_us:8.0f} µs  "
              f"({run_us / floor:.1f}x floor; target ≤ 500)  via the runner actor: {run_actor_us:.0f} µs "
              f"({run_actor_us / run_us:.1f}x)")
        print(f"get_results, direct channel                              {get_us:8.0f} µs  "
              f"({get_us / floor:.1f}x floor; target ≤ 300)  via the runner actor: {get_actor_us:.0f} µs "
              f"({get_actor_us / get_us:.1f}x)")
        print(f"get_results while 20 threads wait in await_idle          {busy_get_us:8.0f} µs  "
              f"({busy_get_us / get_us:.2f}x idle)")
        print(f"AsyncRunner.get_results while 20 tasks wait              {async_get_us:8.0f} µs  "
              f"({async_get_us / get_us:.2f}x the sync call; it runs on the default executor)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
