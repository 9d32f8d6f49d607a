"""Per-hop cost of the actor transport: an ask round trip from the driver to an actor.

    .venv/bin/python bench/actors.py [--asks 2000] [--runs 5] [--payload 200]

Starts an actor system and one supervised Echo actor, then times ``ask(Ping)`` round trips
(driver -> actor -> driver: two authenticated frames and two acknowledgements). Prints the
median and p90 per round trip over ``--runs`` runs, and the cost of sealing and verifying one
frame of ``--payload`` bytes (keyed BLAKE2b MAC) measured alone. Run the same script against another
checkout (``PYTHONPATH=/path/to/other/checkout``) to compare.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import runic  # noqa: E402
from runic.actors import start_system  # noqa: E402
from runic.supervisor import ChildSpec, Supervisor  # noqa: E402
from tests.supervisor.actors import Echo, Ping  # noqa: E402


def ask_round_trips(asks: int) -> list[float]:
    with start_system() as system:
        sup = Supervisor.start_link([ChildSpec("bench.echo", (Echo, {}))], system=system, name="bench")
        address = sup.which_children()[0].address
        for _ in range(50):  # warm up: connections, imports
            system.ask(address, Ping("w"), 5)
        out = []
        for _ in range(asks):
            t0 = time.perf_counter()
            reply = system.ask(address, Ping("p"), 5)
            out.append(time.perf_counter() - t0)
            assert reply is not None, "the actor did not answer"
        sup.stop()
    return out


def frame_cost(payload: int, reps: int = 20000) -> float | None:
    try:
        from runic.actors import auth
    except ImportError:
        return None
    secret = auth.new_secret()
    auth.use_secret(secret)
    body = b"x" * payload
    t0 = time.perf_counter()
    for _ in range(reps):
        sealed = b"".join(auth.seal(body, secret))
        auth.verify(sealed)
    return (time.perf_counter() - t0) / reps


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--asks", type=int, default=2000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--payload", type=int, default=200)
    args = ap.parse_args()
    print(f"runic from {Path(runic.__file__).parent}")
    medians, p90s = [], []
    for run in range(args.runs):
        values = sorted(ask_round_trips(args.asks))
        med, p90 = statistics.median(values), values[int(0.9 * (len(values) - 1))]
        medians.append(med)
        p90s.append(p90)
        print(f"run {run + 1}: ask round trip median {med * 1e6:.0f} us, p90 {p90 * 1e6:.0f} us")
    print(f"ask round trip: median of medians {statistics.median(medians) * 1e6:.0f} us, "
          f"median p90 {statistics.median(p90s) * 1e6:.0f} us ({args.runs} runs x {args.asks} asks)")
    cost = frame_cost(args.payload)
    if cost is not None:
        print(f"seal + verify one {args.payload}-byte frame alone: {cost * 1e6:.2f} us")


if __name__ == "__main__":
    main()
