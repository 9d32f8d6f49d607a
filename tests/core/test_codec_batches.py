"""Flat batches (``codec.dumps_batch``/``loads_batch``): the form a store row holds since schema 3.

Every runic event type round-trips exactly (tuple fields as arrays, ``FactProduced.value``
decoded lazily), anything else round-trips through its own encoding, an older record version
goes through its upcast, the nesting limit holds as for ``dumps``, and garbage is a
``DecodeError``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import uuid

import msgpack
import pytest

from runic import codec, events
from runic.errors import ErrorInfo
from runic.facts import STRIPPED, Fact, FactRef
from runic.failures import Failure

from .test_codec_limits import nested_list, nested_tuple

VALUES = [0, -1, 2**70, 1.5, "s", "é" * 40, b"\x00\xff", None, True, (1, (2, 3)), [1, [2]], {"k": {1, 2}},
          frozenset({"a"}), dt.datetime(2026, 1, 2, 3, 4, 5), decimal.Decimal("1.10"), uuid.UUID(int=7),
          Fact(5, (1, 2)), FactRef(9, None), STRIPPED, ErrorInfo("ValueError", "bad", None)]


def one_of_each() -> list[object]:
    """An instance of every event type, with values of every kind where a field takes any value."""
    out: list[object] = []
    for cls in (getattr(events, name) for name in events.__all__):
        if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
            continue
        for i, value in enumerate(VALUES):
            args = []
            for f in dataclasses.fields(cls):
                if f.name in ("ancestry", "init_ancestry", "result_ancestry", "emitted_ancestry"):
                    args.append(None if i % 3 == 0 else (i, 2**64 - 1))
                elif f.type in ("int", "int | None"):
                    args.append(i)
                elif f.type in ("str", "str | None"):
                    args.append(f"{f.name}-{i}")
                elif f.type == "bool":
                    args.append(bool(i % 2))
                elif f.type == "Failure":
                    args.append(Failure("c", "E", "m", attempts=i, at=i))
                else:
                    args.append(value)
            out.append(cls(*args))
    return out


def test_every_event_type_round_trips_in_a_batch() -> None:
    evs = one_of_each()
    assert len({type(e) for e in evs}) == 22
    back = codec.loads_batch(codec.dumps_batch(evs))
    assert back == evs
    assert [type(e) for e in back] == [type(e) for e in evs]
    for a, b in zip(back, evs):  # field types too (a tuple stays a tuple, 1 stays 1)
        for f in dataclasses.fields(a):
            x, y = getattr(a, f.name), getattr(b, f.name)
            assert type(x) is type(y) and codec.dumps(x) == codec.dumps(y), (type(a).__name__, f.name)


def test_values_other_than_records_round_trip() -> None:
    assert codec.loads_batch(codec.dumps_batch(VALUES)) == VALUES
    assert codec.loads_batch(codec.dumps_batch([])) == []
    many = list(range(70_000))  # a 32-bit array header
    assert codec.loads_batch(codec.dumps_batch(many)) == many


def test_a_tuple_field_holding_something_else_is_stored_whole() -> None:
    odd = events.FactProduced(1, "v", [1, 2], "input", 0)  # a list where a tuple belongs
    back = codec.loads_batch(codec.dumps_batch([odd]))[0]
    assert back == odd and type(back.ancestry) is list


def test_fact_values_decode_when_first_read_and_keep_their_bytes_until_then() -> None:
    value = {"order": [1, 2, 3], "t": (4, 5)}
    e = events.FactProduced(3, value, (1, 2), "produced", 1)
    blob = codec.dumps_batch([e])
    back = codec.loads_batch(blob)[0]
    raw = type(back).__dict__["value"].slot.__get__(back)
    assert type(raw).__name__ == "_Packed" and raw.data == codec.dumps(value)  # not decoded yet
    assert codec.dumps_batch([back]) == blob  # re-encoded from its bytes, unchanged
    assert back.value == value and back.value is back.value  # decoded once, then kept
    with pytest.raises(dataclasses.FrozenInstanceError):
        back.value = 1  # type: ignore[misc]


def test_a_value_packed_by_its_writer_is_stored_as_it_is() -> None:
    packed, size = codec.pack({"k": "v"})
    e = events.FactProduced(3, packed, None, "produced", 1)
    assert size == len(codec.dumps({"k": "v"}))
    assert codec.loads_batch(codec.dumps_batch([e]))[0].value == {"k": "v"}
    assert e.value == {"k": "v"}


def test_a_lazy_value_that_names_an_unregistered_record_fails_when_read() -> None:
    blob = codec.dumps_batch([events.FactProduced(3, ("x",), None, "produced", 1)])
    bad = blob.replace(b"\xa1x", b"\xa1y")  # still valid msgpack; fine: a tuple of "y"
    assert codec.loads_batch(bad)[0].value == ("y",)
    inner = codec.dumps(events.ActivationConsumed(1, 2, "x"))
    forged = msgpack.packb([["runic.FactProduced", 1, 3, inner.replace(b"ActivationConsumed", b"ActivationConsumeX"),
                             None, "p", 0]], use_bin_type=True)
    e = codec.loads_batch(forged)[0]
    with pytest.raises(codec.DecodeError, match="unknown record type"):
        e.value  # noqa: B018


def test_an_older_record_version_goes_through_its_upcast() -> None:
    old = msgpack.packb([["runic.RunnableCompleted", 1, 1, 2, None, 3, 1, 4]], use_bin_type=True)
    (back,) = codec.loads_batch(old)
    assert back == events.RunnableCompleted(1, 2, None, 3, 1, 4, False)
    newer = msgpack.packb([["runic.RunnableCompleted", 9, 1, 2, None, 3, 1, 4, False, "x"]], use_bin_type=True)
    with pytest.raises(codec.DecodeError, match="newer version"):
        codec.loads_batch(newer)


@pytest.mark.parametrize("garbage", [b"", b"\xc1", msgpack.packb(5), msgpack.packb([5]), msgpack.packb([[]]),
                                     msgpack.packb([["no.such.Record", 1, 2]]), msgpack.packb([[[1], 1]]),
                                     msgpack.packb(["text"]), msgpack.packb([["runic.FactProduced", 1, 2]])])
def test_garbage_is_a_decode_error(garbage: bytes) -> None:
    with pytest.raises(codec.DecodeError):
        codec.loads_batch(garbage)


def test_the_nesting_limit_holds_as_for_dumps() -> None:
    ok = nested_list(codec.MAX_DEPTH)
    assert codec.loads_batch(codec.dumps_batch([ok])) == [ok]
    with pytest.raises(codec.NestingError):
        codec.dumps_batch([nested_list(codec.MAX_DEPTH + 1)])
    # a record is one level, as in dumps: its fields may be 99 deep
    deep = events.WorkflowAnnotated("k", nested_tuple(codec.MAX_DEPTH - 1))
    assert codec.loads_batch(codec.dumps_batch([deep])) == [deep]
    with pytest.raises(codec.NestingError):
        codec.dumps_batch([events.WorkflowAnnotated("k", nested_tuple(codec.MAX_DEPTH))])
    # bytes that claim more (written by hand) are refused unless the caller vouches for them
    forged = msgpack.packb([["runic.WorkflowAnnotated", 1, "k", nested_list(codec.MAX_DEPTH + 5)]])
    with pytest.raises(codec.DecodeError):
        codec.loads_batch(forged)


def test_events_keep_their_constructor_semantics() -> None:
    e = events.RunnableCompleted(runnable_id=1, node_hash=2, result_fact=None, completed_at=3, attempt=1,
                                 duration_ms=0)
    assert e.fallback is False and e == events.RunnableCompleted(1, 2, None, 3, 1, 0, False)
    with pytest.raises(TypeError):
        events.ActivationConsumed(1, 2)  # type: ignore[call-arg]
    with pytest.raises(dataclasses.FrozenInstanceError):
        e.attempt = 2  # type: ignore[misc]
    assert hash(events.ActivationConsumed(1, 2, "x")) == hash(events.ActivationConsumed(1, 2, "x"))
