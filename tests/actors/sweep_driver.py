"""A driver program for the kill sweep: ``python -m tests.actors.sweep_driver SCRATCH_ROOT DATA_DIR``.

In a loop: start an actor system (scratch directory under SCRATCH_ROOT), start a Runner on a
MnesiaStore in DATA_DIR, run a few workflows to completion, shut the Runner and the system
down. It prints a line at each phase change (``phase start``, ``phase runner``, ``phase run``,
``phase shutdown``, ``phase done``), so the test can tell where its SIGINT or SIGKILL landed.
"""

from __future__ import annotations

import sys


def phase(name: str) -> None:
    print(f"phase {name}", flush=True)


def main(argv: list[str]) -> None:
    import faulthandler
    import signal

    faulthandler.register(signal.SIGUSR2, all_threads=True)  # stacks on demand, for diagnosis
    root, data = argv
    import os

    if os.environ.get("SWEEP_DEBUG"):
        import logging

        logging.basicConfig(level=logging.DEBUG, format="%(relativeCreated)d %(name)s %(message)s")
        logging.getLogger("runic.runner").setLevel(logging.WARNING)
    phase("import")
    import runic
    from runic.actors import start_system
    from runic.runner import Runner
    from runic.store import MnesiaStore

    from .actors import noisy_step

    wf = runic.workflow("sweep", steps=[runic.step(noisy_step)])
    i = 0
    while True:
        phase("start")
        with start_system(scratch_root=root) as system:
            phase("runner")
            runner = Runner.start_link(name="sweep", store=MnesiaStore, store_opts={"dir": data},
                                       system=system, pool_size=1, recover="manual")
            phase("run")
            for j in range(2):
                wid = f"w{i}-{j}"
                runner.start_workflow(wid, wf)
                runner.run(wid, j)
                runner.await_idle(wid, timeout=60)
            phase("shutdown")
            runner.shutdown()
        phase("done")
        i += 1


if __name__ == "__main__":
    main(sys.argv[1:])
