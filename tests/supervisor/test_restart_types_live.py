"""permanent / transient / temporary, with OTP's meaning."""

from __future__ import annotations

import os
import signal

from runic.supervisor import ChildSpec, Supervisor

from .actors import Crash, Echo
from .helpers import children, ping, running_pids, wait_restarted, wait_until


def _exited(sup: Supervisor, child_id: str) -> bool:
    c = children(sup).get(child_id)
    return c is None or c.status == "stopped"


def test_transient_not_restarted_after_normal_exit(actor_system) -> None:
    sup = Supervisor.start_link(
        [ChildSpec("t", (Echo, {}), restart="transient"), ChildSpec("other", (Echo, {}))],
        strategy="one_for_all",
        system=actor_system,
    )
    before = running_pids(sup)
    actor_system.tell(children(sup)["t"].address, Crash("normal"))
    wait_until(lambda: _exited(sup, "t"), what="transient child exited")
    info = children(sup)["t"]
    assert info.pid is None and info.last_exit == "normal" and info.restarts == 0
    # a normal exit is not a restart: the sibling of one_for_all is untouched
    assert children(sup)["other"].pid == before["other"]
    assert sup.count_children().active == 1
    # its spec is kept: it can be restarted by hand
    started = sup.restart_child("t")
    assert ping(actor_system, started.address).pid == started.pid
    sup.stop()


def test_transient_restarted_after_crash(actor_system) -> None:
    sup = Supervisor.start_link([ChildSpec("t", (Echo, {}), restart="transient")], system=actor_system)
    old = children(sup)["t"].pid
    os.kill(old, signal.SIGKILL)
    new = wait_restarted(sup, "t", old)
    assert new.restarts == 1
    actor_system.ask(new.address, Crash("raise"), 10)
    wait_restarted(sup, "t", new.pid)
    sup.stop()


def test_permanent_restarted_even_after_normal_exit(actor_system) -> None:
    sup = Supervisor.start_link([ChildSpec("p", (Echo, {}))], system=actor_system)
    old = children(sup)["p"].pid
    actor_system.tell(children(sup)["p"].address, Crash("normal"))
    new = wait_restarted(sup, "p", old)
    assert new.last_exit == "normal"
    sup.stop()


def test_temporary_never_restarted_and_removed(actor_system) -> None:
    sup = Supervisor.start_link(
        [ChildSpec("tmp", (Echo, {}), restart="temporary"), ChildSpec("keep", (Echo, {}))],
        system=actor_system,
    )
    os.kill(children(sup)["tmp"].pid, signal.SIGKILL)
    wait_until(lambda: "tmp" not in children(sup), what="temporary child removed")
    assert list(children(sup)) == ["keep"]
    sup.stop()


def test_temporary_sibling_dropped_by_one_for_all(actor_system) -> None:
    sup = Supervisor.start_link(
        [ChildSpec("a", (Echo, {})), ChildSpec("tmp", (Echo, {}), restart="temporary"), ChildSpec("c", (Echo, {}))],
        strategy="one_for_all",
        system=actor_system,
    )
    before = running_pids(sup)
    os.kill(before["a"], signal.SIGKILL)
    wait_restarted(sup, "a", before["a"])
    after = running_pids(sup)
    assert list(after) == ["a", "c"]
    assert after["c"] != before["c"]
    sup.stop()
