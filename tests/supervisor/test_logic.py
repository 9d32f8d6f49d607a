"""Pure logic, no processes: strategies, restart types, intensity window, specs, messages,
and the operation runner that sequences the supervisor's work."""

from __future__ import annotations

import pickle

import pytest

from runic.errors import RunicError
from runic.supervisor import (
    ChildActor,
    ChildSpec,
    InvalidChildSpecError,
    RestartIntensity,
    SupervisorActor,
    SupervisorError,
    plan_restart,
    should_restart,
    to_child_spec,
)
from runic.supervisor import messages as m
from runic.supervisor.errors import ChildNotFoundError, RemoteError
from runic.supervisor.spec import resolve_class, shutdown_timeout
from runic.supervisor.strategy import is_normal_exit
from runic.supervisor.waits import NOTHING, OpRunner, Wait

from .actors import Echo, StoreActor

ORDER = ["a", "b", "c", "d"]


# -- strategies -----------------------------------------------------------------------------


def test_one_for_one_restarts_only_the_failed_child() -> None:
    p = plan_restart("one_for_one", ORDER, "b", running={"a", "c", "d"})
    assert (p.stop, p.drop, p.start) == ((), (), ("b",))


def test_one_for_all_stops_the_rest_in_reverse_and_starts_all_in_order() -> None:
    p = plan_restart("one_for_all", ORDER, "b", running={"a", "c", "d"})
    assert p.stop == ("d", "c", "a")
    assert p.start == ("a", "b", "c", "d")


def test_rest_for_one_covers_the_failed_child_and_the_later_ones() -> None:
    p = plan_restart("rest_for_one", ORDER, "b", running={"a", "c", "d"})
    assert p.stop == ("d", "c")
    assert p.start == ("b", "c", "d")
    last = plan_restart("rest_for_one", ORDER, "d", running={"a", "b", "c"})
    assert (last.stop, last.start) == ((), ("d",))


def test_stopped_siblings_are_not_stopped_again_but_are_started() -> None:
    p = plan_restart("one_for_all", ORDER, "a", running={"c"})
    assert p.stop == ("c",)
    assert p.start == ("a", "b", "c", "d")


def test_temporary_siblings_are_stopped_and_dropped() -> None:
    p = plan_restart("one_for_all", ORDER, "a", running={"b", "c", "d"}, temporary={"c"})
    assert p.stop == ("d", "c", "b")
    assert p.drop == ("c",)
    assert p.start == ("a", "b", "d")


def test_unknown_strategy_and_child() -> None:
    with pytest.raises(ValueError, match="one_for_one"):
        plan_restart("simple_one_for_one", ORDER, "a", running=())
    with pytest.raises(ValueError, match="'zz'"):
        plan_restart("one_for_one", ORDER, "zz", running=())


@pytest.mark.parametrize(
    "restart,reason,expected",
    [
        ("permanent", "normal", True),
        ("permanent", "killed", True),
        ("transient", "normal", False),
        ("transient", "shutdown", False),
        ("transient", "shutdown: bye", False),
        ("transient", "killed", True),
        ("transient", "crash: RuntimeError: x", True),
        ("transient", None, True),
        ("temporary", "killed", False),
        ("temporary", "normal", False),
    ],
)
def test_should_restart(restart: str, reason: str | None, expected: bool) -> None:
    assert should_restart(restart, reason) is expected


def test_normal_reasons() -> None:
    assert is_normal_exit("normal") and is_normal_exit("shutdown") and is_normal_exit("shutdown:x")
    assert not is_normal_exit("killed") and not is_normal_exit(None) and not is_normal_exit("shutdownx")


# -- intensity -------------------------------------------------------------------------------


def test_intensity_allows_max_restarts_in_window() -> None:
    it = RestartIntensity(3, 5)
    assert [it.add(now=t) for t in (0.0, 1.0, 2.0)] == [True, True, True]
    assert it.add(now=3.0) is False  # the 4th within 5 s


def test_intensity_window_slides() -> None:
    it = RestartIntensity(2, 5)
    assert it.add(now=0.0) and it.add(now=1.0)
    assert it.add(now=5.0)  # the restart at 0.0 has left the window
    assert it.count(now=5.0) == 2
    assert it.add(now=6.0)  # 1.0 left too
    assert not it.add(now=6.5)


def test_intensity_zero_means_never_restart() -> None:
    assert RestartIntensity(0, 5).add(now=0.0) is False


def test_intensity_uses_its_clock() -> None:
    now = [100.0]
    it = RestartIntensity(1, 1, clock=lambda: now[0])
    assert it.add()
    now[0] = 100.5
    assert not it.add()
    now[0] = 102.0
    assert it.add()


@pytest.mark.parametrize("args", [(-1, 5), (1.5, 5), (3, 0), (3, -1), (True, 5)])
def test_intensity_rejects_bad_arguments(args) -> None:
    with pytest.raises(ValueError):
        RestartIntensity(*args)


# -- specs -------------------------------------------------------------------------------------


def test_child_spec_defaults() -> None:
    s = ChildSpec("a", (Echo, {"x": 1}))
    assert (s.restart, s.shutdown, s.type, s.opts) == ("permanent", 5.0, "worker", {"x": 1})
    assert ChildSpec("s", (SupervisorActor, {}), type="supervisor").shutdown == "infinity"
    assert shutdown_timeout(s) == 5.0
    assert shutdown_timeout(s.replace(shutdown="brutal_kill")) == 0.0
    assert shutdown_timeout(s.replace(shutdown="infinity")) is None


@pytest.mark.parametrize(
    "kwargs",
    [
        {"id": "", "start": (Echo, {})},
        {"id": 3, "start": (Echo, {})},
        {"id": "a", "start": (Echo,)},
        {"id": "a", "start": (42, {})},
        {"id": "a", "start": (Echo, [1])},
        {"id": "a", "start": (Echo, {}), "restart": "sometimes"},
        {"id": "a", "start": (Echo, {}), "shutdown": -1},
        {"id": "a", "start": (Echo, {}), "shutdown": "never"},
        {"id": "a", "start": (Echo, {}), "type": "manager"},
    ],
)
def test_child_spec_validation(kwargs) -> None:
    with pytest.raises(InvalidChildSpecError) as err:
        ChildSpec(**kwargs)
    assert isinstance(err.value, SupervisorError) and isinstance(err.value, RunicError)


def test_to_child_spec_resolves_through_child_spec() -> None:
    spec = to_child_spec((StoreActor, {"runner_name": "app"}))
    assert spec.id == "app.Store" and spec.start == (StoreActor, {"runner_name": "app"})
    default = to_child_spec((Echo, {}))
    assert default.id == "Echo" and default.start[0] is Echo
    assert to_child_spec((Echo, {"id": "e1"})).id == "e1"
    given = ChildSpec("x", (Echo, {}))
    assert to_child_spec(given) is given
    assert to_child_spec(("tests.supervisor.actors:Echo", {"id": "s"})).start[0] is Echo
    nested = to_child_spec((SupervisorActor, {"name": "inner", "children": []}))
    assert (nested.id, nested.type, nested.shutdown) == ("inner", "supervisor", "infinity")


def test_to_child_spec_errors_say_what_to_do() -> None:
    with pytest.raises(InvalidChildSpecError, match="child_spec"):
        to_child_spec((object, {}))
    with pytest.raises(InvalidChildSpecError, match="ChildSpec or"):
        to_child_spec(42)
    with pytest.raises(InvalidChildSpecError, match="importable"):
        resolve_class("tests.supervisor.actors:Nope")
    assert resolve_class("tests.supervisor.actors.Echo") is Echo
    assert issubclass(SupervisorActor, ChildActor)


def test_specs_and_messages_pickle() -> None:
    spec = ChildSpec("a", ("tests.supervisor.actors:Echo", {"k": [1, 2]}), restart="transient", shutdown=1)
    back = pickle.loads(pickle.dumps(spec))
    assert back == spec and back.opts == {"k": [1, 2]}
    for msg in [
        m.WhichChildren("r"), m.CountChildren(), m.StartChild(spec, "r"), m.RestartChild("a"),
        m.TerminateChild("a"), m.DeleteChild("a"), m.StopSupervisor(), m.Done("r"),
        m.Children([m.ChildInfo("a", 1, "worker", 0, None, {"x": 1})]), m.ChildCounts(1, 1, 0, 1),
        m.ChildStarted("a", None, 1), m.ErrorReply("T", "text"), m.ChildInit("a", {}),
        m.ChildReady("a", 1), m.ChildShutdown(), m.ChildExiting("a", "normal"), m.ExitAck("a"),
        m.ChildCrashed("a", "T", "x"),
    ]:
        assert pickle.loads(pickle.dumps(msg)) == msg


def test_error_reply_round_trip() -> None:
    reply = m.ErrorReply.from_exception(ChildNotFoundError("no child 'x'"), ref=7)
    assert reply.type == "runic.supervisor.errors.ChildNotFoundError" and reply.ref == 7
    exc = reply.to_exception()
    assert isinstance(exc, ChildNotFoundError) and isinstance(exc, LookupError)
    # errors cross processes as their own class: built-ins and runic's own are rebuilt
    other = m.ErrorReply.from_exception(KeyError("k")).to_exception()
    assert type(other) is KeyError and "k" in str(other)
    # a class this process cannot rebuild (not runic's, not built in, not registered) is named
    foreign = m.ErrorReply("somepkg.errors.Declined", "card expired").to_exception()
    assert isinstance(foreign, RemoteError) and "somepkg.errors.Declined: card expired" in str(foreign)


# -- the operation runner ---------------------------------------------------------------------


class FakeActor:
    """Drives an OpRunner the way SupervisorActor does, with events fed by hand."""

    def __init__(self) -> None:
        self.log: list[str] = []
        self.timers: list[tuple[float, int]] = []
        self.exited: set[str] = set()
        self.runner = OpRunner(self.make_op, self.check, lambda s, t: self.timers.append((s, t)))

    def make_op(self, job):
        if job == "skip":
            return None
        return self.op(job)

    def op(self, name):
        self.log.append(f"{name}:begin")
        res = yield Wait("start", name, 1.0)
        self.log.append(f"{name}:{res[0]}")
        res = yield Wait("exit", name, None)
        self.log.append(f"{name}:{res[0]}")

    def check(self, wait: Wait):
        if wait.kind == "exit" and wait.child_id in self.exited:
            return ("exited",)
        return NOTHING


def test_op_runner_runs_one_operation_at_a_time() -> None:
    f = FakeActor()
    f.runner.enqueue("x")
    f.runner.enqueue("skip")
    f.runner.enqueue("y")
    assert f.log == ["x:begin"] and f.runner.wait.child_id == "x"
    f.exited.add("x")  # the exit wait will be satisfied at once
    f.runner.resume(("ready",))
    assert f.log == ["x:begin", "x:ready", "x:exited", "y:begin"]
    assert f.runner.busy and f.runner.wait.child_id == "y"


def test_op_runner_timeouts_match_their_wait_only() -> None:
    f = FakeActor()
    f.runner.enqueue("x")
    (seconds, token), = f.timers
    assert seconds == 1.0
    f.runner.timeout(token + 100)  # a stale timer: ignored
    assert f.log == ["x:begin"]
    f.runner.timeout(token)
    assert f.log == ["x:begin", "x:timeout"]
    assert len(f.timers) == 1  # the exit wait has no timeout
    f.runner.timeout(token)  # the same timer again: the wait has moved on
    assert f.log == ["x:begin", "x:timeout"]


def test_op_runner_front_of_queue_and_drain() -> None:
    f = FakeActor()
    f.runner.enqueue("x")
    f.runner.enqueue("y")
    f.runner.enqueue("z", front=True)
    assert list(f.runner.queued()) == ["z", "y"]
    assert f.runner.drain_queue() == ["z", "y"]
    assert list(f.runner.queued()) == []
