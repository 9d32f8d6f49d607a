"""The workflow of ``runic demo``: an order goes through a map-reduce, a flaky call, a join and a rule.

Every function is defined at module level, so a worker host restarted after a crash (or a later
``runic resume`` in another process) restores them by import: nothing here needs ``functions=``.

::

    parse_order ──► line_items ──► price_lines (map: price_line per item) ──► subtotal (reduce) ──┐
         │                                                                                        ├─► invoice (join) ──► render_invoice
         └────────► lookup_customer (flaky: fails twice, retried with backoff) ───────────────────┘        └─► large_order_review (rule)

Each step sleeps :data:`STEP_SECONDS` so that a run lasts a couple of seconds: long enough to
watch it, and to kill its worker host half-way.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import runic

__all__ = ["build", "order", "ORDERS", "STEP_SECONDS", "FLAKY_FAILURES", "REVIEW_THRESHOLD"]

log = logging.getLogger(__name__)

STEP_SECONDS = 0.2
"""How long each priced step pretends to work."""

FLAKY_FAILURES = 2
"""How many times ``lookup_customer`` fails (per activation, per process) before it answers."""

REVIEW_THRESHOLD = 100.0
"""Invoices above this total are flagged by the ``large_order_review`` rule."""

TAX_RATE = 0.2

CUSTOMERS: dict[str, dict[str, Any]] = {
    "ada": {"name": "Ada Lovelace", "tier": "gold", "discount": 0.10},
    "grace": {"name": "Grace Hopper", "tier": "silver", "discount": 0.05},
    "alan": {"name": "Alan Turing", "tier": "standard", "discount": 0.0},
}

ORDERS: list[dict[str, Any]] = [
    {"order_id": "A-1001", "customer": "ada", "items": [
        {"sku": "notebook", "qty": 3, "unit_price": 4.50},
        {"sku": "fountain-pen", "qty": 1, "unit_price": 38.00},
        {"sku": "ink", "qty": 2, "unit_price": 7.25},
        {"sku": "ruler", "qty": 1, "unit_price": 2.10},
        {"sku": "desk-lamp", "qty": 1, "unit_price": 41.90},
        {"sku": "stapler", "qty": 1, "unit_price": 12.00},
        {"sku": "paper-ream", "qty": 4, "unit_price": 5.75},
        {"sku": "eraser", "qty": 5, "unit_price": 0.80},
    ]},
    {"order_id": "B-2002", "customer": "grace", "items": [
        {"sku": "compiler-manual", "qty": 1, "unit_price": 29.00},
        {"sku": "cable", "qty": 6, "unit_price": 3.20},
        {"sku": "relay", "qty": 10, "unit_price": 1.15},
        {"sku": "notebook", "qty": 2, "unit_price": 4.50},
        {"sku": "tape", "qty": 3, "unit_price": 2.40},
        {"sku": "screwdriver", "qty": 1, "unit_price": 9.90},
    ]},
    {"order_id": "C-3003", "customer": "alan", "items": [
        {"sku": "chalk", "qty": 12, "unit_price": 0.35},
        {"sku": "tape", "qty": 2, "unit_price": 2.40},
        {"sku": "notebook", "qty": 1, "unit_price": 4.50},
        {"sku": "paper-ream", "qty": 1, "unit_price": 5.75},
        {"sku": "pencil", "qty": 8, "unit_price": 0.60},
        {"sku": "sharpener", "qty": 1, "unit_price": 1.90},
    ]},
]

_calls: dict[Any, int] = {}
_calls_lock = threading.Lock()


def order(run_number: int) -> dict[str, Any]:
    """The example order for the ``run_number``-th demo run (1-based; cycles through :data:`ORDERS`)."""
    return ORDERS[(max(run_number, 1) - 1) % len(ORDERS)]


def _work() -> None:
    time.sleep(STEP_SECONDS)


# ----------------------------------------------------------------------------- step functions

def parse_order(doc: dict[Any, Any]) -> dict[Any, Any]:
    """Validate and normalise an incoming order document."""
    _work()
    if not doc.get("items"):
        raise ValueError(f"order {doc.get('order_id')!r} has no items")
    return {"order_id": str(doc["order_id"]), "customer": str(doc["customer"]).lower(),
            "items": [dict(item) for item in doc["items"]]}


def line_items(parsed: dict[Any, Any]) -> list[Any]:
    """The order's lines: the collection the ``price_lines`` map fans out over."""
    items: list[Any] = parsed["items"]
    return items


def price_line(item: dict[Any, Any]) -> dict[Any, Any]:
    """Price one line: quantity × unit price, plus tax."""
    _work()
    net = round(item["qty"] * item["unit_price"], 2)
    return {"sku": item["sku"], "net": net, "tax": round(net * TAX_RATE, 2)}


def add_line(line: dict[Any, Any], total: float) -> float:
    """Reducer of ``subtotal``: add a priced line (with its tax) to the running total."""
    rounded: float = round(total + line["net"] + line["tax"], 2)
    return rounded


def lookup_customer(parsed: dict[Any, Any]) -> dict[Any, Any]:
    """Ask the (simulated, unreliable) customer service about the order's customer.

    Fails :data:`FLAKY_FAILURES` times per activation in each process before it answers: the
    step's retry policy absorbs the failures."""
    current = runic.current_runnable()
    key = current.idempotency_key if current is not None else parsed["customer"]
    with _calls_lock:
        n = _calls[key] = _calls.get(key, 0) + 1
    _work()
    if n <= FLAKY_FAILURES:
        raise ConnectionError(f"customer service timed out (call {n})")
    found = CUSTOMERS.get(parsed["customer"], {"name": parsed["customer"].title(), "tier": "new", "discount": 0.0})
    return {"customer": parsed["customer"], **found}


def make_invoice(subtotal: float, customer: dict[Any, Any]) -> dict[Any, Any]:
    """The join of ``subtotal`` and ``lookup_customer``: apply the customer's discount."""
    _work()
    discount = round(subtotal * customer["discount"], 2)
    return {"customer": customer["name"], "tier": customer["tier"], "subtotal": subtotal,
            "discount": discount, "total": round(subtotal - discount, 2)}


def render_invoice(invoice: dict[Any, Any]) -> str:
    """Render the invoice document."""
    _work()
    return (f"INVOICE for {invoice['customer']} ({invoice['tier']}): subtotal {invoice['subtotal']:.2f}, "
            f"discount {invoice['discount']:.2f}, total {invoice['total']:.2f}")


def is_large(invoice: dict[Any, Any]) -> bool:
    """Condition of ``large_order_review``."""
    large: bool = invoice["total"] > REVIEW_THRESHOLD
    return large


def request_review(invoice: dict[Any, Any]) -> str:
    """Reaction of ``large_order_review``."""
    return f"manager review requested: {invoice['customer']} ordered {invoice['total']:.2f} (over {REVIEW_THRESHOLD:.0f})"


# ----------------------------------------------------------------------------- the workflow

def build() -> runic.Workflow:
    """The demo pipeline (see the module docs). Every runnable records lifecycle events
    (``execution_mode="durable"``); ``lookup_customer`` retries up to 3 times."""
    wf = runic.Workflow("order-pipeline", scheduler_policies=[
        ("lookup_customer", {"max_retries": 3, "backoff": "linear", "base_delay_ms": 100,
                             "execution_mode": "durable"}),
        ("default", {"execution_mode": "durable"}),
    ])
    wf.add(runic.step(parse_order, name="parse_order"))
    wf.add(runic.step(line_items, name="line_items"), to="parse_order")
    wf.add(runic.map(runic.step(price_line, name="price_line"), name="price_lines"), to="line_items")
    wf.add(runic.reduce(0.0, add_line, name="subtotal", map="price_lines"), to="price_lines")
    wf.add(runic.step(lookup_customer, name="lookup_customer"), to="parse_order")
    wf.add(runic.step(make_invoice, name="invoice"), to=["subtotal", "lookup_customer"])
    wf.add(runic.step(render_invoice, name="render_invoice"), to="invoice")
    wf.add(runic.rule(is_large, request_review, name="large_order_review"), to="invoice")
    return wf
