"""which_children / count_children / start_child / terminate_child / restart_child /
delete_child / stop, from the driver and from inside an actor."""

from __future__ import annotations

import pytest

from runic.supervisor import (
    ChildAlreadyPresentError,
    ChildNotFoundError,
    ChildRunningError,
    ChildSpec,
    ChildStartError,
    Supervisor,
    SupervisorNotRunningError,
)
from runic.supervisor.messages import ChildStarted, Done, ErrorReply, StartChild, TerminateChild

from .actors import AskSupervisor, Echo, FailingStart, RunnerActor
from .helpers import all_gone, children, ping, read_journal, wait_until


def test_dynamic_children(actor_system) -> None:
    with Supervisor.start_link([], system=actor_system, name="dyn") as sup:
        assert sup.which_children() == []
        started = sup.start_child(ChildSpec("w1", (Echo, {}), restart="transient"))
        assert isinstance(started, ChildStarted) and started.id == "w1" and started.pid > 0
        assert ping(actor_system, started.address).pid == started.pid
        sup.start_child((Echo, {"id": "w2"}))
        assert [c.id for c in sup.which_children()] == ["w1", "w2"]
        counts = sup.count_children()
        assert (counts.specs, counts.active, counts.workers, counts.supervisors) == (2, 2, 2, 0)

        with pytest.raises(ChildAlreadyPresentError):
            sup.start_child(ChildSpec("w1", (Echo, {})))
        with pytest.raises(ChildRunningError):
            sup.delete_child("w1")
        with pytest.raises(ChildRunningError):
            sup.restart_child("w1")

        sup.terminate_child("w1")
        all_gone([started.pid])
        info = children(sup)["w1"]
        assert info.pid is None and info.address is None and info.status == "stopped"
        assert sup.count_children().active == 1
        again = sup.restart_child("w1")
        assert again.pid != started.pid
        sup.terminate_child("w1")
        sup.delete_child("w1")
        assert [c.id for c in sup.which_children()] == ["w2"]

        with pytest.raises(ChildNotFoundError) as err:
            sup.terminate_child("nope")
        assert "'nope'" in str(err.value) and "which_children" in str(err.value)
        with pytest.raises(ChildStartError) as err:
            sup.start_child(ChildSpec("bad", (FailingStart, {"fail": True})))
        assert "refuses to start" in str(err.value)
        assert "bad" not in children(sup)  # a failed start_child keeps no spec
        tree = sup.pids()
    all_gone(tree)
    with pytest.raises(SupervisorNotRunningError):
        sup.which_children()


def test_supervisor_api_from_inside_an_actor(actor_system) -> None:
    with Supervisor.start_link([(RunnerActor, {"name": "app"})], system=actor_system) as sup:
        runner = children(sup)["app.Runner"]
        reply = actor_system.ask(
            runner.address, AskSupervisor(sup.address, StartChild(ChildSpec("w", (Echo, {})), ref="r1")), 10
        )
        assert isinstance(reply, ChildStarted) and reply.ref == "r1" and reply.id == "w"
        assert ping(actor_system, reply.address).pid == reply.pid
        reply = actor_system.ask(runner.address, AskSupervisor(sup.address, TerminateChild("zz", ref="r2")), 10)
        assert isinstance(reply, ErrorReply) and reply.ref == "r2"
        assert reply.type == "runic.supervisor.errors.ChildNotFoundError"
        reply = actor_system.ask(runner.address, AskSupervisor(sup.address, TerminateChild("w", ref="r3")), 10)
        assert isinstance(reply, Done) and reply.ref == "r3"
        wait_until(lambda: children(sup)["w"].status == "stopped", what="w stopped")


def test_stop_is_idempotent_and_leaves_nothing(actor_system) -> None:
    sup = Supervisor.start_link([ChildSpec(f"c{i}", (Echo, {})) for i in range(4)], system=actor_system)
    tree = sup.pids()
    assert len(tree) == 5
    sup.stop()
    sup.stop()
    all_gone(tree)
    assert sup.pids() == []


def test_system_shutdown_stops_trees_in_order(tmp_path) -> None:
    """Shutting the actor system down stops the supervisors started on it, children in reverse."""
    from runic.actors import start_system

    journal = str(tmp_path / "j")
    handle = start_system()
    try:
        Supervisor.start_link(
            [ChildSpec(i, (Echo, {"journal": journal})) for i in "abc"], system=handle, name="s"
        )
    finally:
        killed = handle.shutdown()
    assert killed == []
    assert handle.pids() == []
    stops = [line for line in read_journal(journal) if line.startswith("stop")]
    assert [s.split()[1] for s in stops] == ["c", "b", "a"]


@pytest.mark.parametrize(
    "spec,expected",
    [
        (ChildSpec("ctor", ("tests.supervisor.actors:BadInit", {})), "exited during its start"),
        (ChildSpec("plain", ("tests.supervisor.actors:PlainActor", {})), "not a runic.supervisor.ChildActor"),
        (ChildSpec("gone", ("tests.supervisor.actors:DoesNotExist", {})), "cannot import"),
        (ChildSpec("slow", (Echo, {"start_delay": 30})), "did not answer its start within"),
    ],
)
def test_start_child_failures_are_reported(actor_system, spec, expected) -> None:
    with Supervisor.start_link([], system=actor_system, start_timeout=0.5) as sup:
        before = set(actor_system.pids())
        with pytest.raises(ChildStartError) as err:
            sup.start_child(spec)
        assert expected in str(err.value) and repr(spec.id) in str(err.value)
        assert sup.which_children() == []
        # whatever was forked for the failed child is gone
        wait_until(lambda: set(actor_system.pids()) <= before, what="failed child gone")


def test_default_system_is_the_fixture_system(actor_system) -> None:
    with Supervisor.start_link([ChildSpec("a", (Echo, {}))]) as sup:
        assert sup.system is actor_system
        assert sup.pid in actor_system.pids()
