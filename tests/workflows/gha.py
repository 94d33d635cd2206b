"""GitHub Actions as tests/workflows reads it: the repository's workflows and actions, and the `${{ }}`
expressions in them, evaluated the way GitHub evaluates them.

The evaluator covers the part of GitHub's expression language these workflows use: context properties
(`secrets.NAME`, `github.event.pull_request.number`), literals, `!`, `==`, `!=`, `&&`, `||` and parentheses.
Anything else (a function call, an index) is an :class:`ExpressionError`, so a workflow that grows one fails
its tests until the evaluator learns it, instead of being run wrongly.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO / ".github" / "workflows"
ACTIONS = REPO / ".github" / "actions"


def workflow_files() -> list[Path]:
    return sorted(WORKFLOWS.glob("*.yml"))


def action_files() -> list[Path]:
    return sorted(ACTIONS.glob("*/action.yml"))


def load(text: str) -> dict[str, Any]:
    document = yaml.safe_load(text)
    # YAML 1.1 reads the key `on` as the boolean true.
    if True in document:
        document["on"] = document.pop(True)
    return dict(document)


@cache
def workflow(name: str) -> dict[str, Any]:
    return load((WORKFLOWS / name).read_text())


@cache
def action(directory: str) -> dict[str, Any]:
    """The action.yml of a local action, by its `uses:` path (`./.github/actions/x`)."""
    return load((REPO / directory / "action.yml").read_text())


def jobs(document: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return dict(document.get("jobs") or {})


def steps(job: Mapping[str, Any]) -> list[dict[str, Any]]:
    return list(job.get("steps") or [])


def uses(step: Mapping[str, Any]) -> tuple[str, str]:
    action_name, _, ref = str(step.get("uses", "")).partition("@")
    return action_name, ref


def triggers(document: Mapping[str, Any]) -> dict[str, Any]:
    """`on:` as a mapping of event name to its filter (None when the event has none)."""
    on = document["on"]
    if isinstance(on, str):
        return {on: None}
    if isinstance(on, list):
        return dict.fromkeys(on)
    return dict(on)


def environment_name(job: Mapping[str, Any]) -> str | None:
    environment = job.get("environment")
    if isinstance(environment, Mapping):
        return str(environment["name"])
    return None if environment is None else str(environment)


# Expressions -----------------------------------------------------------------------------------------------

EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.S)
SECRET_REFERENCE = re.compile(r"\bsecrets\s*\.\s*([A-Za-z_][\w-]*)")
# Any other mention of the secrets context (`toJSON(secrets)`, `secrets[...]`, `secrets: inherit`) hands over
# secrets no name check can see.
ANY_SECRETS = re.compile(r"\bsecrets\b(?!\s*\.\s*[A-Za-z_])")
TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<number>\d+(?:\.\d+)?)|(?P<op>&&|\|\||==|!=|!|\(|\)|\.)"
    r"|(?P<name>[A-Za-z_][\w-]*))"
)


class ExpressionError(ValueError):
    """An expression outside the part of GitHub's language the evaluator covers."""


def expressions(node: Any) -> Iterator[str]:
    """The text inside every `${{ }}` of a parsed YAML node (keys included), and every `if:` condition."""
    if isinstance(node, Mapping):
        for key, value in node.items():
            yield from expressions(key)
            if key == "if" and isinstance(value, str) and "${{" not in value:
                yield value
            else:
                yield from expressions(value)
    elif isinstance(node, list):
        for item in node:
            yield from expressions(item)
    elif isinstance(node, str):
        yield from (match.group(1) for match in EXPRESSION.finditer(node))


def secrets_read(node: Any) -> set[str]:
    """The names of the secrets a YAML node reads, by `secrets.NAME` in its expressions."""
    return {name for text in expressions(node) for name in SECRET_REFERENCE.findall(text)}


def values_of(node: Any, key: str) -> Iterator[Any]:
    """Every value stored under `key` anywhere in a parsed YAML node."""
    if isinstance(node, Mapping):
        for name, value in node.items():
            if name == key:
                yield value
            yield from values_of(value, key)
    elif isinstance(node, list):
        for item in node:
            yield from values_of(item, key)


def whole_secrets_context(node: Any) -> list[str]:
    """Expressions, and `secrets: inherit`, that hand over the secrets context beyond named secrets."""
    found = [text.strip() for text in expressions(node) if ANY_SECRETS.search(text)]
    return found + [f"secrets: {value}" for value in values_of(node, "secrets") if isinstance(value, str)]


def to_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def truthy(value: Any) -> bool:
    return value not in (None, False, 0, "")


def equal(left: Any, right: Any) -> bool:
    # GitHub compares strings ignoring case, and converts mismatched types to numbers; these workflows compare
    # strings with strings only.
    if isinstance(left, str) and isinstance(right, str):
        return left.casefold() == right.casefold()
    return bool(left == right)


class _Parser:
    def __init__(self, text: str, contexts: Mapping[str, Any]) -> None:
        self.text = text
        self.contexts = contexts
        self.tokens: list[tuple[str, str]] = []
        position = 0
        while position < len(text.rstrip()):
            match = TOKEN.match(text, position)
            if not match or match.end() == position:
                raise ExpressionError(f"cannot read `{text.strip()}` at `{text[position:].strip()}`")
            kind = match.lastgroup or ""
            self.tokens.append((kind, match.group(kind)))
            position = match.end()
        self.index = 0

    def peek(self) -> str | None:
        return self.tokens[self.index][1] if self.index < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        if self.index >= len(self.tokens):
            raise ExpressionError(f"`{self.text.strip()}` ends too early")
        token = self.tokens[self.index]
        self.index += 1
        return token

    def parse(self) -> Any:
        value = self.either()
        if self.peek() is not None:
            raise ExpressionError(f"`{self.text.strip()}`: unexpected `{self.peek()}`")
        return value

    def chain(self, operator: str, operand: Callable[[], Any], combine: Callable[[Any, Any], Any]) -> Any:
        value = operand()
        while self.peek() == operator:
            self.take()
            value = combine(value, operand())
        return value

    def either(self) -> Any:
        # `a || b` is a when a is truthy, else b; `a && b` is b when a is truthy, else a (GitHub's rules).
        return self.chain("||", self.both, lambda left, right: left if truthy(left) else right)

    def both(self) -> Any:
        return self.chain("&&", self.comparison, lambda left, right: right if truthy(left) else left)

    def comparison(self) -> Any:
        left = self.unary()
        if self.peek() in ("==", "!="):
            operator = self.take()[1]
            right = self.unary()
            return equal(left, right) == (operator == "==")
        return left

    def unary(self) -> Any:
        if self.peek() == "!":
            self.take()
            return not truthy(self.unary())
        return self.primary()

    def primary(self) -> Any:
        kind, text = self.take()
        if text == "(":
            value = self.either()
            if self.take()[1] != ")":
                raise ExpressionError(f"`{self.text.strip()}`: `(` without `)`")
            return value
        if kind == "string":
            return text[1:-1].replace("''", "'")
        if kind == "number":
            return float(text) if "." in text else int(text)
        if kind != "name":
            raise ExpressionError(f"`{self.text.strip()}`: unexpected `{text}`")
        if text in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[text]
        if self.peek() == "(":
            raise ExpressionError(f"`{self.text.strip()}`: the function {text}() is not evaluated here")
        if text not in self.contexts:
            raise ExpressionError(f"`{self.text.strip()}`: no context named {text}")
        value: Any = self.contexts[text]
        while self.peek() == ".":
            self.take()
            kind, name = self.take()
            if kind != "name":
                raise ExpressionError(f"`{self.text.strip()}`: `.{name}` is not a property name")
            value = value.get(name) if isinstance(value, Mapping) else None
        return value


def evaluate(expression: str, contexts: Mapping[str, Any]) -> Any:
    """The value of one expression (the text inside `${{ }}`, or an `if:` condition)."""
    return _Parser(expression, contexts).parse()


def interpolate(value: Any, contexts: Mapping[str, Any]) -> str:
    """A YAML value with each `${{ }}` replaced by its value, as GitHub fills in `env:`, `with:` and `run:`."""
    text = to_text(value)
    whole = EXPRESSION.fullmatch(text.strip())
    if whole:
        return to_text(evaluate(whole.group(1), contexts))
    return EXPRESSION.sub(lambda match: to_text(evaluate(match.group(1), contexts)), text)
