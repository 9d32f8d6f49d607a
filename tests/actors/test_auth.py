"""Every message that reaches an actor system's ports is authenticated before it is unpickled.

The attack (as measured on the unpatched system, where it ran code as the runner's user in
every process): a pickle whose ``__reduce__`` creates a marker directory, framed the way
thespian frames messages (``b"<len>>" + pickle``), sent to every listening TCP port of a
running system with a Runner tree — admin, logger, watchdog, top supervisor, store, runner,
worker host — and to the driver's own endpoint, once from this uid without the secret and once
from uid 65534 (a forked child that drops its privileges). Nothing may run, every sender's
connection must be dropped, and the tree must keep working.
"""

from __future__ import annotations

import os
import pickle
import socket
import time
from pathlib import Path

import pytest

import runic
from runic.actors import auth, procs
from runic.runner import Runner
from runic.store import MnesiaStore

from runic.supervisor import ChildSpec, Supervisor

from ..supervisor.actors import Echo, Ping, Pong
from ..waiting import wait_for
from . import actors

NOBODY = 65534


class Exploit:
    """Unpickling this creates ``path`` (as whoever unpickles it)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (os.mkdir, (self.path,))


def framed_exploit(marker: Path) -> bytes:
    payload = pickle.dumps(Exploit(str(marker)))
    return b"%d>" % len(payload) + payload


def listening_ports(pids: list[int]) -> dict[int, int]:
    """port -> pid for every TCP socket in LISTEN state held by one of ``pids``."""
    inodes: dict[str, int] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if len(parts) >= 10 and parts[3] == "0A":
                inodes[parts[9]] = int(parts[1].rsplit(":", 1)[1], 16)
    found: dict[int, int] = {}
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if link.startswith("socket:[") and link[8:-1] in inodes:
                found.setdefault(inodes[link[8:-1]], pid)
    return found


def send_and_wait_for_close(port: int, data: bytes, timeout: float = 10.0) -> str:
    """Send ``data`` to 127.0.0.1:``port``; return how the connection ended."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(4096)
            except ConnectionResetError:
                return "reset"
            except TimeoutError:
                return "open"
            if not chunk:
                return "closed"
        return "open"


def send_as_nobody(port: int, data: bytes, timeout: float = 10.0) -> str:
    """Like send_and_wait_for_close, from a forked child running as uid/gid 65534."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(r)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            assert os.getuid() == NOBODY
            os.write(w, send_and_wait_for_close(port, data, timeout).encode())
            code = 0
        except BaseException as exc:  # noqa: BLE001 - report and leave
            try:
                os.write(w, f"error: {type(exc).__name__}: {exc}".encode())
            except OSError:
                pass
        finally:
            os._exit(code)
    os.close(w)
    try:
        with os.fdopen(r, "rb") as fh:
            out = fh.read().decode()
    finally:
        os.waitpid(pid, 0)
    return out


def test_frames_are_sealed_and_verified() -> None:
    secret = auth.new_secret()
    auth.trust(secret)
    body = pickle.dumps(("hello", 1))
    sealed = b"".join(auth.seal(body, secret))
    assert bytes(auth.verify(sealed)) == body
    tampered = bytearray(sealed)
    tampered[-1] ^= 1
    assert auth.verify(bytes(tampered)) is None
    assert auth.verify(body) is None  # a bare pickle
    other = auth.new_secret()
    assert auth.verify(b"".join(auth.seal(body, other))) is None  # a key this process never trusted
    assert auth.verify(b"") is None


@pytest.mark.slow  # ~40 s: 9 ports x several roles; .ci/run runs the slow group
@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to send as another uid (setuid)")
def test_crafted_pickles_on_every_port_run_nothing(actor_system, tmp_path: Path, caplog) -> None:
    runner = Runner.start_link(name="attacked", store=MnesiaStore, store_opts={"dir": str(tmp_path / "data")},
                               system=actor_system, pool_size=1, timeout=60)
    try:
        wf = runic.workflow("auth", steps=[runic.step(actors.noisy_step)])
        runner.start_workflow("before", wf)
        runner.run("before", 1)
        assert runner.await_idle("before", timeout=60) == "idle"

        system_pids = actor_system.pids()
        ports = listening_ports(system_pids)
        titles = {pid: Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode() for pid in ports.values()}
        roles = " | ".join(sorted(titles.values()))
        for role in ("admin", "logger", "watchdog", "supervisor", "store", "runner", "host-0"):
            assert role in roles, f"no listening port found for the {role}: {roles}"
        driver_ports = listening_ports([os.getpid()])
        assert driver_ports, "the driver's own endpoint should listen too"

        tmp_path.chmod(0o777)  # so a marker could be created by anyone: proves nothing ran
        rejected_before = auth.rejected_count()
        outcomes = {}
        for n, port in enumerate(sorted(ports) + sorted(driver_ports)):
            outcomes[(port, "same uid")] = send_and_wait_for_close(port, framed_exploit(tmp_path / f"m{n}-uid0"))
            outcomes[(port, "nobody")] = send_as_nobody(port, framed_exploit(tmp_path / f"m{n}-nobody"))
            if port in driver_ports:
                runner.list_workflows()  # a request through thespian: the driver reads its endpoint now
        ran = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("m"))
        assert not ran, f"crafted pickles ran: {ran}"
        # actors close the connection at once; the driver's endpoint is read on its next request
        for (port, who), how in outcomes.items():
            if port not in driver_ports:
                assert how in ("closed", "reset"), f"port {port} ({who}) kept the connection: {how}"
        assert auth.rejected_count() >= rejected_before + 2, "the driver's endpoint did not reject"
        # each process says so (once a minute at most), and the driver hears it through the relay
        wait_for(lambda: {r.process for r in caplog.records if r.name == "runic.actors.auth"} >= set(ports.values()),
                 timeout=30)

        # the tree keeps working, and every process is still the one it was
        assert set(actor_system.pids()) >= set(system_pids)
        runner.start_workflow("after", wf)
        runner.run("after", 41)
        assert runner.await_idle("after", timeout=60) == "idle"
        assert runner.get_results("after", ["noisy_step"]) == {"noisy_step": 42}
    finally:
        runner.shutdown()


def test_attach_needs_the_secret(actor_system) -> None:
    from runic.actors import AttachError, attach

    secret_file = actor_system.scratch_dir / auth.SECRET_FILE
    assert secret_file.stat().st_mode & 0o777 == 0o600
    assert actor_system.scratch_dir.stat().st_mode & 0o777 == 0o700
    saved = secret_file.read_bytes()
    secret_file.unlink()
    try:
        with pytest.raises(AttachError, match="secret"):
            attach(actor_system.admin_port)
    finally:
        auth.write_secret(actor_system.scratch_dir, saved)
    joined = attach(actor_system.admin_port)
    try:
        assert set(joined.pids()) == set(actor_system.pids())
        sup = Supervisor.start_link([ChildSpec("x", (Echo, {}))], system=joined, name="via-attach")
        reply = joined.ask(sup.which_children()[0].address, Ping("p"), 10)
        assert isinstance(reply, Pong)
        sup.stop()
    finally:
        joined.detach()
    assert procs.is_alive(actor_system.admin_pid())


def test_a_given_secret_is_used_and_checked(tmp_path) -> None:
    from runic.actors import start_system
    from runic.errors import ArgumentError

    with pytest.raises(ArgumentError, match="32 bytes"):
        start_system(secret=b"short")
    secret = os.urandom(auth.SECRET_BYTES)
    with start_system(secret=secret, scratch_root=tmp_path) as system:
        assert (system.scratch_dir / auth.SECRET_FILE).read_bytes() == secret
        sup = Supervisor.start_link([ChildSpec("x", (Echo, {}))], system=system, name="given")
        assert isinstance(system.ask(sup.which_children()[0].address, Ping("p"), 10), Pong)
