"""The input guards every part of the config shares: hidden characters, text sizes, numbers.

One validator per concern, reused wherever a name, a text or a number is read (stack config, definitions,
computed traits, warehouse settings); docs/security.md lists where each applies.
"""

from __future__ import annotations

import math
import unicodedata
from typing import Any

MAX_TEXT_LENGTH = 1024
"""Any string of the stack config or the definitions (names, settings, ids); the SQL query has its own limit."""
MAX_NUMBER = 2**53 - 1
"""Any number of the config, in absolute value: the largest whole number a JSON number (a float) holds exactly;
a bigger one reaches Segment as another number, or overflows."""

# Line and paragraph separators, NEL, and the bidi overrides and isolates ("Trojan Source"): a name holding one
# shows differently from what it is, in the Segment app and in a terminal.
_INVISIBLE = {
    "\u0085",
    "\u2028",
    "\u2029",
    *map(chr, range(0x202A, 0x202F)),
    *map(chr, range(0x2066, 0x206A)),
}


def hidden_character(text: str) -> str | None:
    """The first control character, line/paragraph separator or bidi control in ``text``, as ``U+XXXX``."""
    for ch in text:
        if ch in _INVISIBLE or unicodedata.category(ch) == "Cc":
            return f"U+{ord(ch):04X}"
    return None


def text_problem(
    value: Any, *, max_length: int = MAX_TEXT_LENGTH, what: str = "the value", one_line: bool = True
) -> str | None:
    """Why ``value`` is not an acceptable text (one line unless ``one_line`` is false: a PEM key), or None."""
    if not isinstance(value, str):
        return f"{what} must be a string (text), got {type(value).__name__}"
    if not value.strip():
        return f"{what} must not be empty"
    if len(value) > max_length:
        return f"{what} is {len(value)} characters long; use at most {max_length}"
    if one_line and (ch := hidden_character(value)):
        return (
            f"{what} contains the invisible or control character {ch} (a line break, tab or bidi control): "
            "remove it"
        )
    return None


def number_problem(
    value: Any, *, low: float = 0, high: float | None = None, whole: bool = True
) -> str | None:
    """Why ``value`` is not a number between ``low`` and ``high`` (``MAX_NUMBER`` by default), or None.

    Refuses booleans (YAML's ``yes``), strings, NaN and infinity (YAML's ``.nan``/``.inf``), fractions where a
    whole number is expected, negative and huge numbers.
    """
    top = MAX_NUMBER if high is None else high
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"must be a number, got {type(value).__name__}"
    if isinstance(value, float) and not math.isfinite(value):
        return f"must be a finite number, not {value} (YAML's .inf/.nan, JSON's Infinity/NaN): write a real value"
    if abs(value) > MAX_NUMBER:
        return f"is a huge number (beyond ±{MAX_NUMBER}, the largest a JSON number holds exactly): write a real value"
    if whole and value != int(value):
        return f"must be a whole number, got {value}"
    if not low <= value <= top:
        return f"must be from {low} to {top}, got {value}"
    return None


MAX_DEPTH = 20
MAX_ITEMS = 2000
"""Items of any one list or object: far above every real config (299 mapped traits), far below a memory bomb."""


def value_problems(
    data: Any, prefix: str, *, max_length: int = MAX_TEXT_LENGTH, long_keys: dict[str, int] | None = None
) -> list[tuple[str, str]]:
    """``(key, problem)`` for every value anywhere in ``data`` that no config key can mean: a string longer than
    ``max_length`` (``long_keys`` gives other limits by key name), a number that is not finite or is huge, a
    nesting deeper than ``MAX_DEPTH`` or a list or object of more than ``MAX_ITEMS``.

    One walk over the raw YAML/JSON, before the typed checks: these problems hold whatever the key.
    """
    problems: list[tuple[str, str]] = []
    long_keys = long_keys or {}

    def walk(value: Any, path: str, depth: int, limit: int, anchor: str = prefix) -> None:
        anchor = path if depth <= 2 else anchor  # a deep path is reported by its first two keys
        if depth > MAX_DEPTH:
            problems.append((anchor, f"is nested more than {MAX_DEPTH} levels deep: no setting is"))
            return
        if isinstance(value, dict | list) and len(value) > MAX_ITEMS:
            problems.append((path, f"holds {len(value)} items; at most {MAX_ITEMS} are accepted"))
            return
        if isinstance(value, dict):
            for key, item in value.items():
                name = str(key)
                if len(name) > MAX_TEXT_LENGTH:
                    problems.append(
                        (path, f"has a key {len(name)} characters long; use at most {MAX_TEXT_LENGTH}")
                    )
                    continue
                walk(item, f"{path}.{name}", depth + 1, long_keys.get(name, limit), anchor)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                walk(item, f"{path}[{index}]", depth + 1, limit, anchor)
        elif isinstance(value, str) and len(value) > limit:
            problems.append((path, f"is {len(value)} characters long; use at most {limit}"))
        elif (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and (problem := number_problem(value, low=-MAX_NUMBER, whole=False))
        ):
            problems.append((path, problem))

    walk(data, prefix, 0, max_length)
    return problems
