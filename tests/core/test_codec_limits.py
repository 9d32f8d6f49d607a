"""The codec's nesting limit (one rule for dumps, loads and the content hasher) and enums.

Crash claims run in a child process (a segmentation fault must show up as a dead child, not
take the test runner down), in a thread with a 1 MiB stack: the stack size at which the first
version of the decoder already crashed at ~25 levels.
"""

from __future__ import annotations

import enum
import subprocess
import sys
import textwrap
from pathlib import Path

import msgpack
import pytest

from runic import codec
from runic.codec import MAX_DEPTH
from runic.hashing import content_hash

ROOT = Path(__file__).resolve().parents[2]


def nested_tuple(n: int) -> object:
    value: object = 1
    for _ in range(n):
        value = (value,)
    return value


def nested_list(n: int) -> object:
    value: object = 1
    for _ in range(n):
        value = [value]
    return value


def raw_nested_tuple(n: int) -> bytes:
    """The encoding of a tuple nested ``n`` deep around ``1``, built directly (``dumps``
    refuses it beyond the limit), in O(n) so that 30,000 levels are cheap."""
    lengths = [2]  # the innermost payload: [1]
    for _ in range(n - 1):
        inner = lengths[-1]
        header = 2 if inner in (1, 2, 4, 8, 16) else 3 if inner < 256 else 4 if inner < 65536 else 6
        lengths.append(1 + header + inner)
    out = bytearray()
    for length in reversed(lengths):
        if length in (1, 2, 4, 8, 16):
            out += bytes([{1: 0xD4, 2: 0xD5, 4: 0xD6, 8: 0xD7, 16: 0xD8}[length], 1])
        elif length < 256:
            out += bytes([0xC7, length, 1])
        elif length < 65536:
            out += b"\xc8" + length.to_bytes(2, "big") + b"\x01"
        else:
            out += b"\xc9" + length.to_bytes(4, "big") + b"\x01"
        out += b"\x91"
    return bytes(out + b"\x01")


def test_the_raw_builder_matches_dumps() -> None:
    assert raw_nested_tuple(7) == codec.dumps(nested_tuple(7))
    assert raw_nested_tuple(150) != b"" and codec.loads(raw_nested_tuple(5)) == nested_tuple(5)


# ----------------------------------------------------------------------------- the rule

def test_depth_counts_every_container_level() -> None:
    assert codec.depth(1) == 0 and codec.depth("abc") == 0
    assert codec.depth([]) == 1 and codec.depth([1, 2]) == 1 and codec.depth([[1]]) == 2
    assert codec.depth({"a": {"b": (1, {2})}}) == 4
    assert codec.depth({(1, (2,)): 0}) == 3  # keys count too
    assert codec.depth(nested_tuple(100)) == 100
    assert codec.depth(nested_list(5000)) == MAX_DEPTH + 1  # the walk stops past the limit


@pytest.mark.parametrize("make", [nested_tuple, nested_list], ids=["tuples", "lists"])
def test_exactly_the_limit_round_trips_and_hashes(make) -> None:
    value = make(MAX_DEPTH)
    assert codec.loads(codec.dumps(value)) == value
    assert codec.loads(codec.dumps(value), trusted=True) == value
    content_hash(value)


def mixed(n: int) -> object:
    """Lists, dicts, tuples, sets and records alternating, ``n`` levels deep."""
    value: object = 1
    for i in range(n):
        kind = i % 4
        value = [value] if kind == 0 else {"k": value} if kind == 1 else (value, 2) if kind == 2 \
            else codec_record(value)
    return value


class Box:
    __slots__ = ("content",)

    def __init__(self, content: object) -> None:
        self.content = content

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Box) and other.content == self.content


codec.register(Box, "tests.limits.Box")


def codec_record(value: object) -> Box:
    return Box(value)


@pytest.mark.parametrize("make", [nested_tuple, nested_list, mixed], ids=["tuples", "lists", "mixed"])
@pytest.mark.parametrize("n", [MAX_DEPTH + 1, 200, 1000])
def test_one_level_more_is_refused_by_dumps_and_the_hasher(make, n: int) -> None:
    value = make(n)
    with pytest.raises(codec.NestingError, match=f"more than {MAX_DEPTH} levels"):
        codec.dumps(value)
    with pytest.raises(codec.NestingError, match=f"more than {MAX_DEPTH} levels"):
        content_hash(value)
    assert isinstance(codec.NestingError("x"), codec.EncodeError)


def test_mixed_values_at_the_limit_round_trip() -> None:
    value = mixed(MAX_DEPTH)
    assert codec.depth(value) == MAX_DEPTH
    assert codec.loads(codec.dumps(value)) == value
    content_hash(value)


@pytest.mark.parametrize("n", [MAX_DEPTH + 1, 200, 1000, 30000])
def test_loads_refuses_deep_tuples_and_lists(n: int) -> None:
    for data in (raw_nested_tuple(n), b"\x91" * n + b"\x01"):
        with pytest.raises(codec.DecodeError, match="levels"):
            codec.loads(data)
    # trusted decoding still refuses runic's own containers past the limit
    with pytest.raises(codec.DecodeError, match="levels"):
        codec.loads(raw_nested_tuple(n), trusted=True)


def test_a_wide_value_is_not_mistaken_for_a_deep_one() -> None:
    value = {"rows": [{"id": i, "tags": ["a", (i, str(i))], "score": i * 1.5} for i in range(500)],
             "ints": list(range(-300, 3000)), "floats": [i / 7 for i in range(1000)]}
    data = codec.dumps(value)
    assert codec.loads(data) == value


def test_a_long_log_of_records_is_bounded_without_refusal() -> None:
    log = [Box((i, {"v": [i, i + 1]})) for i in range(2000)]
    assert codec.loads(codec.dumps(log)) == log


def test_self_referencing_values_are_refused_cleanly() -> None:
    loop: list = []
    loop.append(loop)
    with pytest.raises(codec.NestingError):
        codec.dumps(loop)
    with pytest.raises(codec.NestingError):
        content_hash(loop)


def test_deep_lists_between_tuples_are_counted() -> None:
    value = [(1, [(nested_list(97),)])]  # list, tuple, list, tuple, then 97 lists: 101
    assert codec.depth(value) == MAX_DEPTH + 1
    with pytest.raises(codec.NestingError):
        codec.dumps(value)
    shallower = [(1, [(nested_list(96),)])]
    assert codec.loads(codec.dumps(shallower)) == shallower


# ----------------------------------------------------------------------------- no crash, in a child

CHILD = textwrap.dedent("""
    import sys, threading
    sys.path.insert(0, {root!r})
    sys.path.insert(0, {tests!r})
    from runic import codec
    from runic.hashing import content_hash
    from test_codec_limits import nested_tuple, nested_list, raw_nested_tuple, mixed

    outcomes = []

    def attempt(name, fn, *args, **kw):
        try:
            fn(*args, **kw)
            outcomes.append(name + ":ok")
        except codec.DecodeError:
            outcomes.append(name + ":DecodeError")
        except codec.NestingError:
            outcomes.append(name + ":NestingError")
        except BaseException as exc:
            outcomes.append(name + ":" + type(exc).__name__)

    def run():
        for n in (150, 195, 200, 1000, 30000):
            attempt(f"loads-tuple-{{n}}", codec.loads, raw_nested_tuple(n))
            attempt(f"loads-trusted-tuple-{{n}}", codec.loads, raw_nested_tuple(n), trusted=True)
            attempt(f"loads-list-{{n}}", codec.loads, b"\\x91" * n + b"\\x01")
        for n in (100, 150, 1000):
            for make in (nested_tuple, nested_list, mixed):
                attempt(f"dumps-{{make.__name__}}-{{n}}", codec.dumps, make(n))
                attempt(f"hash-{{make.__name__}}-{{n}}", content_hash, make(n))
        alternating = 1
        for _ in range(40):
            alternating = (nested_list(90), [alternating])
        attempt("dumps-alternating", codec.dumps, alternating)

    threading.stack_size(1024 * 1024)
    t = threading.Thread(target=run)
    t.start()
    t.join()
    print(" ".join(outcomes))
""")


def test_deep_inputs_never_crash_a_thread_with_a_1_mib_stack() -> None:
    code = CHILD.format(root=str(ROOT), tests=str(Path(__file__).parent))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, f"child died with {proc.returncode}: {proc.stderr[-2000:]}"
    outcomes = dict(item.split(":") for item in proc.stdout.split())
    for name, outcome in outcomes.items():
        if name.startswith("loads"):
            assert outcome == "DecodeError", (name, outcome)
        elif name.endswith("-100"):
            assert outcome == "ok", (name, outcome)
        else:
            assert outcome == "NestingError", (name, outcome)
    assert len(outcomes) == 15 + 18 + 1


# ----------------------------------------------------------------------------- enums

class Color(enum.Enum):
    RED = 1
    GREEN = (2, "g")


class Size(enum.IntEnum):
    S = 1
    M = 2


class Mood(enum.StrEnum):
    HAPPY = "happy"


class Perm(enum.Flag):
    R = 4
    W = 2
    X = 1


class Unregistered(enum.Enum):
    A = 1


class UnregisteredInt(enum.IntEnum):
    A = 1


class UnregisteredStr(enum.StrEnum):
    A = "a"


for _cls in (Color, Size, Mood, Perm):
    codec.register(_cls)


def test_registered_enums_round_trip_as_their_members() -> None:
    value = [Color.RED, Color.GREEN, Size.M, Mood.HAPPY, Perm.R | Perm.W, Perm(0), {Size.S: Color.RED}]
    back = codec.loads(codec.dumps(value))
    assert back == value
    assert back[0] is Color.RED and back[1] is Color.GREEN and back[2] is Size.M
    assert back[3] is Mood.HAPPY and type(back[3]) is Mood
    assert back[4] == Perm.R | Perm.W and type(back[4]) is Perm
    assert list(back[6]) == [Size.S] and type(next(iter(back[6]))) is Size


@pytest.mark.parametrize("member", [Unregistered.A, UnregisteredInt.A, UnregisteredStr.A],
                         ids=["Enum", "IntEnum", "StrEnum"])
def test_unregistered_enum_members_are_refused_with_the_fix(member) -> None:
    with pytest.raises(codec.EncodeError) as info:
        codec.dumps({"x": [member]})
    message = str(info.value)
    assert type(member).__qualname__ in message
    assert f"runic.codec.register({type(member).__qualname__})" in message


def test_a_renamed_enum_member_is_a_decode_error() -> None:
    class Gone(enum.Enum):
        OLD = 1

    data = msgpack.packb(msgpack.ExtType(16, msgpack.packb(["tests.limits.Gone", "OLD"])))
    codec.register(Gone, "tests.limits.Gone")
    assert codec.loads(data) is Gone.OLD
    renamed = msgpack.packb(msgpack.ExtType(16, msgpack.packb(["tests.limits.Gone", "NEW"])))
    with pytest.raises(codec.DecodeError, match="no member 'NEW'"):
        codec.loads(renamed)
    unknown = msgpack.packb(msgpack.ExtType(16, msgpack.packb(["tests.limits.Nope", "A"])))
    with pytest.raises(codec.DecodeError, match="not registered"):
        codec.loads(unknown)


def test_enum_registration_takes_no_record_options() -> None:
    class E(enum.Enum):
        A = 1

    with pytest.raises(runic_argument_error()):
        codec.register(E, fields=["a"])


def runic_argument_error() -> type:
    from runic.errors import ArgumentError

    return ArgumentError
