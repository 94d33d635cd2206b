"""Tokens of Segment's computed-trait query language, and the one comparison the provider needs from them.

Segment stores a trait's query as text and may hand it back re-spaced, so the provider compares queries token by
token (:func:`same_query`): whitespace between tokens does not count, text inside a string literal does.
"""

from __future__ import annotations

import re
from typing import NamedTuple


class Token(NamedTuple):
    kind: str
    text: str


_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
    | (?P<string>'(?:[^'\\]|\\.|'')*')
    | (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
    | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<operator>!=|>=|<=|==|=|>|<)
    | (?P<punctuation>[().,])
    | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)


def tokens(query: str) -> list[Token]:
    """The query's tokens, whitespace left out."""
    found = (Token(m.lastgroup or "other", m.group()) for m in _TOKEN.finditer(query))
    return [token for token in found if token.kind != "space"]


def same_query(left: str, right: str) -> bool:
    """Whether two queries differ at most in the whitespace between tokens (strings are compared verbatim)."""
    return tokens(left) == tokens(right)
