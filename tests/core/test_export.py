"""Graph export shows what ran and what it produced."""

from __future__ import annotations

import runic

from .fns import add1, double


def build():
    wf = runic.workflow("shop", steps=[(runic.step(add1, name="price"), [runic.step(double, name="total")])],
                        rules=[runic.rule(lambda x: x > 100, lambda x: "big", name="big_order")])
    wf.add(runic.step(lambda x: 1 / 0, name="broken"), to="price")
    return wf


def test_mermaid_before_and_after_a_run():
    wf = build()
    before = wf.to_mermaid()
    assert before.startswith("%% workflow shop\nflowchart TD")
    assert "step: price" in before and ":::idle" in before and "ran" not in before.split("classDef")[0]
    wf.react_until_satisfied(5)
    after = wf.to_mermaid()
    price_line = next(line for line in after.splitlines() if "step: price" in line)
    assert "ran 1×" in price_line and "→ 6" in price_line and price_line.endswith(":::ran")
    total_line = next(line for line in after.splitlines() if "step: total" in line)
    assert "→ 12" in total_line
    broken_line = next(line for line in after.splitlines() if "step: broken" in line)
    assert "failed 1×" in broken_line and broken_line.endswith(":::failed")
    ids = {line.split("[")[0].strip() for line in after.splitlines() if "step: " in line}
    assert any(f"--> {i}" in after for i in ids)


def test_dot_shows_status_and_values():
    wf = build().react_until_satisfied(5)
    dot = wf.to_dot()
    assert dot.startswith('digraph "shop" {') and dot.rstrip().endswith("}")
    assert "step: total\\nran 1×\\n→ 12" in dot
    assert "shape=diamond" in dot  # the rule's condition
    assert dot.count("->") >= 4


def test_pending_work_is_visible():
    wf = build().plan_eagerly(5)
    assert ":::pending" in wf.to_mermaid()
