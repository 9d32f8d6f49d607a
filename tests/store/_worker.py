"""Helper process for the multi-process store tests (run as a script, one command per process).

Every acknowledgement is written with one ``os.write`` to stdout (a pipe) *after* the store call
returned, so an ack the parent reads is an acknowledged write: it was in the kernel before the
next call started, and survives ``kill -9`` of this process.

Commands (JSON lines on stdout):

* ``append DIR RUNNER WF K N TAG [GO_FILE]`` — append N times (N=0: forever) K events
  ``[TAG, call, j]`` to WF; ack each returned cursor as ``{"ack": cursor}``. With GO_FILE,
  print ``{"ready": true}`` and wait for that file to exist before the first append.
* ``append_bg DIR RUNNER WF K N TAG`` — ``append`` with WAL checkpoints on a background
  thread (:meth:`MnesiaStore.checkpoint_in_background`), as a Runner's worker host runs it.
* ``fenced DIR RUNNER WF OWNER`` — acquire WF, print ``{"epoch": e}``, then append
  ``[OWNER, i]`` with that epoch until refused; print ``{"fenced": ..., "acked": n}``.
* ``writer DIR RUNNER I`` — 25 appends, a saved log and a fact on workflow ``wfI``.
* ``read DIR RUNNER WF`` — print the log and the stream of WF.
* ``ram RUNNER WF`` — open the RAM tables of RUNNER outside any actor system and print
  whether WF exists there.
* ``open DIR RUNNER`` — open a disc store and print the outcome (error class and message).
* ``append_until_refused DIR RUNNER WF`` — append one event at a time; ack each with the
  ``time.monotonic()`` at which the call began (``began``) and returned (``at``); when a call raises, print
  ``{"refused": class name, "message": ..., "at": monotonic}`` and exit 0.
* ``DIR`` may be a ``postgresql://`` URL: the same commands run against PostgresStore.
* ``open_at GO_FILE DIR RUNNER`` — print ``{"ready": true}``, wait for GO_FILE, open (and write
  to) the store at once, print the outcome like ``open``.
"""

from __future__ import annotations

import json
import os
import sys
import time

from runic.store import FencedError, StoreError
from runic.store import MnesiaStore as _MnesiaStore


def MnesiaStore(runner: str, dir: str | None = None, **opts: object):  # noqa: N802 - stands for the class
    """The store at ``dir``: a MnesiaStore directory, or a PostgreSQL URL (``postgresql://...``)
    for the same commands against PostgresStore."""
    if dir is not None and dir.startswith("postgresql://"):
        from runic.store import PostgresStore

        return PostgresStore(runner, dsn=dir, **opts)
    return _MnesiaStore(runner, dir=dir, **opts)


def out(obj: object) -> None:
    os.write(1, (json.dumps(obj) + "\n").encode())


def cmd_append(d: str, runner: str, wf: str, k: str, n: str, tag: str, go: str | None = None,
               background: bool = False) -> None:
    k_, n_ = int(k), int(n)
    with MnesiaStore(runner, dir=d) as s:
        if background and not s.checkpoint_in_background():
            raise SystemExit("the background checkpointer did not start")
        s.append("warm-" + tag, ["w"])
        if go:
            out({"ready": True})
            while not os.path.exists(go):
                time.sleep(0.001)
        call = 0
        while n_ == 0 or call < n_:
            cursor = s.append(wf, [[tag, call, j] for j in range(k_)])
            out({"ack": cursor})
            call += 1


def cmd_append_bg(d: str, runner: str, wf: str, k: str, n: str, tag: str) -> None:
    cmd_append(d, runner, wf, k, n, tag, background=True)


def cmd_fenced(d: str, runner: str, wf: str, owner: str) -> None:
    with MnesiaStore(runner, dir=d) as s:
        epoch = s.acquire(wf, owner)
        out({"epoch": epoch})
        i = 0
        while True:
            try:
                s.append(wf, [[owner, i]], epoch=epoch)
            except FencedError as exc:
                out({"fenced": str(exc), "current": exc.current_epoch, "acked": i})
                return
            out({"ack": i})
            i += 1


def cmd_writer(d: str, runner: str, i: str) -> None:
    with MnesiaStore(runner, dir=d) as s:
        wf = f"wf{i}"
        for j in range(25):
            s.append(wf, [[int(i), j]])
        s.save(wf, [int(i)])
        s.save_fact(1000 + int(i), int(i))
    out({"done": int(i)})


def cmd_read(d: str, runner: str, wf: str) -> None:
    with MnesiaStore(runner, dir=d) as s:
        out({"log": s.load(wf), "events": list(s.stream(wf))})


def cmd_ram(runner: str, wf: str) -> None:
    with MnesiaStore(runner, disc_copies=False) as s:
        out({"exists": s.exists(wf), "storage_type": s.storage_type})


def cmd_open(d: str, runner: str) -> None:
    try:
        with MnesiaStore(runner, dir=d) as s:
            s.save("probe", [1])
    except StoreError as exc:
        out({"error": type(exc).__name__, "message": str(exc)})
    else:
        out({"error": None})


def cmd_append_until_refused(d: str, runner: str, wf: str) -> None:
    with MnesiaStore(runner, dir=d) as s:
        i = 0
        while True:
            began = time.monotonic()
            try:
                cursor = s.append(wf, [i])
            except StoreError as exc:
                out({"refused": type(exc).__name__, "message": str(exc), "at": time.monotonic()})
                return
            out({"ack": cursor, "began": began, "at": time.monotonic()})
            i += 1


def cmd_open_at(go: str, d: str, runner: str) -> None:
    out({"ready": True})
    while not os.path.exists(go):
        time.sleep(0.0005)
    cmd_open(d, runner)


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    globals()["cmd_" + command](*args)
