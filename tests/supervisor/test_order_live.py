"""Children start in list order (each after the previous one is up) and stop in reverse order,
each within its shutdown (seconds, brutal_kill, infinity)."""

from __future__ import annotations

import pytest

from runic.supervisor import ChildSpec, Supervisor, SupervisorStartError

from .actors import Echo, FailingStart
from .helpers import all_gone, children, read_journal, running_pids, wait_until


def test_start_in_order_stop_in_reverse(actor_system, tmp_path) -> None:
    journal = str(tmp_path / "j")
    # a slow first child: the second must not start before the first is up
    specs = [
        ChildSpec("a", (Echo, {"journal": journal, "start_delay": 0.2})),
        ChildSpec("b", (Echo, {"journal": journal})),
        ChildSpec("c", (Echo, {"journal": journal})),
    ]
    sup = Supervisor.start_link(specs, system=actor_system)
    assert [line.split()[:2] for line in read_journal(journal)] == [["start", "a"], ["start", "b"], ["start", "c"]]
    pids = running_pids(sup)
    assert [c.id for c in sup.which_children()] == ["a", "b", "c"]
    sup.stop()
    lines = read_journal(journal)[3:]
    assert lines == ["stop c shutdown", "stop b shutdown", "stop a shutdown"]
    all_gone(list(pids.values()) + [sup.pid])


def test_failed_start_stops_started_children_in_reverse_and_fails(actor_system, tmp_path) -> None:
    journal = str(tmp_path / "j")
    specs = [
        ChildSpec("a", (Echo, {"journal": journal})),
        ChildSpec("b", (Echo, {"journal": journal})),
        ChildSpec("bad", (FailingStart, {"journal": journal, "fail": True})),
        ChildSpec("never", (Echo, {"journal": journal})),
    ]
    with pytest.raises(SupervisorStartError) as err:
        Supervisor.start_link(specs, system=actor_system, name="top")
    assert "'bad'" in str(err.value) and "refuses to start" in str(err.value)
    lines = read_journal(journal)
    assert [line.split()[:2] for line in lines] == [
        ["start", "a"], ["start", "b"], ["try", "bad"], ["stop", "b"], ["stop", "a"]
    ]
    # nothing of the tree is left (checked again by the fixture, by session)
    wait_until(lambda: len(actor_system.pids()) <= 3, what="only admin, logger and watchdog left")


def test_shutdown_timeout_then_kill(actor_system, tmp_path) -> None:
    journal = str(tmp_path / "j")
    specs = [
        ChildSpec("slow", (Echo, {"journal": journal, "stop_delay": 30}), shutdown=0.3),
        ChildSpec("brutal", (Echo, {"journal": journal, "stop_delay": 30}), shutdown="brutal_kill"),
        ChildSpec("patient", (Echo, {"journal": journal, "stop_delay": 0.3}), shutdown="infinity"),
    ]
    sup = Supervisor.start_link(specs, system=actor_system)
    pids = running_pids(sup)
    sup.stop(timeout=30)
    lines = read_journal(journal)
    # infinity waits for on_stop to finish; the brutal one never runs on_stop; the slow one is
    # killed inside its on_stop (so it never journals its stop)
    assert "stop patient shutdown" in lines
    assert not any(line.startswith("stop brutal") for line in lines)
    assert not any(line.startswith("stop slow") for line in lines)
    all_gone(list(pids.values()))


def test_terminate_child_honours_shutdown(actor_system, tmp_path) -> None:
    journal = str(tmp_path / "j")
    sup = Supervisor.start_link(
        [ChildSpec("slow", (Echo, {"journal": journal, "stop_delay": 30}), shutdown=0.2)],
        system=actor_system,
    )
    pid = children(sup)["slow"].pid
    sup.terminate_child("slow")
    all_gone([pid])
    info = children(sup)["slow"]
    assert info.pid is None and info.status == "stopped"
    sup.stop()
