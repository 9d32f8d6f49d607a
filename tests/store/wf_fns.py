"""Importable functions for the workflow round-trip tests (restored by import path)."""

from __future__ import annotations


def add1(x):
    return x + 1


def double(x):
    return x * 2


def triple(x):
    return x * 3


def add(a, b):
    return a + b


def is_positive(x):
    return x > 0


def positive(x):
    return "positive"
