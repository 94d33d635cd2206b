"""JSON schemas reduced to what the emulator must agree on with Segment: properties, required, types, enums.

Both the contract's schemas and pydantic's ``model_json_schema`` go through ``shape_of``; nullability,
defaults and numeric bounds are left out (``integer`` and ``number`` count as one type, as in the contract).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

Resolver = Callable[[str], dict[str, Any]]


@dataclass(frozen=True)
class Shape:
    types: frozenset[str]
    enum: frozenset[Any] | None = None
    properties: dict[str, Shape] | None = None
    """None for an object without declared properties (free-form settings)."""
    required: frozenset[str] = frozenset()
    items: Shape | None = None
    alternatives: tuple[Shape, ...] = field(default=())
    """The object shapes of an anyOf of several objects (the schedule config)."""


def shape_of(schema: dict[str, Any], resolve: Resolver) -> Shape:
    if "$ref" in schema:
        return shape_of(resolve(schema["$ref"]), resolve)
    if "anyOf" in schema:
        return _union([m for m in schema["anyOf"] if m.get("type") != "null"], resolve)
    if "enum" in schema:
        return Shape(types=frozenset({_type(schema.get("type", "string"))}), enum=frozenset(schema["enum"]))
    kind = schema.get("type")
    if kind is None:
        return Shape(types=frozenset({"any"}))
    if kind == "object":
        properties = schema.get("properties")
        return Shape(
            types=frozenset({"object"}),
            properties={k: shape_of(v, resolve) for k, v in properties.items()}
            if properties is not None
            else None,
            required=frozenset(schema.get("required", [])),
        )
    if kind == "array":
        return Shape(types=frozenset({"array"}), items=shape_of(schema.get("items", {}), resolve))
    return Shape(types=frozenset({_type(kind)}))


def _union(members: list[dict[str, Any]], resolve: Resolver) -> Shape:
    shapes = [shape_of(member, resolve) for member in members]
    if len(shapes) == 1:
        return shapes[0]
    if all(s.types == frozenset({"object"}) for s in shapes):
        return Shape(types=frozenset({"object"}), alternatives=tuple(shapes))
    return Shape(types=frozenset().union(*(s.types for s in shapes)))


def _type(name: str) -> str:
    return "number" if name == "integer" else name


def differences(mine: Shape, theirs: Shape, path: str = "body") -> Iterator[str]:
    """How the emulator's shape ``mine`` departs from the contract's ``theirs``."""
    if mine.types != theirs.types:
        yield f"{path}: type {sorted(mine.types)} but the contract says {sorted(theirs.types)}"
        return
    if mine.enum != theirs.enum:
        yield f"{path}: enum {sorted(mine.enum or [])} but the contract says {sorted(theirs.enum or [])}"
    if mine.items is not None and theirs.items is not None:
        yield from differences(mine.items, theirs.items, f"{path}[]")
    if mine.properties is None or theirs.properties is None:
        # A free-form object on either side; the schedule config's alternatives are compared one by one.
        if (mine.properties is None) != (theirs.properties is None) and not theirs.alternatives:
            yield f"{path}: one side declares properties, the other is free-form"
        return
    if set(mine.properties) != set(theirs.properties):
        yield f"{path}: properties {sorted(mine.properties)} but the contract has {sorted(theirs.properties)}"
    if mine.required != theirs.required:
        yield f"{path}: required {sorted(mine.required)} but the contract requires {sorted(theirs.required)}"
    for name in sorted(set(mine.properties) & set(theirs.properties)):
        yield from differences(mine.properties[name], theirs.properties[name], f"{path}.{name}")
