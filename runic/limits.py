"""Limits shared by the encoder, the decoder and the content hasher (the lowest layer, beside
:mod:`runic.errors`, so every layer above can apply the same limit).

:data:`MAX_DEPTH` is the one nesting limit: lists, dicts, tuples, sets, records and facts each
count as one level. Encoding, decoding and hashing refuse deeper values alike
(:class:`~runic.errors.NestingError` / :class:`~runic.errors.DecodeError`), so nothing is stored
that cannot be read back — decoding a deeper value once crashed the process (the C stack).
"""

from __future__ import annotations

__all__ = ["MAX_DEPTH", "too_deep_message"]

MAX_DEPTH = 100


def too_deep_message(what: str) -> str:
    """The message of a value nested deeper than :data:`MAX_DEPTH` (``what`` names it)."""
    return (
        f"{what} is nested more than {MAX_DEPTH} levels deep (lists, dicts, tuples, sets, "
        "records and facts each count as one level). runic refuses such values everywhere "
        "(encoding, decoding, hashing) so that nothing is stored that cannot be read back; "
        "flatten the value (for example store a deep tree as a list of (parent, child) rows)"
    )
