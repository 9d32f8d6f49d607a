"""The actor system's lifecycle: cleanup when the driver dies or exits, reattaching, start-link,
orphans, loopback binding, scratch directory and logging."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from runic.actors import (
    ActorSystemStartError,
    remove_stale_scratch_dirs,
    AttachError,
    UnsafeBindAddressError,
    attach,
    procs,
    start_system,
)
from runic.supervisor import ChildSpec, Supervisor

from .actors import Echo, Introspect, LogWarning, NoDeathSignal, Value, WhereAmI
from .helpers import all_gone, children, read_journal, running_pids, wait_until

ROOT = Path(__file__).resolve().parents[2]


def run_driver(*args: str) -> tuple[subprocess.Popen, dict]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.supervisor.driver", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline()
    if not line:
        proc.kill()
        raise AssertionError(f"driver failed: {proc.communicate(timeout=30)}")
    return proc, json.loads(line)


def _cleanup(info: dict) -> None:
    procs.kill_pids(procs.session_pids(info["session"]) + info["tree_pids"], signal.SIGKILL)
    if info.get("scratch") and info["scratch"] != "None":
        shutil.rmtree(info["scratch"], ignore_errors=True)


def test_driver_killed_watchdog_stops_everything() -> None:
    proc, info = run_driver("kill")
    try:
        assert set(info["tree_pids"]) <= set(info["system_pids"])
        proc.kill()
        out, err = proc.communicate(timeout=30)  # no actor holds the driver's pipes
        assert "must not reach" in err
        all_gone(info["system_pids"], timeout=20)
        wait_until(lambda: procs.session_pids(info["session"]) == [], timeout=20, what="session empty")
        wait_until(lambda: not os.path.exists(info["scratch"]), timeout=20, what="scratch dir removed")
    finally:
        _cleanup(info)


def test_driver_exit_without_shutdown_is_cleaned_at_exit() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tests.supervisor.driver", "exit"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    info = json.loads(result.stdout.splitlines()[0])
    try:
        assert result.returncode == 0, result.stderr
        all_gone(info["system_pids"], timeout=10)
        assert not os.path.exists(info["scratch"])
    finally:
        _cleanup(info)


def test_attach_and_stop_a_system_left_behind() -> None:
    proc, info = run_driver("abandon")
    try:
        proc.communicate(timeout=30)
        assert all(procs.is_alive(p) for p in info["system_pids"])  # left running
        handle = attach(info["port"])
        assert handle.session == info["session"]
        assert set(info["system_pids"]) <= set(handle.pids())
        assert handle.scratch_dir is not None and str(handle.scratch_dir) == info["scratch"]
        assert handle.shutdown() == []
        all_gone(info["system_pids"])
        assert not os.path.exists(info["scratch"])
        with pytest.raises(AttachError):
            attach(info["port"])
    finally:
        _cleanup(info)


def test_start_link_tree_stops_when_its_driver_dies(actor_system) -> None:
    proc, info = run_driver("link", str(actor_system.admin_port))
    try:
        assert set(info["tree_pids"]) <= set(actor_system.pids())
        proc.kill()
        proc.communicate(timeout=30)
        all_gone(info["tree_pids"], timeout=20)
        # the system itself (not owned by that driver) is still there and usable
        sup = Supervisor.start_link([ChildSpec("a", (Echo, {}))], system=actor_system)
        sup.stop()
    finally:
        procs.kill_pids(info["tree_pids"], signal.SIGKILL)


def test_children_of_a_killed_supervisor_do_not_survive(actor_system, tmp_path) -> None:
    journal = str(tmp_path / "j")
    sup = Supervisor.start_link(
        [ChildSpec("linked", (Echo, {"journal": journal})), ChildSpec("polling", (NoDeathSignal, {"journal": journal}))],
        system=actor_system,
    )
    kids = running_pids(sup)
    os.kill(sup.pid, signal.SIGKILL)
    all_gone(list(kids.values()), timeout=10)
    # the child without the kernel's parent-death signal noticed by polling and stopped itself
    wait_until(lambda: "stop polling orphaned" in read_journal(journal), what="orphan stopped itself")
    assert not any(line.startswith("stop linked") for line in read_journal(journal))


def test_sockets_bind_to_loopback_only(actor_system) -> None:
    Supervisor.start_link([ChildSpec("a", (Echo, {}))], system=actor_system)
    inodes: set[str] = set()
    for pid in actor_system.pids():
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    listening = []
    with open("/proc/net/tcp") as fh:
        next(fh)
        for line in fh:
            parts = line.split()
            if parts[3] == "0A" and parts[9] in inodes:
                listening.append(parts[1])
    assert listening, "expected listening sockets"
    assert all(addr.startswith("0100007F:") for addr in listening), listening


def test_refuses_non_loopback_without_opt_in() -> None:
    for host in ("0.0.0.0", "10.1.2.3", ""):
        with pytest.raises(UnsafeBindAddressError) as err:
            start_system(host=host)
        assert "allow_remote" in str(err.value) or "127.0.0.1" in str(err.value)


def test_port_in_use_is_refused(actor_system) -> None:
    with pytest.raises(ActorSystemStartError) as err:
        start_system(admin_port=actor_system.admin_port)
    assert "attach" in str(err.value)


def test_scratch_dir_and_logging(actor_system) -> None:
    scratch = actor_system.scratch_dir
    assert scratch is not None and scratch.is_dir() and str(scratch).startswith("/dev/shm/")
    sup = Supervisor.start_link([ChildSpec("i", (Introspect, {}))], system=actor_system)
    addr = children(sup)["i"].address
    reply = actor_system.ask(addr, WhereAmI(), 10)
    assert isinstance(reply, Value) and reply.value == str(scratch)
    actor_system.ask(addr, LogWarning("hello from an actor"), 10)
    wait_until(lambda: "hello from an actor" in actor_system.log_file.read_text(), what="log record")
    sup.stop()


def test_shutdown_removes_scratch_and_processes() -> None:
    handle = start_system()
    Supervisor.start_link([ChildSpec("a", (Echo, {}))], system=handle)
    pids, scratch = handle.pids(), handle.scratch_dir
    assert len(pids) >= 5
    assert handle.shutdown() == []
    all_gone(pids)
    assert not scratch.exists()
    assert handle.shutdown() == []  # idempotent


def test_stale_scratch_dirs_are_collected(tmp_path) -> None:
    import time

    from runic.actors.network import free_port

    stale = tmp_path / f"runic-{os.getuid()}-{free_port()}"
    fresh = tmp_path / f"runic-{os.getuid()}-{free_port()}"
    other = tmp_path / "unrelated"
    for d in (stale, fresh, other):
        d.mkdir()
    old = time.time() - 3600
    os.utime(stale, (old, old))
    os.utime(other, (old, old))
    assert remove_stale_scratch_dirs(tmp_path) == [stale]
    assert not stale.exists() and fresh.exists() and other.exists()
