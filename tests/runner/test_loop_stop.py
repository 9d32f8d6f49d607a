"""A host loop that stops refuses the requests still queued instead of running them.

A takeover just before a shutdown queued several resumes on one host; the loop ran them one
after another (each rebuilding a large workflow) and the host outlived its 15 s shutdown and
was killed. Requests that were queued when the stop began are now answered with
``RunnerNotRunningError``; the loop's own work (persisting every Worker) still runs.
"""

from __future__ import annotations

import threading
from pathlib import Path

from runic.runner.errors import RunnerNotRunningError
from runic.runner.loop import HostLoop
from runic.store import MnesiaStore
from runic.supervisor.messages import ErrorReply


def test_requests_queued_when_the_stop_begins_are_refused_and_posted_work_still_runs(tmp_path: Path) -> None:
    store = MnesiaStore("loopstop", dir=tmp_path / "data")
    loop = HostLoop("h", store)
    loop.start()
    try:
        gate, ran, posted = threading.Event(), [], []
        loop.call(lambda: gate.wait(30), "first", 1)  # keeps the loop busy while more queue up
        loop.call(lambda: ran.append("queued") or "done", "caller", 2)
        loop.post(lambda: posted.append("own work"))  # the loop's own work (no one to answer)
        stopper = threading.Thread(target=loop.stop, kwargs={"timeout": 10.0})
        stopper.start()
        while not loop.draining:
            pass
        gate.set()
        stopper.join(20)
        assert not stopper.is_alive()
        assert ran == [], "a request queued before the stop ran anyway"
        assert posted == ["own work"]
        replies = dict(loop.drain_outbox())
        assert isinstance(replies["caller"], ErrorReply) and replies["caller"].ref == 2
        err = replies["caller"].to_exception()
        assert isinstance(err, RunnerNotRunningError) and "worker host h is stopping" in str(err)
    finally:
        store.close()
