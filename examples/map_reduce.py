"""Map-reduce: fan out over order lines, price each line, fan in to an order total.

The reduce waits until every line has been priced, whatever order they finish in, and folds
them in emission order. Run with threads (parallel=True) to see it does not matter.
"""

import runic

PRICES = {"apple": 0.5, "pear": 0.75, "melon": 3.0}


def lines(order):
    return order["lines"]


def price(line):
    item, qty = line
    return round(PRICES[item] * qty, 2)


def total(amount, acc):
    return round(acc + amount, 2)


def main() -> None:
    wf = runic.workflow("orders", steps=[
        (runic.step(lines), [(runic.map(runic.step(price), name="price_lines"), [runic.reduce(0.0, total, name="total")])]),
    ])
    wf.react_until_satisfied({"id": 1, "lines": [("apple", 4), ("pear", 2), ("melon", 1)]}, parallel=True)
    print("line prices:", sorted(wf.raw_productions("price")))
    print("order total:", wf.results(["total"])["total"])
    wf.react_until_satisfied({"id": 2, "lines": []})
    print("empty order total:", wf.raw_productions("total"))


if __name__ == "__main__":
    main()
