"""Fuzzing ``runic.codec.loads``: whatever the bytes, only a value or a ``DecodeError`` comes out.

Bounded here (a few hundred examples per property, a few seconds); ``bench/fuzz_codec.py`` runs
the same idea for hundreds of thousands of inputs, each batch in a child process so that a
crash is counted as a crash.
"""

from __future__ import annotations

import datetime as dt
import decimal
import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runic import codec
from runic.errors import ErrorInfo
from runic.events import FactProduced
from runic.facts import NOTHING, Fact, FactRef


def corpus() -> list[bytes]:
    """Valid encodings of every kind of value the codec knows."""
    values = [
        None, True, -7, 2**70, 1.5, "é", b"\x00\xff", [1, [2, [3]]], {"a": {"b": 1}, (1, 2): "t"},
        (1, (2, (3,))), {1, 2}, frozenset({"x"}), dt.datetime(2026, 1, 2, 3, 4, 5), dt.date(2026, 1, 2),
        dt.time(1, 2), dt.timedelta(days=1, seconds=2), decimal.Decimal("1.10"), uuid.UUID(int=7),
        NOTHING, Fact([1, 2], (3, 4)), FactRef(9, (1, 2)), ErrorInfo("ValueError", "bad", "tb"),
        FactProduced(hash=2**63 + 5, value={"k": [1, (2, 3)]}, ancestry=(1, 2), producer_label="produced",
                     weight=1),
        [FactProduced(hash=i, value=(i, {i}), ancestry=None, producer_label=None, weight=0) for i in range(5)],
    ]
    return [codec.dumps(v) for v in values]


CORPUS = corpus()


def check(data: bytes) -> None:
    for trusted in (False, True):
        try:
            codec.loads(data, trusted=trusted)
        except codec.DecodeError:
            pass


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=512))
def test_random_bytes_give_a_value_or_decode_error(data: bytes) -> None:
    check(data)


mutation = st.tuples(
    st.sampled_from(["flip", "set", "insert", "delete", "truncate", "splice"]),
    st.integers(min_value=0, max_value=10**6),
    st.integers(min_value=0, max_value=255),
)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(CORPUS), st.lists(mutation, min_size=1, max_size=6), st.sampled_from(CORPUS))
def test_mutated_encodings_give_a_value_or_decode_error(base: bytes, ops: list, other: bytes) -> None:
    data = bytearray(base)
    for op, where, byte in ops:
        i = where % (len(data) + 1)
        if op == "flip" and data:
            data[i % len(data)] ^= 1 << (byte % 8)
        elif op == "set" and data:
            data[i % len(data)] = byte
        elif op == "insert":
            data[i:i] = bytes([byte])
        elif op == "delete" and data:
            del data[i % len(data)]
        elif op == "truncate":
            del data[i:]
        elif op == "splice":
            data[i:i] = other[: byte % (len(other) + 1)]
    check(bytes(data))


def test_the_corpus_decodes_back() -> None:
    for data in CORPUS:
        assert codec.dumps(codec.loads(data)) == data


scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
                    st.floats(allow_nan=False), st.text(max_size=5), st.binary(max_size=5))
hashables = st.recursive(scalars, lambda inner: st.tuples(inner, inner) | st.frozensets(inner, max_size=3),
                         max_leaves=12)
values = st.recursive(
    hashables,
    lambda inner: (st.lists(inner, max_size=4) | st.tuples(inner, inner) | st.tuples(inner)
                   | st.dictionaries(hashables, inner, max_size=3) | st.sets(hashables, max_size=3)
                   | st.builds(lambda v: Fact(v, (1, 2)), inner)),
    max_leaves=40,
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values)
def test_any_nesting_of_containers_round_trips(value: object) -> None:
    # deep enough values go through every decoding path: eager, placeholders, dict keys
    data = codec.dumps(value)
    assert codec.loads(data) == value
    assert codec.loads(data, trusted=True) == value


def test_placeholders_in_dict_keys_and_sets_deep_down() -> None:
    value = ((({(1, (2, 3)): "v", None: 0, (4,): [frozenset({(5, 6)})]},),),)
    back = codec.loads(codec.dumps(value))
    assert back == value
    assert list(back[0][0][0]) == [(1, (2, 3)), None, (4,)]  # the keys keep their order
    deeper: object = {("k", (1,)): {(2, (3, (4,))): ("x", {(5,)})}}
    for _ in range(6):
        deeper = ([deeper], {(7, (8,)): deeper})
    assert codec.loads(codec.dumps(deeper)) == deeper
