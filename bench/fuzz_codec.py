#!/usr/bin/env python3
"""Long-running fuzzer of ``runic.codec.loads``: every input must give a value or a DecodeError.

    .venv/bin/python bench/fuzz_codec.py                       # 200,000 inputs, seed 1
    .venv/bin/python bench/fuzz_codec.py --n 1000000 --seed 7 --batch 5000

Inputs, generated deterministically from ``--seed`` and the batch number:

* ``random``: random bytes, 0-2,048 long (a quarter of them start with a msgpack array, map or
  extension header, so that they get past the first byte more often);
* ``mutation``: a valid encoding from a corpus of every type the codec knows (events, facts,
  records, enums, sets, dates, nested values up to the depth limit) with 1-8 mutations: bit
  flips, byte overwrites, insertions, deletions, truncation, splices of another encoding, a
  length field set to a huge value;
* ``deep``: hand-made nesting past the limit (tuples, sets, records, lists, dicts, mixes) from
  101 to 30,000 levels, and 10,000-deep encodings cut short.

Each batch runs in a child process (``--_child``) with a 1 MiB thread stack for the decoding
thread, so a segmentation fault or an abort is counted as a crash (and the batch is bisected to
the inputs that crash, written to ``--crash-dir``) instead of killing the fuzzer. Printed at the
end: counts by outcome (``value``, ``DecodeError``, any other exception type, ``crash``),
inputs slower than one second, and the children's peak RSS. Exit status 1 if anything but
``value``/``DecodeError`` was seen.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Iterator

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

KINDS = ("random", "mutation", "deep")
WEIGHTS = (25, 73, 2)
HEADER_BYTES = bytes(list(range(0x80, 0xA0)) + [0xC7, 0xC8, 0xC9, 0xD4, 0xD5, 0xD6, 0xD7, 0xD8,
                                                 0xDC, 0xDD, 0xDE, 0xDF])


def corpus() -> list[bytes]:
    """Valid encodings of every kind of value the codec knows."""
    import datetime as dt
    import decimal
    import enum
    import uuid

    from runic import codec
    from runic.errors import ErrorInfo
    from runic.events import FactProduced
    from runic.facts import NOTHING, STRIPPED, Fact, FactRef

    class Color(enum.Enum):
        RED = 1

    class Perm(enum.Flag):
        R = 4
        W = 2

    codec.register(Color, "fuzz.Color")
    codec.register(Perm, "fuzz.Perm")

    def nest(n: int, kind: int) -> Any:
        v: Any = 1
        for i in range(n):
            k = (kind + i) % 4
            v = [v] if k == 0 else {"k": v} if k == 1 else (v, i) if k == 2 else (v,)
        return v

    values: list[Any] = [
        None, True, False, 0, -1, 2**63 - 1, -2**63, 2**64 - 1, 2**70, -2**90, 1.5, float("inf"), "", "é" * 40,
        b"", b"\x00\xff" * 30, [], {}, [1, [2, [3, [4]]]], {"a": {"b": [1, 2]}, (1, 2): "t", 3: None},
        (1, (2, (3,))), {1, 2, 3}, frozenset({"x", (1, 2)}), dt.datetime(2026, 1, 2, 3, 4, 5, 6),
        dt.datetime(2026, 1, 2, tzinfo=dt.timezone.utc), dt.date(2026, 1, 2), dt.time(1, 2, 3),
        dt.timedelta(days=-1, seconds=2, microseconds=3), decimal.Decimal("-1.10E+5"), uuid.UUID(int=7),
        NOTHING, STRIPPED, Fact([1, 2], (3, 4)), Fact({"k": (1,)}, None, 5, {"m": 1}), FactRef(9, (1, 2)),
        ErrorInfo("ValueError", "bad", "tb"), Color.RED, Perm.R | Perm.W,
        FactProduced(hash=2**63 + 5, value={"k": [1, (2, 3)]}, ancestry=(1, 2), producer_label="produced",
                     weight=1),
        [FactProduced(hash=i, value=(i, {i}), ancestry=None, producer_label=None, weight=0) for i in range(20)],
        nest(99, 0), nest(100, 1), nest(60, 2), nest(100, 3),
        list(range(300)), {str(i): i / 3 for i in range(100)},
    ]
    return [codec.dumps(v) for v in values]


def deep_inputs(rng: random.Random) -> bytes:
    """Nesting past the limit, made by hand (``dumps`` refuses it)."""
    import msgpack

    n = rng.choice([101, 120, 150, 195, 200, 500, 1000, 5000, 30000])
    style = rng.randrange(6)
    if style == 0:  # plain lists / maps
        return (b"\x91" if rng.random() < 0.5 else b"\x81\xa1k") * n + b"\x01"
    if n > 5000:
        n = 5000  # the builders below copy the payload at each level
    if style == 1:  # tuples
        data = b"\x91\x01"
        for _ in range(n - 1):
            data = msgpack.packb([msgpack.ExtType(1, data)])
        return msgpack.packb(msgpack.ExtType(1, data))
    if style == 2:  # sets of frozensets
        data = msgpack.packb([1])
        for _ in range(n):
            data = msgpack.packb([msgpack.ExtType(3, data)])
        return msgpack.packb(msgpack.ExtType(2, data))
    if style == 3:  # records (events) holding records
        inner: Any = 1
        for _ in range(n):
            inner = msgpack.ExtType(4, msgpack.packb(["runic.FactProduced", 1, [1, inner, None, None, 0]]))
        return msgpack.packb(inner)
    if style == 4:  # lists and tuples alternating
        inner = 1
        for i in range(n):
            inner = [inner] if i % 2 else msgpack.ExtType(1, msgpack.packb([inner]))
        return msgpack.packb(inner)
    full = b"\x91" * 10000 + b"\x01"  # cut short
    return full[: rng.randrange(len(full))]


def mutate(rng: random.Random, base: bytes, pool: list[bytes]) -> bytes:
    data = bytearray(base)
    for _ in range(rng.randint(1, 8)):
        op = rng.randrange(7)
        i = rng.randrange(len(data) + 1)
        if op == 0 and data:
            data[i % len(data)] ^= 1 << rng.randrange(8)
        elif op == 1 and data:
            data[i % len(data)] = rng.randrange(256)
        elif op == 2:
            data[i:i] = bytes([rng.choice(HEADER_BYTES) if rng.random() < 0.5 else rng.randrange(256)])
        elif op == 3 and data:
            del data[i % len(data): i % len(data) + rng.randint(1, 4)]
        elif op == 4:
            del data[i:]
        elif op == 5:
            other = rng.choice(pool)
            j = rng.randrange(len(other) + 1)
            data[i:i] = other[j: j + rng.randint(1, 64)]
        elif op == 6 and len(data) > 5:  # a huge length or count field
            k = i % (len(data) - 4)
            data[k: k + 5] = bytes([rng.choice((0xC9, 0xDD, 0xDF, 0xC6, 0xDB))]) + b"\xff\xff\xff\xf0"
    return bytes(data)


def inputs(seed: int, batch: int, size: int) -> Iterator[tuple[str, bytes]]:
    rng = random.Random(f"{seed}/{batch}")
    pool = corpus()
    for _ in range(size):
        kind = rng.choices(KINDS, WEIGHTS)[0]
        if kind == "random":
            n = rng.choice([rng.randrange(16), rng.randrange(256), rng.randrange(2049)])
            data = bytes(rng.getrandbits(8) for _ in range(n))
            if data and rng.random() < 0.25:
                data = bytes([rng.choice(HEADER_BYTES)]) + data[1:]
            yield kind, data
        elif kind == "mutation":
            yield kind, mutate(rng, rng.choice(pool), pool)
        else:
            yield kind, deep_inputs(rng)


# ----------------------------------------------------------------------------- child

def child(seed: int, batch: int, size: int, only: tuple[int, int] | None) -> None:
    from runic import codec

    counts: dict[str, int] = {}
    slow: list[dict[str, Any]] = []
    odd: list[dict[str, Any]] = []

    failed: list[BaseException] = []

    def run() -> None:
        try:
            decode_all()
        except BaseException as exc:  # the harness itself failed: report it, not a count
            failed.append(exc)
            raise

    def decode_all() -> None:
        for index, (kind, data) in enumerate(inputs(seed, batch, size)):
            if only is not None and not only[0] <= index < only[1]:
                continue
            for trusted in (False, True):
                t = time.perf_counter()
                try:
                    codec.loads(data, trusted=trusted)
                    outcome = "value"
                except codec.DecodeError:
                    outcome = "DecodeError"
                except BaseException as exc:  # noqa: BLE001 - counting every other outcome
                    outcome = type(exc).__name__
                    if len(odd) < 20:
                        odd.append({"index": index, "kind": kind, "error": repr(exc)[:200],
                                    "input": data[:200].hex()})
                took = time.perf_counter() - t
                key = f"{kind}/{outcome}" + ("/trusted" if trusted else "")
                counts[key] = counts.get(key, 0) + 1
                if took > 1.0:
                    slow.append({"index": index, "kind": kind, "seconds": round(took, 2)})

    threading.stack_size(1024 * 1024)
    t = threading.Thread(target=run)
    t.start()
    t.join()
    if failed:
        sys.exit(2)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"counts": counts, "slow": slow, "odd": odd, "rss_kib": rss}))


# ----------------------------------------------------------------------------- parent

def run_child(seed: int, batch: int, size: int, only: tuple[int, int] | None = None,
              timeout: float = 900.0) -> tuple[int, dict[str, Any] | None]:
    cmd = [sys.executable, __file__, "--_child", str(seed), str(batch), str(size)]
    if only is not None:
        cmd += ["--only", f"{only[0]}:{only[1]}"]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return -1, None
    if proc.returncode == 2:
        sys.exit(f"the fuzzer's child failed (not an input):\n{proc.stderr[-3000:]}")
    if proc.returncode != 0:
        return proc.returncode, None
    return 0, json.loads(proc.stdout.strip().splitlines()[-1])


def bisect_crash(seed: int, batch: int, size: int, lo: int, hi: int, found: list[int]) -> None:
    if hi - lo == 1:
        found.append(lo)
        return
    mid = (lo + hi) // 2
    for a, b in ((lo, mid), (mid, hi)):
        rc, _ = run_child(seed, batch, size, (a, b))
        if rc != 0:
            bisect_crash(seed, batch, size, a, b, found)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=200_000, help="inputs in total (default 200,000)")
    ap.add_argument("--batch", type=int, default=5_000, help="inputs per child process")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--crash-dir", default="fuzz-crashes", help="where crashing inputs are written")
    ap.add_argument("--_child", nargs=3, type=int, help=argparse.SUPPRESS)
    ap.add_argument("--only", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args._child:
        only = tuple(int(x) for x in args.only.split(":")) if args.only else None
        child(*args._child, only)  # type: ignore[arg-type]
        return

    totals: dict[str, int] = {}
    slow: list[dict[str, Any]] = []
    odd: list[dict[str, Any]] = []
    crashes: list[dict[str, Any]] = []
    peak_rss = 0
    started = time.monotonic()
    batches = (args.n + args.batch - 1) // args.batch
    for batch in range(batches):
        size = min(args.batch, args.n - batch * args.batch)
        rc, result = run_child(args.seed, batch, size)
        if result is None:
            found: list[int] = []
            bisect_crash(args.seed, batch, size, 0, size, found)
            os.makedirs(args.crash_dir, exist_ok=True)
            all_inputs = list(inputs(args.seed, batch, size))
            for index in found:
                kind, data = all_inputs[index]
                path = Path(args.crash_dir) / f"seed{args.seed}-batch{batch}-{index}.bin"
                path.write_bytes(data)
                crashes.append({"batch": batch, "index": index, "kind": kind, "status": rc, "file": str(path)})
            totals["crash"] = totals.get("crash", 0) + max(len(found), 1)
            continue
        for key, count in result["counts"].items():
            totals[key] = totals.get(key, 0) + count
        slow += [dict(s, batch=batch) for s in result["slow"]]
        odd += [dict(o, batch=batch) for o in result["odd"]]
        peak_rss = max(peak_rss, result["rss_kib"])
        done = (batch + 1) * args.batch
        print(f"  batch {batch + 1}/{batches}: {min(done, args.n):,} inputs, "
              f"{time.monotonic() - started:.0f} s", file=sys.stderr)

    elapsed = time.monotonic() - started
    print(f"\nrunic.codec.loads fuzzing: {args.n:,} inputs (seed {args.seed}), each decoded twice "
          f"(trusted=False, trusted=True), {elapsed:.0f} s")
    by_outcome: dict[str, int] = {}
    for key, count in sorted(totals.items()):
        print(f"  {key:40s} {count:>9,}")
        parts = key.split("/")
        by_outcome[parts[1] if len(parts) > 1 else parts[0]] = by_outcome.get(
            parts[1] if len(parts) > 1 else parts[0], 0) + count
    print("  by outcome: " + ", ".join(f"{k} {v:,}" for k, v in sorted(by_outcome.items())))
    print(f"  slower than 1 s: {len(slow)}; children's peak RSS: {peak_rss / 1024:.0f} MiB")
    for item in slow[:10]:
        print(f"    slow: {item}")
    for item in odd[:10]:
        print(f"    other exception: {item}")
    for item in crashes:
        print(f"    CRASH: {item}")
    bad = set(by_outcome) - {"value", "DecodeError"}
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
