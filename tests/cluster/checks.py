"""What every cluster test checks after the fact, from the store and the journal.

* :func:`check_stream` — one owner at a time: the stream's sequence numbers run 1..cursor with
  no gap and no repeat (a refused write leaves no row), the ownership epochs of the writes that
  inserted them never decrease in sequence order, and once a new owner wrote, no event of an
  older epoch follows (the audit trigger of :mod:`.harness` records them).
* :func:`check_steps` — no completed step ran again: a step whose result the first owner
  persisted (its production's event carries that owner's epoch) ran exactly once; a step that
  ran again was in flight when its owner died (at most one per pipeline: they run one at a
  time), and every execution of a step had the same idempotency key.
"""

from __future__ import annotations

from typing import Any

from runic.events import FactProduced
from runic.runner.stored import load

from .harness import TestCluster


def check_stream(cluster: TestCluster, wid: str) -> list[tuple[int, int, int]]:
    """Check ``wid``'s stream (see the module docs); returns its audit rows."""
    audit = cluster.audit(wid)
    with cluster.store() as store:
        cursor = store.cursor(wid)
    seqs = [seq for seq, _e, _t in audit]
    assert seqs == list(range(1, cursor + 1)), f"{wid}: event rows inserted {seqs[:5]}... != 1..{cursor} (a gap, a repeat)"
    epochs = [e for _s, e, _t in audit]
    assert epochs == sorted(epochs), f"{wid}: an older owner wrote after a newer one: epochs {epochs}"
    return audit


def production_epochs(cluster: TestCluster, wid: str, steps: int) -> dict[str, int]:
    """``{step name: epoch of the write that persisted its result}``."""
    audit = {seq: epoch for seq, epoch, _t in cluster.audit(wid)}
    with cluster.store() as store:
        wf = load(store, wid)
        produced = {f"s{i}": {f.hash for f in wf.productions(f"s{i}")} for i in range(steps)}
        seq_of: dict[int, int] = {}
        for seq, event in enumerate(store.stream(wid), 1):
            if isinstance(event, FactProduced) and event.hash not in seq_of:
                seq_of[event.hash] = seq
    out = {}
    for name, hashes in produced.items():
        assert len(hashes) == 1, f"{wid}: step {name} produced {len(hashes)} results"
        out[name] = audit[seq_of[next(iter(hashes))]]
    return out


def check_steps(cluster: TestCluster, wid: str, steps: int, first_owner: str) -> dict[str, Any]:
    """Check that no completed step of ``wid`` ran again (module docs); returns what ran twice."""
    records = [r for r in cluster.journal_records() if r["wid"] == wid and r["phase"] == "start"]
    runs: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        runs.setdefault(r["step"], []).append(r)
    assert sorted(runs) == sorted(f"s{i}" for i in range(steps)), f"{wid}: not every step ran: {sorted(runs)}"
    for name, rs in runs.items():
        assert len({r["key"] for r in rs}) == 1, f"{wid}: step {name} ran with different idempotency keys"
    epochs = production_epochs(cluster, wid, steps)
    first_epoch = cluster.audit(wid)[0][1]
    again = {}
    for name, rs in runs.items():
        if epochs[name] == first_epoch:  # persisted by the first owner: a completed step
            assert len(rs) == 1, f"{wid}: step {name} completed on {first_owner} and ran again: {rs}"
        elif len(rs) > 1:
            again[name] = [r["node"] for r in rs]
            assert sum(1 for r in rs if r["node"] == first_owner) <= 1, f"{wid}: {name} ran twice on {first_owner}"
    assert len(again) <= 1, f"{wid}: more steps ran again than were in flight at the death: {again}"
    return again
