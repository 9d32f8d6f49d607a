"""Results, productions and output ports (Runic's workflow_results_test)."""

from __future__ import annotations

import runic
from runic.facts import Fact

from .fns import add1, double, total


def test_productions_by_component_and_raw_values():
    wf = runic.workflow(steps=[(runic.step(add1, name="add"), [runic.step(double, name="double")])])
    wf.react_until_satisfied(5)
    assert wf.raw_productions() == [6, 12]
    assert wf.raw_productions("add") == [6] and wf.raw_productions("double") == [12]
    assert [f.value for f in wf.productions("double")] == [12]
    assert wf.raw_productions_by_component() == {"add": [6], "double": [12]}
    assert {k: [f.value for f in v] for k, v in wf.productions_by_component().items()} == {"add": [6], "double": [12]}


def test_results_latest_value_per_component_and_options():
    wf = runic.workflow(steps=[(runic.step(add1, name="add"), [runic.step(double, name="double")])])
    for v in (5, 7):
        wf.react_until_satisfied(v)
    assert wf.results() == {"add": 8, "double": 16}  # latest = most recently produced
    assert wf.results(["add"]) == {"add": 8}
    assert wf.results(["add"], all=True) == {"add": [6, 8]}
    facts = wf.results(["double"], facts=True)
    assert isinstance(facts["double"], Fact) and facts["double"].value == 16
    both = wf.results(["double"], facts=True, all=True)["double"]
    assert [f.value for f in both] == [12, 16]
    assert wf.results(["unknown"]) == {"unknown": None}


def test_output_ports():
    wf = runic.workflow(
        steps=[(runic.step(add1, name="add"), [runic.step(double, name="double")])],
        output_ports={"result": "double", "inc": {"from": "add", "cardinality": "many"}, "empty": {"from": "nope"}},
    )
    assert wf.results() == {"result": None, "inc": [], "empty": None}
    wf.react_until_satisfied(4)
    wf.react_until_satisfied(5)
    assert wf.results() == {"result": 12, "inc": [5, 6], "empty": None}
    assert wf.results([]) == wf.results()  # an empty selection uses the ports
    assert wf.results(all=True)["result"] == [10, 12]
    assert wf.results(["add"]) == {"add": 6}  # explicit names regardless of ports


def test_port_name_is_the_component_when_no_from():
    wf = runic.workflow(steps=[runic.step(double, name="double")], output_ports={"double": {}})
    wf.react_until_satisfied(5)
    assert wf.results() == {"double": 10}


def test_accumulator_results_list_every_state():
    wf = runic.workflow(steps=[runic.accumulator(0, total, name="acc")])
    for v in (1, 2, 3):
        wf.react_until_satisfied(v)
    assert wf.results(["acc"], all=True) == {"acc": [0, 1, 3, 6]}
    assert wf.results(["acc"]) == {"acc": 6}


def test_join_results_and_accumulator_init_are_productions():
    wf = runic.Workflow().add(runic.step(add1, name="a")).add(runic.step(double, name="b"))
    wf.add(runic.step(lambda x, y: x * y, name="m"), to=["a", "b"])
    wf.react_until_satisfied(2)
    assert [3, 4] in wf.raw_productions()  # the join's own production: the parents' values
