"""The input guards every part of the config shares: hidden characters, text sizes, numbers.

One validator per concern, reused wherever a name, a text or a number is read (stack config, definitions,
computed traits, warehouse settings); docs/security.md lists where each applies. The character and number rules
themselves live in :mod:`segment_provider.rules`, which the providers and the export's writer read too.
"""

from __future__ import annotations

from typing import Any

from segment_provider.rules import MAX_NUMBER, hidden_character, number_problem

__all__ = [
    "MAX_NUMBER",
    "MAX_TEXT_LENGTH",
    "hidden_character",
    "hidden_problem",
    "number_problem",
    "text_problem",
]

MAX_TEXT_LENGTH = 1024
"""Any string of the stack config or the definitions (names, settings, ids); the SQL query has its own limit."""


def hidden_problem(text: str, what: str) -> str | None:
    """Why ``text`` cannot be shown as it is (``what`` names it), or None: see :func:`hidden_character`."""
    if ch := hidden_character(text):
        return (
            f"{what} contains the invisible or control character {ch} (a line break, tab, bidi control, zero-width "
            "character or a space other than the plain one): remove it"
        ).lstrip()
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
    return hidden_problem(value, what) if one_line else None


class YamlWord(str):
    """A plain YAML word that YAML 1.1 reads as a boolean but YAML 1.2 as text (``yes``, ``no``, ``on``, ``off``,
    ``y``, ``n``, in any case): kept as its text, so no reader turns ``value: NO`` into ``false`` unseen.

    Pulumi reads stack files as YAML 1.2 (text); the program's own reader is YAML 1.1. In the definitions file
    :func:`value_problems` refuses the word, naming its key and saying to quote it.
    """

    @property
    def yaml11_boolean(self) -> bool:
        return self.lower() in ("yes", "y", "on")


def yaml_word_problem(word: YamlWord, *, as_key: bool) -> str:
    quoted, meant = f"'{word}'", str(word.yaml11_boolean).lower()
    if as_key:
        return f"has the key {word}, which YAML 1.1 reads as the boolean {meant}, not the text {quoted}: quote it ({quoted}:)"
    return (
        f"is the unquoted word {word}, which YAML 1.1 reads as the boolean {meant}: quote it ({quoted}) if you mean "
        f"the text, or write {meant} if you mean a boolean"
    )


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
                if isinstance(key, YamlWord):
                    problems.append((path, yaml_word_problem(key, as_key=True)))
                    continue
                if len(name) > MAX_TEXT_LENGTH:
                    problems.append(
                        (path, f"has a key {len(name)} characters long; use at most {MAX_TEXT_LENGTH}")
                    )
                    continue
                walk(item, f"{path}.{name}", depth + 1, long_keys.get(name, limit), anchor)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                walk(item, f"{path}[{index}]", depth + 1, limit, anchor)
        elif isinstance(value, YamlWord):
            problems.append((path, yaml_word_problem(value, as_key=False)))
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
