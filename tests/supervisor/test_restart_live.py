"""Each strategy restarts the right children after a child dies by SIGKILL, os._exit or an exception."""

from __future__ import annotations

import os
import signal

import pytest

from runic.actors import procs
from runic.supervisor import ChildSpec, Supervisor

from .actors import Crash, Echo
from .helpers import all_gone, children, ping, read_journal, running_pids, wait_restarted, wait_until

IDS = ["a", "b", "c"]


def kill(system, sup: Supervisor, child_id: str, how: str) -> None:
    info = children(sup)[child_id]
    if how == "sigkill":
        os.kill(info.pid, signal.SIGKILL)
    elif how == "os_exit":
        system.tell(info.address, Crash("exit"))
    else:
        reply = system.ask(info.address, Crash("raise"), 10)
        # let it crash: the sender gets an ErrorReply naming the exception, no retry
        assert reply is not None and reply.type == "RuntimeError", reply
        assert "boom in" in reply.message


EXPECTED = {
    "one_for_one": {"b"},
    "one_for_all": {"a", "b", "c"},
    "rest_for_one": {"b", "c"},
}


@pytest.mark.parametrize("how", ["sigkill", "os_exit", "exception"])
@pytest.mark.parametrize("strategy", sorted(EXPECTED))
def test_strategy_restarts_the_right_children(actor_system, strategy: str, how: str) -> None:
    specs = [ChildSpec(i, (Echo, {})) for i in IDS]
    sup = Supervisor.start_link(specs, strategy=strategy, system=actor_system, max_restarts=10)
    before = running_pids(sup)
    kill(actor_system, sup, "b", how)
    wait_restarted(sup, "b", before["b"])
    after = running_pids(sup)
    changed = {i for i in IDS if after[i] != before[i]}
    assert changed == EXPECTED[strategy]
    # the replaced processes are really gone, the new ones answer
    all_gone([before[i] for i in changed])
    kids = children(sup)
    for i in IDS:
        assert ping(actor_system, kids[i].address).pid == after[i]
    assert kids["b"].restarts == 1
    for i in changed - {"b"}:
        assert kids[i].restarts == 1
    for i in set(IDS) - changed:
        assert kids[i].restarts == 0
    tree = sup.pids()
    sup.stop()
    all_gone(tree)


def test_exception_is_a_crash_not_a_retry(actor_system, tmp_path) -> None:
    """thespian would redeliver the message to the same process; a ChildActor exits instead."""
    journal = str(tmp_path / "journal")
    sup = Supervisor.start_link([ChildSpec("a", (Echo, {"journal": journal}))], system=actor_system)
    old = children(sup)["a"]
    reply = actor_system.ask(old.address, Crash("raise"), 10)
    assert reply.type == "RuntimeError"
    new = wait_restarted(sup, "a", old.pid)
    assert new.last_exit.startswith("crash: RuntimeError")
    wait_until(lambda: not os.path.exists(f"/proc/{old.pid}/stat") or procs.read_stat(old.pid) is None or procs.read_stat(old.pid).is_zombie,
               what="old process gone")
    # one start per process: the crashing message was not handled twice by a surviving process
    starts = [line for line in read_journal(journal) if line.startswith("start a ")]
    assert len(starts) == 2
    sup.stop()
