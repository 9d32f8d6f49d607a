"""The one rule for workflow ids (runic.ids), as the stores apply it."""

from __future__ import annotations

import uuid

import pytest

import runic
from runic.ids import check_workflow_id, is_workflow_id


@pytest.mark.parametrize("wid", ["order-7", "", "é\n\x00", 7, -1, 2**80, b"\x00\xff", uuid.UUID(int=3),
                                 ("order", 7), ("a", (b"b", (uuid.UUID(int=1), 2))), ()])
def test_accepted_ids(wid: object) -> None:
    assert check_workflow_id(wid) is wid and is_workflow_id(wid)


@pytest.mark.parametrize("wid, why", [
    (True, "bool"), (False, "bool"), (7.0, "float"), (float("nan"), "nan never equals itself"),
    (None, "None"), (["a"], "list"), ({"a": 1}, "dict"), (frozenset({1}), "frozenset"),
    (("a", 1.5), "an item of the tuple"), (("a", True), "an item of the tuple"), (object(), "object"),
])
def test_refused_ids_name_the_id_and_the_fix(wid: object, why: str) -> None:
    assert not is_workflow_id(wid)
    with pytest.raises(runic.ArgumentError) as info:
        check_workflow_id(wid)
    message = str(info.value)
    assert why in message and "str(the_id)" in message and "invalid workflow id" in message


def test_deeply_nested_tuples_are_refused() -> None:
    wid: object = "x"
    for _ in range(17):
        wid = (wid,)
    with pytest.raises(runic.ArgumentError, match="nested more than 16"):
        check_workflow_id(wid)


def test_ids_that_python_conflates_stay_apart_or_are_refused() -> None:
    # 7, 7.0 and True are one dict key in Python; the rule keeps only 7
    accepted = [w for w in (7, 7.0, True, "7") if is_workflow_id(w)]
    assert accepted == [7, "7"]
