"""Logs and output of every process of an actor system reach the process that started it."""

from __future__ import annotations

import logging
import multiprocessing
import os
import socket
from pathlib import Path

import pytest

import runic
from runic.actors import add_persistent_log, start_system
from runic.runner import Runner
from runic.store import MnesiaStore
from runic.supervisor import ChildSpec, Supervisor

from ..waiting import wait_for
from . import actors


def _start_runner(tmp_path: Path, **kw) -> Runner:
    return Runner.start_link(name="relay", store=MnesiaStore, store_opts={"dir": str(tmp_path / "data")},
                             pool_size=1, timeout=60, **kw)


def test_step_logs_and_prints_reach_the_driver(runic_actor_system, caplog, capsys, tmp_path) -> None:
    caplog.set_level(logging.INFO)  # before the system starts: its level follows the driver's
    runner = _start_runner(tmp_path)
    host_pids = set(runic_actor_system.pids())
    wf = runic.workflow("relay", steps=[runic.step(actors.noisy_step)])
    runner.start_workflow("w", wf)
    runner.run("w", 7)
    assert runner.await_idle("w", timeout=60) == "idle"

    def seen() -> list[logging.LogRecord]:
        return [r for r in caplog.records if r.name == "tests.actors.steps"]

    wait_for(lambda: len(seen()) >= 2, timeout=30)
    by_level = {r.levelname: r for r in seen()}
    assert by_level["INFO"].getMessage() == "info from the step, x=7"
    assert by_level["WARNING"].getMessage() == "warning from the step, x=7"
    assert by_level["INFO"].process in host_pids and by_level["INFO"].process != os.getpid()
    out_err = {"out": "", "err": ""}

    def printed() -> bool:
        captured = capsys.readouterr()
        out_err["out"] += captured.out
        out_err["err"] += captured.err
        return "stdout from the step, x=7" in out_err["out"] and "stderr from the step, x=7" in out_err["err"]

    wait_for(printed, timeout=30)
    assert "stderr from the step" not in out_err["out"]
    # runic's own records from the store actor come through too, under their own names
    assert any(r.name == "runic.store" and r.process != os.getpid() for r in caplog.records)
    runner.shutdown()


def test_level_follows_runic_log_level_and_driver_logger_levels(runic_actor_system, caplog, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("RUNIC_LOG_LEVEL", "WARNING")
    caplog.set_level(logging.DEBUG)
    logging.getLogger("tests.actors.muted").setLevel(logging.ERROR)
    try:
        runner = _start_runner(tmp_path)
        wf = runic.workflow("relay", steps=[runic.step(actors.noisy_step)])
        runner.start_workflow("w", wf)
        runner.run("w", 1)
        runner.await_idle("w", timeout=60)
        wait_for(lambda: [r for r in caplog.records if r.name == "tests.actors.steps"], timeout=30)
        levels = {r.levelname for r in caplog.records if r.name == "tests.actors.steps"}
        assert levels == {"WARNING"}, levels  # INFO filtered at the source by RUNIC_LOG_LEVEL
        runner.shutdown()
    finally:
        logging.getLogger("tests.actors.muted").setLevel(logging.NOTSET)


def test_nothing_is_lost_at_shutdown(caplog, capsys) -> None:
    caplog.set_level(logging.WARNING)
    lines = 200
    with start_system() as system:
        sup = Supervisor.start_link(
            [ChildSpec("talker", (actors.Talker, {"stop_lines": lines}), shutdown=30.0)],
            system=system, name="relay",
        )
        talker = sup.which_children()[0]
        assert system.ask(talker.address, actors.Say("burst", count=lines), 30) == "said"
    # the system is gone: everything it sent has been re-emitted
    messages = [r.getMessage() for r in caplog.records if r.name == "tests.actors.talker"]
    assert [m for m in messages if m.startswith("burst")] == [f"burst #{i}" for i in range(lines)]
    assert [m for m in messages if m.startswith("stop record")] == [f"stop record {i} of talker" for i in range(lines)]
    captured = capsys.readouterr()
    assert [ln for ln in captured.out.splitlines() if ln.startswith("stop line")] == [
        f"stop line {i} of talker" for i in range(lines)
    ]
    assert [ln for ln in captured.err.splitlines() if ln.startswith("stop err line")] == [
        f"stop err line {i} of talker" for i in range(lines)
    ]
    assert sum(1 for ln in captured.out.splitlines() if ln.startswith("burst printed")) == lines


def test_relay_is_private_to_the_user(actor_system) -> None:
    path = actor_system.relay.path
    assert path.stat().st_mode & 0o777 == 0o600
    if os.geteuid() != 0:
        pytest.skip("needs root to try from another uid")
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            try:
                s.connect(str(path))
                os.write(w, b"connected")
            except OSError as exc:
                os.write(w, type(exc).__name__.encode())
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as fh:
        result = fh.read()
    os.waitpid(pid, 0)
    assert result == b"PermissionError"


def _append_records(path: str, n: int, tag: str) -> None:
    logger = logging.getLogger(f"tests.persist.{tag}")
    logger.setLevel(logging.INFO)
    logger.propagate = True
    handler = add_persistent_log(path)
    try:
        for i in range(n):
            logger.warning("%s record %d %s", tag, i, "x" * 200)
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()


def test_persistent_log_takes_appends_from_many_processes(tmp_path) -> None:
    path = str(tmp_path / "runic.log")
    ctx = multiprocessing.get_context("fork")
    workers = [ctx.Process(target=_append_records, args=(path, 300, f"p{i}")) for i in range(4)]
    for p in workers:
        p.start()
    for p in workers:
        p.join(60)
        assert p.exitcode == 0
    lines = Path(path).read_text().splitlines()
    assert len(lines) == 1200
    for i in range(4):
        mine = [ln for ln in lines if f" p{i} record " in ln]
        assert [int(ln.split(" record ")[1].split()[0]) for ln in mine] == list(range(300))
    assert all(ln.endswith("x" * 200) for ln in lines)  # no line was cut or interleaved
    assert Path(path).stat().st_mode & 0o777 == 0o600


def test_persistent_log_in_an_actor_survives_the_system(tmp_path) -> None:
    path = tmp_path / "kept.log"
    with start_system() as system:
        sup = Supervisor.start_link(
            [ChildSpec("keeper", (actors.Talker, {"persistent_log": str(path)}))], system=system, name="keep",
        )
        talker = sup.which_children()[0]
        assert system.ask(talker.address, actors.Say("kept", count=3), 30) == "said"
        scratch = system.scratch_dir
    assert not scratch.exists()
    text = path.read_text()
    assert "talker keeper started" in text
    assert [ln.split(": ", 1)[1] for ln in text.splitlines() if ": kept #" in ln] == ["kept #0", "kept #1", "kept #2"]


def test_an_exec_started_process_can_join_the_relay(caplog, capsys) -> None:
    import subprocess
    import sys

    caplog.set_level(logging.WARNING)
    code = ("import logging; from runic.actors import relay_this_process; "
            "assert relay_this_process(); logging.getLogger('tests.exec').warning('from exec %d', 1); "
            "print('exec printed')")
    with start_system() as system:
        env = dict(os.environ)  # what an actor's exec'd child inherits
        assert env["RUNIC_SCRATCH_DIR"] == str(system.scratch_dir)
        subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=60,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert [r.getMessage() for r in caplog.records if r.name == "tests.exec"] == ["from exec 1"]
    assert "exec printed" in capsys.readouterr().out
    assert subprocess.run([sys.executable, "-c", "from runic.actors import relay_this_process as r; "
                           "import sys; sys.exit(0 if r() is False else 1)"],
                          env={k: v for k, v in os.environ.items() if k != "RUNIC_SCRATCH_DIR"},
                          timeout=60).returncode == 0


def test_a_non_propagating_logger_still_reaches_the_driver(caplog) -> None:
    audit = logging.getLogger("tests.actors.audit")
    seen: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(f"{record.process}:{record.getMessage()}")

    handler = Keep()
    audit.addHandler(handler)
    audit.propagate = False
    try:
        with start_system() as system:
            sup = Supervisor.start_link([ChildSpec("auditor", (actors.Auditor, {}))], system=system, name="audit")
            assert system.ask(sup.which_children()[0].address, actors.Say("audited"), 30) == "said"
        # handled once, by the driver's handler, for the record logged in the actor process
        assert [s.split(":", 1)[1] for s in seen] == ["audited"]
        assert int(seen[0].split(":")[0]) != os.getpid()
    finally:
        audit.removeHandler(handler)
        audit.propagate = True


def test_a_huge_record_arrives_cut_not_lost(caplog) -> None:
    caplog.set_level(logging.WARNING)
    with start_system() as system:
        sup = Supervisor.start_link([ChildSpec("talker", (actors.Talker, {}))], system=system, name="huge")
        assert system.ask(sup.which_children()[0].address, actors.Say("y" * 200_000), 30) == "said"
    [record] = [r for r in caplog.records if r.name == "tests.actors.talker" and r.getMessage().startswith("yyy")]
    assert record.getMessage().endswith("[... cut by the log relay]")
    assert 10_000 < len(record.getMessage()) < 20_000
