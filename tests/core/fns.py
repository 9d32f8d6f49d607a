"""Importable module-level functions used by core tests (they restore by import path)."""

from __future__ import annotations


def add1(x):
    return x + 1


def double(x):
    return x * 2


def triple(x):
    return x * 3


def square(x):
    return x * x


def minus3(x):
    return x - 3


def add(a, b):
    return a + b


def mul(a, b):
    return a * b


def total(x, acc):
    return x + acc


def is_positive(x):
    return x > 0


def is_even(x):
    return x % 2 == 0


def label_positive(x):
    return "positive"


def tokenize(text):
    return text.split()


def count(words):
    return len(words)


def first(words):
    return words[0]


def last(words):
    return words[-1]


def make_multiplier(n):
    def multiply(x):
        return x * n

    return multiply


def upto(n):
    return list(range(1, n + 1))


# --------------------------------------------------------------------------- failures

class PaymentDeclined(Exception):
    """A custom error, named by its qualified name ``tests.core.fns.PaymentDeclined``."""


def decline(order):
    raise PaymentDeclined("card expired\nsee the bank's reply")


# --------------------------------------------------------------------------- decorators
import runic  # noqa: E402


@runic.step
def charge(order):
    return {"order": order, "charged": True}


@runic.step(name="ship_it")
def ship(receipt):
    return f"shipped {receipt['order']}"


@runic.condition
def is_big(order):
    return order > 100


# --------------------------------------------------------------------------- async functions

async def async_double(x):
    import asyncio

    await asyncio.sleep(0)
    return x * 2


async def async_total(x, acc):
    import asyncio

    await asyncio.sleep(0)
    return x + acc
