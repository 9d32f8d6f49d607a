"""The direct channel accepts only this user: another uid cannot reach a worker host's socket,
and even with the file made reachable, its frames are never read (the peer's uid is checked)."""

from __future__ import annotations

import os
import pickle
import socket
import struct
import time
from pathlib import Path

import pytest

import runic
from runic.runner.wire import endpoint_path

from . import fns

NOBODY = 65534


class Exploit:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (Path.touch, (Path(self.marker),))


def attempt_as_nobody(path: Path, marker: Path) -> str:
    """From a forked child running as uid 65534: connect, send a framed pickle, report."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        out = "?"
        try:
            os.close(r)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            payload = pickle.dumps(Exploit(str(marker)))
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(10)
                try:
                    s.connect(str(path))
                except PermissionError:
                    out = "denied"
                else:
                    try:
                        s.sendall(struct.pack(">I", len(payload)) + payload)
                        out = "closed" if s.recv(1) == b"" else "answered"
                    except (ConnectionResetError, BrokenPipeError):
                        out = "closed"  # closed by the host before (or while) we sent
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            out = f"error: {type(exc).__name__}: {exc}"
        finally:
            os.write(w, out.encode())
            os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as fh:
        result = fh.read().decode()
    os.waitpid(pid, 0)
    return result


@pytest.mark.skipif(os.geteuid() != 0, reason="switching to another uid needs root")
def test_another_user_cannot_use_a_worker_hosts_direct_channel(runner, actor_system, tmp_path):
    runner.start_workflow("w", runic.workflow("w", steps=[runic.step(fns.add1, name="a")]), input=1)
    assert runner.await_idle("w", timeout=30) == "idle"
    path = endpoint_path(actor_system.scratch_dir, runner.lookup("w").host)
    assert path.exists() and (path.stat().st_mode & 0o777) == 0o600
    tmp_path.chmod(0o777)
    assert attempt_as_nobody(path, tmp_path / "m1") == "denied"  # the 0700 scratch dir stops it
    # a misconfigured directory and socket file: the peer check still refuses the connection
    scratch_mode = actor_system.scratch_dir.stat().st_mode & 0o777
    dirs = [actor_system.scratch_dir, path.parent]
    modes = [d.stat().st_mode & 0o777 for d in dirs]
    try:
        for d in dirs:
            d.chmod(0o711)
        path.chmod(0o666)
        assert attempt_as_nobody(path, tmp_path / "m2") == "closed"
    finally:
        for d, mode in zip(dirs, modes):
            d.chmod(mode)
        path.chmod(0o600)
    time.sleep(0.2)
    assert not list(tmp_path.glob("m*")), "a frame from another user was read"
    assert actor_system.scratch_dir.stat().st_mode & 0o777 == scratch_mode
    assert runner.get_results("w", ["a"]) == {"a": 2}  # the host serves this user as before
