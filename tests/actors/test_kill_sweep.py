"""Ctrl-C or SIGKILL of the driver at any moment leaves no process and no scratch directory.

Each trial runs ``tests.actors.sweep_driver`` (start a system, start a Runner, run workflows,
shut down, in a loop) as a subprocess tagged with a unique environment variable, sends it
SIGINT or SIGKILL (and now and then SIGTERM) after a random delay, then requires, within :data:`DEADLINE` seconds, that
every process carrying the tag is gone (the driver, its guardian, thespian's admin and logger,
every actor) and that the trial's scratch root holds no directory. A SIGINTed driver must also
exit by itself within :data:`SIGINT_EXIT` seconds (Ctrl-C never blocks for long).

The default suite runs :data:`TRIALS` trials; ``-m slow`` runs a larger sweep.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from runic.actors import procs

ROOT = Path(__file__).resolve().parents[2]
TRIALS = 20
SLOW_TRIALS = 120
PARALLEL = 4
DEADLINE = 20.0
SIGINT_EXIT = 10.0
TAG_ENV = "RUNIC_SWEEP_TAG"
SIGNALS = [signal.SIGINT, signal.SIGKILL, signal.SIGINT, signal.SIGKILL, signal.SIGTERM]


@dataclass
class Trial:
    sig: int
    delay: float
    phase: str = "?"
    driver_exit_s: float | None = None
    clean_s: float | None = None
    leftovers: list[int] = field(default_factory=list)
    dirs_left: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def tagged(tag: str) -> list[int]:
    needle = f"{TAG_ENV}={tag}".encode()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as fh:
                env = fh.read()
        except OSError:
            continue
        if needle in env.split(b"\0") and procs.is_alive(int(name)):
            found.append(int(name))
    return sorted(found)


def run_trial(base: Path, sig: int, delay: float) -> Trial:
    trial = Trial(sig, delay)
    tag = uuid.uuid4().hex
    root = base / f"scratch-{tag[:8]}"
    root.mkdir()
    data = base / f"data-{tag[:8]}"
    env = dict(os.environ, **{TAG_ENV: tag, "PYTHONPATH": str(ROOT)})
    proc = subprocess.Popen([sys.executable, "-m", "tests.actors.sweep_driver", str(root), str(data)],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        time.sleep(delay)
        proc.send_signal(sig)
        t0 = time.monotonic()
        try:
            proc.wait(SIGINT_EXIT if sig == signal.SIGINT else DEADLINE)
            trial.driver_exit_s = time.monotonic() - t0
        except subprocess.TimeoutExpired:
            trial.problems.append(f"driver still running {SIGINT_EXIT} s after {signal.Signals(sig).name}")
            proc.kill()
            proc.wait(5)
        out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
        phases = [line.split()[1] for line in out.splitlines() if line.startswith("phase ")]
        trial.phase = phases[-1] if phases else "boot"
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline:
            trial.leftovers = tagged(tag)
            trial.dirs_left = sorted(p.name for p in root.iterdir())
            if not trial.leftovers and not trial.dirs_left:
                trial.clean_s = time.monotonic() - t0
                break
            time.sleep(0.1)
        if trial.leftovers:
            trial.problems.append(f"processes left after {DEADLINE} s: {trial.leftovers}")
        if trial.dirs_left:
            trial.problems.append(f"scratch directories left after {DEADLINE} s: {trial.dirs_left}")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        if proc.stdout:
            proc.stdout.close()
        procs.kill_pids(tagged(tag), signal.SIGKILL)  # never leave anything, even when failing
    return trial


def sweep(base: Path, trials: int, seed: int) -> list[Trial]:
    rng = random.Random(seed)
    plan = [(rng.choice(SIGNALS), rng.uniform(0.2, 2.5)) for _ in range(trials)]
    with ThreadPoolExecutor(PARALLEL) as pool:
        results = list(pool.map(lambda p: run_trial(base, *p), plan))
    counts = Counter((signal.Signals(t.sig).name, t.phase) for t in results)
    exits = sorted(t.driver_exit_s for t in results if t.sig == signal.SIGINT and t.driver_exit_s is not None)
    print(f"\nkill sweep (seed {seed}): {trials} trials; kills by signal and phase: {dict(sorted(counts.items()))}")
    if exits:
        print(f"SIGINT -> driver exit: median {exits[len(exits) // 2]:.2f} s, max {exits[-1]:.2f} s")
    cleans = sorted(t.clean_s for t in results if t.clean_s is not None)
    if cleans:
        print(f"kill -> nothing left: median {cleans[len(cleans) // 2]:.2f} s, max {cleans[-1]:.2f} s")
    print(f"trials with leftovers or a blocked driver: {sum(1 for t in results if t.problems)}")
    return results


def check(results: list[Trial]) -> None:
    bad = [t for t in results if t.problems]
    assert not bad, "\n".join(
        f"{signal.Signals(t.sig).name} after {t.delay:.2f} s (phase {t.phase}): {'; '.join(t.problems)}" for t in bad
    )


def test_kill_sweep(tmp_path: Path) -> None:
    check(sweep(tmp_path, TRIALS, seed=random.randrange(1 << 30)))


@pytest.mark.slow
def test_kill_sweep_large(tmp_path: Path) -> None:
    check(sweep(tmp_path, SLOW_TRIALS, seed=random.randrange(1 << 30)))
