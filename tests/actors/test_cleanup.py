"""Scratch directories of systems whose processes all died are recognised and removed at once."""

from __future__ import annotations

import os
import signal

from runic.actors import procs, remove_stale_scratch_dirs, start_system

from ..supervisor.test_lifecycle_live import _cleanup, run_driver


def test_a_killed_systems_scratch_dir_is_removed_by_the_next_start() -> None:
    # a system without guardian (watchdog=False) whose driver left, then every process SIGKILLed
    # (as a "kill everything" would): nobody is left to remove its scratch directory
    proc, info = run_driver("abandon")
    try:
        proc.communicate(timeout=30)
        pids = procs.session_pids(info["session"])
        assert pids and os.path.isdir(info["scratch"])
        procs.kill_pids(pids, signal.SIGKILL)
        assert not procs.wait_gone(pids, 10)
        removed = remove_stale_scratch_dirs()  # what every start_system does first
        assert str(info["scratch"]) in {str(p) for p in removed}
        assert not os.path.exists(info["scratch"])
    finally:
        _cleanup(info)


def test_a_live_systems_dir_is_kept(tmp_path) -> None:
    with start_system(scratch_root=tmp_path) as system:
        assert remove_stale_scratch_dirs(tmp_path) == []
        assert system.scratch_dir.is_dir()
