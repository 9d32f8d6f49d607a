"""Nested supervisors, restart intensity and escalation."""

from __future__ import annotations

import os
import signal

import pytest

from runic.supervisor import ChildSpec, Supervisor, SupervisorActor, SupervisorNotRunningError

from .actors import Crash, Echo
from .helpers import all_gone, children, ping, running_pids, wait_restarted, wait_until


def nested_spec(sup_id: str, kids: list[str], **opts) -> ChildSpec:
    return ChildSpec(
        sup_id,
        (SupervisorActor, {"children": [ChildSpec(k, (Echo, {})) for k in kids], "name": sup_id, **opts}),
        type="supervisor",
    )


def test_nested_tree_and_pids(actor_system) -> None:
    top = Supervisor.start_link(
        [ChildSpec("w", (Echo, {})), nested_spec("inner", ["x", "y"])],
        system=actor_system,
        name="top",
    )
    kids = children(top)
    assert kids["inner"].type == "supervisor" and kids["inner"].info["children"] == ["x", "y"]
    assert top.count_children().supervisors == 1 and top.count_children().workers == 1
    inner = Supervisor(actor_system, kids["inner"].address, kids["inner"].pid, "inner")
    inner_kids = children(inner)
    assert set(inner_kids) == {"x", "y"}
    expected = {top.pid, kids["w"].pid, kids["inner"].pid, inner_kids["x"].pid, inner_kids["y"].pid}
    assert set(top.pids()) == expected
    # a crash deep in the tree is handled by the inner supervisor only
    os.kill(inner_kids["x"].pid, signal.SIGKILL)
    wait_restarted(inner, "x", inner_kids["x"].pid)
    assert children(top)["inner"].restarts == 0
    tree = top.pids()
    top.stop()
    all_gone(tree)


def test_killing_a_nested_supervisor_takes_its_children_and_restarts_them(actor_system) -> None:
    top = Supervisor.start_link([nested_spec("inner", ["x", "y"])], system=actor_system)
    inner_info = children(top)["inner"]
    inner = Supervisor(actor_system, inner_info.address, inner_info.pid)
    old_kids = running_pids(inner)
    os.kill(inner_info.pid, signal.SIGKILL)
    # its children die with it (linked), then the whole subtree comes back
    all_gone(list(old_kids.values()))
    new_info = wait_restarted(top, "inner", inner_info.pid)
    new_inner = Supervisor(actor_system, new_info.address, new_info.pid)
    new_kids = running_pids(new_inner)
    assert not set(new_kids.values()) & set(old_kids.values())
    for c in new_inner.which_children():
        ping(actor_system, c.address)
    top.stop()


def test_intensity_exhaustion_stops_children_and_exits(actor_system) -> None:
    sup = Supervisor.start_link(
        [ChildSpec("a", (Echo, {})), ChildSpec("b", (Echo, {}))],
        system=actor_system,
        max_restarts=2,
        max_seconds=60,
    )
    pid_b = children(sup)["b"].pid
    tree = sup.pids()
    for _ in range(2):  # two restarts are within the limit
        old = children(sup)["a"].pid
        os.kill(old, signal.SIGKILL)
        wait_restarted(sup, "a", old)
    os.kill(children(sup)["a"].pid, signal.SIGKILL)  # the third one is too many
    wait_until(lambda: not sup.is_alive(), what="supervisor gave up")
    all_gone(tree + [pid_b])
    with pytest.raises(SupervisorNotRunningError):
        sup.which_children()


def test_intensity_exhaustion_escalates_to_the_parent(actor_system) -> None:
    top = Supervisor.start_link(
        [ChildSpec("w", (Echo, {})), nested_spec("inner", ["x"], max_restarts=1, max_seconds=60)],
        system=actor_system,
        max_restarts=5,
    )
    w_pid = children(top)["w"].pid
    inner_info = children(top)["inner"]
    inner = Supervisor(actor_system, inner_info.address, inner_info.pid)
    x = children(inner)["x"]
    actor_system.ask(x.address, Crash("raise"), 10)
    x2 = wait_restarted(inner, "x", x.pid)
    actor_system.ask(x2.address, Crash("raise"), 10)  # 2 restarts in the window: inner gives up
    new_inner = wait_restarted(top, "inner", inner_info.pid)
    assert new_inner.restarts == 1 and new_inner.last_exit.startswith("crash: RestartIntensityExceeded")
    assert children(top)["w"].pid == w_pid  # one_for_one: the sibling is untouched
    fresh = Supervisor(actor_system, new_inner.address, new_inner.pid)
    assert children(fresh)["x"].restarts == 0  # a fresh inner supervisor, fresh counters
    top.stop()
