"""The rules every layer reads input by: which characters a name may hold, what a number is and how big it may be.

One definition each, shared by the program's config checks (``flex_program.guards``), the providers' checks and
the export's writer (``flex_program.safe_yaml``): a rule written twice drifts, and then input the program accepts
is refused (or shown differently) by the next layer.
"""

from __future__ import annotations

import math
import re
import unicodedata
from typing import Any

MAX_NUMBER = 2**53 - 1
"""Any number of the config, in absolute value: the largest whole number a JSON number (a float) holds exactly;
a bigger one reaches Segment as another number, or overflows."""

_ASCII_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?")
_ASCII_WHOLE = re.compile(r"-?[0-9]+")


def is_hidden(ch: str) -> bool:
    """Line breaks, controls, format characters (bidi, zero width), unassigned and private code points, and every
    space but the plain one (U+0020): Unicode categories C* and Z* other than ``' '``."""
    category = unicodedata.category(ch)
    return category[0] == "C" or (category[0] == "Z" and ch != " ")


def hidden_character(text: str) -> str | None:
    """The first hidden character of ``text`` (see :func:`is_hidden`), as ``U+XXXX``, or None."""
    for ch in text:
        if is_hidden(ch):
            return f"U+{ord(ch):04X}"
    return None


def parse_number(text: str, *, whole: bool) -> int | float | None:
    """``text`` as a number when it is written in ASCII digits only (``-3``, ``2.5``, ``1e3``), else None.

    Python's ``int()``/``float()`` also take ``'٣'`` (an Arabic-Indic digit), ``'1_000'``, ``' 3 '``, ``'inf'``
    and ``'nan'``: none of them is a number a person means in a config value.
    """
    if not (_ASCII_WHOLE if whole else _ASCII_NUMBER).fullmatch(text):
        return None
    return int(text) if whole else float(text)


def number_problem(
    value: Any, *, low: float = 0, high: float | None = None, whole: bool = True
) -> str | None:
    """Why ``value`` is not a number from ``low`` to ``high`` (``MAX_NUMBER`` by default), or None.

    Refuses booleans (YAML's ``yes``), strings, NaN and infinity (YAML's ``.inf``/``.nan``), fractions where a
    whole number is expected, and numbers out of the range.
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
