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


def test_failed_nodes_show_their_error_and_false_conditions_are_not_ran():
    wf = build().react_until_satisfied(5)  # 5 + 1 = 6: the rule's condition (x > 100) is false
    mermaid = wf.to_mermaid()
    broken = next(line for line in mermaid.splitlines() if "step: broken" in line)
    assert "✗ ZeroDivisionError: division by zero" in broken and broken.endswith(":::failed")
    cond = next(line for line in mermaid.splitlines() if "condition: big_order.condition" in line)
    assert "false 1×" in cond and cond.endswith(":::unsatisfied") and "ran" not in cond
    assert 'fillcolor="#f1f3f5"' in wf.to_dot()  # the false condition, not the "ran" green
    wf.react_until_satisfied(500)  # now it holds once
    cond = next(line for line in wf.to_mermaid().splitlines() if "condition: big_order.condition" in line)
    assert "true 1×, false 1×" in cond and cond.endswith(":::ran")


def test_retried_attempts_do_not_mark_a_node_failed():
    calls = []

    def flaky(x):
        calls.append(x)
        if len(calls) == 1:
            raise RuntimeError("once")
        return x

    wf = runic.workflow("f", steps=[runic.step(flaky, name="flaky")])
    wf.add_scheduler_policy("flaky", {"max_retries": 1}).react_until_satisfied(1)
    line = next(line for line in wf.to_mermaid().splitlines() if "step: flaky" in line)
    assert line.endswith(":::ran") and "failed" not in line and len(wf.failures) == 1
