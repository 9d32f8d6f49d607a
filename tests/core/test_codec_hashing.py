"""The codec's allow-list and the stable content hashes (process-independent, type-aware)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import subprocess
import sys
import uuid

import msgpack
import pytest

import runic
from runic import codec
from runic.errors import ErrorInfo
from runic.facts import NOTHING, STRIPPED, Fact, FactRef, has_value, to_ref
from runic.hashing import content_hash


@dataclasses.dataclass
class Point:
    x: int
    y: int


codec.register(Point, "tests.Point")


def test_round_trips_every_allowed_type():
    value = {
        "none": None, "bool": True, "int": -5, "big": 2**90, "float": 1.5, "str": "é", "bytes": b"\x00\xff",
        "list": [1, [2]], "tuple": (1, (2, 3)), "set": {1, 2}, "frozen": frozenset({"a"}),
        (1, "tuple key"): "ok", 3: "int key",
        "dt": dt.datetime(2026, 1, 2, 3, 4, 5), "date": dt.date(2026, 1, 2), "time": dt.time(1, 2),
        "delta": dt.timedelta(days=1, seconds=2), "dec": decimal.Decimal("1.10"), "uuid": uuid.UUID(int=7),
        "fact": Fact([1, 2], (3, 4)), "ref": FactRef(9, (1, 2)), "sentinels": [NOTHING, STRIPPED],
        "point": Point(1, 2), "error": ErrorInfo("ValueError", "bad"),
    }
    back = codec.loads(codec.dumps(value))
    assert back == value
    assert type(back["tuple"]) is tuple and type(back["point"]) is Point
    assert back["sentinels"][0] is NOTHING and back["sentinels"][1] is STRIPPED


def test_exceptions_encode_as_error_info():
    back = codec.loads(codec.dumps(ValueError("boom")))
    assert back == ErrorInfo("ValueError", "boom")


def test_types_not_on_the_allow_list_are_refused_with_guidance():
    class Secret:
        pass

    with pytest.raises(codec.EncodeError, match="register"):
        codec.dumps({"x": Secret()})
    with pytest.raises(codec.EncodeError):
        codec.dumps(lambda x: x)


@pytest.mark.parametrize("data", [b"", b"\xc1", b"\x92\x01", b"\xd7\x63" + b"\x00" * 8,
                                  msgpack.packb(msgpack.ExtType(4, msgpack.packb(["os.system", 1, ["id"]])))])
def test_malformed_or_unknown_data_raises_decode_error(data):
    with pytest.raises(codec.DecodeError):
        codec.loads(data)


def test_unregistered_record_names_never_import_anything():
    payload = msgpack.packb(msgpack.ExtType(4, msgpack.packb(["subprocess.Popen", 1, [["touch", "/tmp/pwned"]]])))
    with pytest.raises(codec.DecodeError, match="not registered"):
        codec.loads(payload)


def test_records_from_newer_versions_are_refused_and_older_ones_upcast():
    @dataclasses.dataclass
    class V:
        a: int
        b: int

    codec.register(V, "tests.V", version=2, upcast=lambda version, values: values + [0])
    old = msgpack.packb(msgpack.ExtType(4, msgpack.packb(["tests.V", 1, [5]])))
    assert codec.loads(old) == V(5, 0)
    newer = msgpack.packb(msgpack.ExtType(4, msgpack.packb(["tests.V", 3, [5, 6, 7]])))
    with pytest.raises(codec.DecodeError, match="newer"):
        codec.loads(newer)


def test_content_hash_distinguishes_types_and_is_order_independent_for_maps():
    assert len({content_hash(1), content_hash(1.0), content_hash(True), content_hash("1")}) == 4
    assert content_hash([1, 2]) != content_hash((1, 2))
    assert content_hash({"a": 1, "b": 2}) == content_hash({"b": 2, "a": 1})
    assert content_hash({1, 2, 3}) == content_hash({3, 2, 1})
    assert content_hash(Point(1, 2)) == content_hash(Point(1, 2)) != content_hash(Point(2, 1))
    assert 0 <= content_hash("x") < 2**64


def test_hashes_are_the_same_in_another_process():
    code = ("import runic; from runic.hashing import content_hash; "
            "print(content_hash({'a': [1, (2, 3)], 'b': 'é'}), runic.Fact(5).hash, runic.Fact('x', (1, 2)).hash)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONHASHSEED": "123", "PATH": ""}).stdout.split()
    here = [content_hash({"a": [1, (2, 3)], "b": "é"}), Fact(5).hash, Fact("x", (1, 2)).hash]
    assert [int(x) for x in out] == here


def test_fact_identity_rules():
    assert Fact(5).hash == Fact(5).hash
    assert Fact(5, (1, 2)).hash != Fact(5, (1, 3)).hash != Fact(5).hash
    f = Fact(None, (1, 2))
    assert not has_value(f) and has_value(Fact(0)) and not has_value(to_ref(Fact(3)))
    r = to_ref(Fact(3, (1, 2)))
    assert (r.hash, r.ancestry) == (Fact(3, (1, 2)).hash, (1, 2))


def test_identical_inputs_share_facts_but_rerun_the_work():
    calls = []
    wf = runic.workflow(steps=[runic.step(lambda x: calls.append(x) or x * 2, name="d")])
    wf.react_until_satisfied(3)
    wf.react_until_satisfied(3)
    assert calls == [3, 3]
    assert wf.raw_productions() == [6]  # the same fact: memory is a set


def test_every_error_runic_raises_for_bad_arguments_is_a_runic_error():
    from runic.runner.worker import parse_checkpoint_strategy
    from runic import telemetry

    for call in (lambda: parse_checkpoint_strategy("sometimes"), lambda: telemetry.attach([("x",)], print),
                 lambda: runic.rule(lambda x: False, lambda x: x).run(1),
                 lambda: runic.CausalContext(1, None, bogus=1)):
        with pytest.raises(runic.RunicError):
            call()
    with pytest.raises(KeyError):
        from runic.runner import Runner

        Runner.start_link(name="")
