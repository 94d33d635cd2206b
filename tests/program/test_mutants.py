"""Property: any mutant of the demo stack config or of definitions.yaml is either deployed, or refused before
anything is written to Segment with a ConfigError-style message. Never an unhandled exception.

A mutant changes one value somewhere in the stack config or in the definitions (at any depth): a wrong type,
a missing or an extra key, a hostile string (line breaks, bidi controls, NUL, 5000 characters), a huge, negative
or non-finite number. Each runs through the program under the engine stand-in against the emulator, as
``test_bad_input.py`` runs its cases.

The example count is fixed and the search derandomized, so CI runs the same mutants every time;
``FLEX_MUTANT_EXAMPLES=2000`` (docs/testing.md) runs more.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Iterator
from typing import Any

import pulumi
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.harness import DeploymentFailed, ProgramEngine, ProviderServer
from tests.program.test_bad_input import MAIN, MUTATING, NS, REPO, base_stack

EXAMPLES = int(os.environ.get("FLEX_MUTANT_EXAMPLES", "120"))
UNTOUCHED = {"segment:endpoint", f"{NS}:profileApi"}
"""Where the program sends its requests: a mutant must not point it away from the emulator."""
REFUSED = "invalid stack configuration (nothing was created)"

HOSTILE_STRINGS = [
    "",
    " ",
    "a\nb",
    "a\u2028b",
    "x\u0085y",
    "Flex \u202egnp.exe",
    "\u2066x\u2069",
    "nul\x00byte",
    "\x1b[31mred",
    "S" * 5000,
    "'; DROP TABLE x; --",
    "$(reboot)",
    "../../etc/passwd",
    "1e3",
    "yes",
    "ünïcödé",
]
HOSTILE_VALUES = st.one_of(
    st.sampled_from(HOSTILE_STRINGS),
    st.sampled_from([0, -1, 1, 2**31, 10**30, -(10**30), 1.5, float("inf"), float("-inf"), float("nan")]),
    st.sampled_from([True, False, None, [], {}, [1, "a"], {"k": "v"}, {"": None}]),
    st.text(max_size=20),
)


@st.composite
def mutations(draw: st.DrawFn) -> tuple[str, list[str | int], str, Any]:
    """Where (``config`` or ``definitions``), the path of keys to the value, what to do, the new value."""
    target = draw(st.sampled_from(["config", "definitions"]))
    steps = draw(st.lists(st.integers(min_value=0, max_value=50), min_size=1, max_size=6))
    operation = draw(st.sampled_from(["replace", "replace", "delete", "add"]))
    value = draw(HOSTILE_VALUES)
    return target, steps, operation, value


def _mutate(root: Any, steps: list[int], operation: str, value: Any) -> str:
    """Apply the mutation at the node ``steps`` leads to (each step picks a child by index, modulo); the path."""
    node, path = root, []
    for step in steps[:-1]:
        children = (
            list(node) if isinstance(node, dict) else list(range(len(node))) if isinstance(node, list) else []
        )
        if not children or not isinstance(node[children[step % len(children)]], dict | list):
            break
        key = children[step % len(children)]
        node, path = node[key], [*path, key]
    children = list(node) if isinstance(node, dict) else list(range(len(node)))
    if operation == "add" or not children:
        if isinstance(node, dict):
            node[f"extra{steps[-1]}"] = value
        else:
            node.append(value)
        return f"{path} + extra"
    key = children[steps[-1] % len(children)]
    if operation == "delete":
        del node[key]
    else:
        node[key] = value
    return f"{[*path, key]} {operation}"


@pytest.fixture(scope="module")
def server() -> Iterator[ProviderServer]:
    with ProviderServer(cwd=REPO) as running:
        yield running


@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(mutation=mutations())
def test_every_mutant_is_deployed_or_refused_before_any_write(
    mutation: tuple[str, list[int], str, Any],
    server: ProviderServer,
    emulator: Any,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for variable in ("SEGMENT_API_TOKEN", "SEGMENT_API_REGION", "SEGMENT_API_URL"):
        monkeypatch.delenv(variable, raising=False)
    emulator.reset()
    stack = base_stack(emulator, "dev")
    target, steps, operation, value = mutation
    if target == "config":
        # The config as Pulumi holds it: one JSON document per key, which the mutation may reach into.
        keys = sorted(k for k in stack.config if k not in UNTOUCHED)
        decoded = {k: _json_or_text(stack.config[k]) for k in keys}
        where = _mutate(decoded, steps, operation, value)
        for key in keys:
            if key not in decoded:
                stack.config.pop(key)
        for key, item in decoded.items():
            stack.config[key] = item if isinstance(item, str) else json.dumps(item)
    else:
        definitions = copy.deepcopy(stack.definitions)
        where = _mutate(definitions, steps, operation, value)
        path = tmp_path_factory.mktemp("mutant") / "definitions.yaml"
        path.write_text(yaml.safe_dump(definitions, allow_unicode=False))
        stack.config[f"{NS}:definitionsFile"] = str(path)

    secret_keys = stack.secret_keys & set(stack.config)  # a mutant may remove a secret key
    engine = ProgramEngine(server, stack="dev", config=stack.config, secret_keys=secret_keys)
    emulator.clear_requests()
    try:
        engine.up(MAIN)
    except (pulumi.RunError, DeploymentFailed) as error:
        message = str(error)
        writes = [f"{r.method} {r.path}" for r in emulator.requests if r.method in MUTATING]
        assert writes == [], f"{target} {where}: refused after writing {writes}:\n{message}"
        assert len(engine.state) == 0, f"{target} {where}: refused after registering resources:\n{message}"
        assert "Traceback" not in message and 'File "' not in message, f"{target} {where}:\n{message}"
        assert REFUSED in message or "segment:" in message or f"{NS}:" in message, (
            f"{target} {where}: the refusal names no config key:\n{message}"
        )
    # Anything else (a KeyError, a TypeError…) propagates: an unhandled exception fails the property.


def _json_or_text(raw: str) -> Any:
    try:
        decoded = json.loads(raw)
    except json.JSONDecodeError:
        return raw
    return decoded if isinstance(decoded, dict | list) else raw
