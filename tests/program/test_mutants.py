"""Property: any mutant of the demo stack config or of definitions.yaml is either deployed, or refused before
anything is written to Segment with a ConfigError-style message. Never an unhandled exception, and nothing that
reaches Segment lies outside the documented rules (docs/bad-input.md): no hidden character in a name or setting,
no computed trait whose key is not ASCII snake_case, no window, frequency, retry count or schedule value out of
its range.

A mutant changes one value somewhere in the stack config or in the definitions (at any depth): a wrong type,
a missing or an extra key, a hostile string (line breaks, bidi controls, zero-width and look-alike characters,
NUL, 5000 characters, text drawn from Unicode's control, format, separator and letter categories), a huge,
negative or non-finite number; or it sets a client tuning key (``segment:maxRetries`` …), the schedule, or adds a
computed trait whose name, window and frequency are drawn the same way.

The example count is fixed and the search derandomized, so CI runs the same mutants every time;
``FLEX_MUTANT_EXAMPLES=2000`` (docs/testing.md) runs more.
"""

from __future__ import annotations

import copy
import json
import os
import re
import unicodedata
from collections.abc import Iterator
from typing import Any

import pulumi
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flex_program.traits import (
    MAX_MIN_FREQUENCY,
    MAX_WINDOW_DAYS,
    MAX_WINDOW_HOURS,
    TRAIT_KEY_SHAPE,
    trait_key,
)
from segment_provider.resources.base import CLIENT_TUNING_KEYS, TUNING_RANGES, client_tuning
from segment_provider.rules import hidden_character
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
    "NO",
    "on",
    "ünïcödé",
    "Voice\u200dinbounds",
    "Sales\u00a0force",
    "\ufeffbom",
    "soft\u00adhyphen",
    "x\u061cy",
    "Uni\u3000fied",
    "word\u2060joiner",
    "\u200eltr\u200f",
    "\uff34\uff2f\uff34\uff21\uff2c \uff29\uff2e\uff22\uff2f\uff35\uff2e\uff24\uff33",
    "\u0422otal inbounds",
    "America",
    "localtime",
    "Europe/" + "x" * 293,
    "\u0663",
    "1_000",
    " 3 ",
    "..",
    "a%2F..%2Fb",
    "total_inbounds,email",
    " 12345 ",
    "SELECT ID FROM salesforce.accounts -- c",
    "SELECT $$a;b$$ AS X, ID FROM salesforce.accounts",
]
UNICODE_TEXT = st.text(
    alphabet=st.characters(
        categories=[
            "Cc",
            "Cf",
            "Co",
            "Cs",
            "Zs",
            "Zl",
            "Zp",
            "Lu",
            "Ll",
            "Lo",
            "Lm",
            "Mn",
            "Nd",
            "Nl",
            "Pd",
            "Sm",
        ]
    ),
    max_size=12,
)
"""Text from Unicode's control, format, private, surrogate and separator categories, and letters and digits of
every script."""
EXTREME_NUMBERS = st.one_of(
    st.sampled_from(
        [
            *(
                0,
                -1,
                1,
                2**31,
                2**53 - 1,
                2**53,
                -(2**53),
                10**12,
                10**30,
                -(10**30),
                1.5,
                -0.0,
                5e-324,
                1e308,
            ),
            *(6, 7, 23, 24, 10, 11, 600, 601, 3650, 3651, 8760, 8761, 10_000, 10_001),
            *(float("inf"), float("-inf"), float("nan")),
        ]
    ),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
)
HOSTILE_VALUES = st.one_of(
    st.sampled_from(HOSTILE_STRINGS),
    EXTREME_NUMBERS,
    st.sampled_from([True, False, None, [], {}, [1, "a"], {"k": "v"}, {"": None}]),
    st.text(max_size=20),
    UNICODE_TEXT,
)
HOSTILE_NAMES = st.one_of(
    st.sampled_from(HOSTILE_STRINGS),
    UNICODE_TEXT,
    st.builds(lambda a, b: f"Voice {a}{b} inbounds", UNICODE_TEXT, UNICODE_TEXT),
)


@st.composite
def mutations(draw: st.DrawFn) -> tuple[str, list[int], str, Any]:
    """Where (``config``, ``definitions``, ``tuning``, ``schedule``, ``trait``), the path of keys to the value,
    what to do, the new value."""
    target = draw(
        st.sampled_from(["config", "config", "definitions", "definitions", "tuning", "schedule", "trait"])
    )
    steps = draw(st.lists(st.integers(min_value=0, max_value=50), min_size=1, max_size=6))
    operation = draw(st.sampled_from(["replace", "replace", "delete", "add"]))
    if target == "tuning":
        value = draw(st.one_of(EXTREME_NUMBERS, st.sampled_from(HOSTILE_STRINGS), UNICODE_TEXT))
    elif target == "schedule":
        value = draw(schedules())
    elif target == "trait":
        value = draw(traits())
    else:
        value = draw(HOSTILE_VALUES)
    return target, steps, operation, value


@st.composite
def schedules(draw: st.DrawFn) -> dict[str, Any]:
    numbers = st.lists(st.one_of(EXTREME_NUMBERS, st.integers(0, 30)), min_size=1, max_size=3)
    zone = st.one_of(st.sampled_from(["UTC", "Europe/Paris", *HOSTILE_STRINGS]), UNICODE_TEXT)
    identifier = st.one_of(st.sampled_from(["12345", " 12345 ", "\u0663", "1_000"]), UNICODE_TEXT)
    return draw(
        st.one_of(
            st.fixed_dictionaries(
                {
                    "strategy": st.just("SPECIFIC_DAYS"),
                    "config": st.fixed_dictionaries({"days": numbers, "hours": numbers, "timezone": zone}),
                }
            ),
            st.fixed_dictionaries(
                {
                    "strategy": st.just("CRON"),
                    "config": st.fixed_dictionaries(
                        {
                            "spec": st.sampled_from(["0 * * * *", "*/5 * * * *", "0 \u0663 * * *"]),
                            "timezone": zone,
                        }
                    ),
                }
            ),
            st.fixed_dictionaries(
                {
                    "strategy": st.just("DBT_CLOUD"),
                    "config": st.fixed_dictionaries({"jobId": identifier, "accountId": identifier}),
                }
            ),
            st.fixed_dictionaries(
                {
                    "strategy": st.just("PERIODIC"),
                    "config": st.fixed_dictionaries(
                        {"interval": st.sampled_from(["15m", "\u0663h", "1e3m", "167h", "9" * 40 + "h"])}
                    ),
                }
            ),
        )
    )


@st.composite
def traits(draw: st.DrawFn) -> dict[str, Any]:
    """A custom computed trait: a name, a window and (for most_frequent) a frequency drawn from the extremes."""
    window = draw(
        st.one_of(
            st.fixed_dictionaries({"within": st.fixed_dictionaries({"days": EXTREME_NUMBERS})}),
            st.fixed_dictionaries({"within": st.fixed_dictionaries({"hours": EXTREME_NUMBERS})}),
            st.fixed_dictionaries(
                {"between": st.fixed_dictionaries({"fromDays": st.integers(0, 5), "toDays": EXTREME_NUMBERS})}
            ),
        )
    )
    aggregation = draw(
        st.one_of(
            st.just({"type": "count"}),
            st.fixed_dictionaries(
                {
                    "type": st.just("most_frequent"),
                    "property": st.just("channelType"),
                    "minFrequency": EXTREME_NUMBERS,
                }
            ),
        )
    )
    name = draw(st.one_of(HOSTILE_NAMES, st.sampled_from(["Voice inbounds", "Calls last week"])))
    return {
        "name": name,
        "event": "Flex - Engagement Initiated",
        "window": window,
        "aggregation": aggregation,
    }


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


# pytest-timeout's limit is for the whole search: a few seconds a mutant (a deployed one takes longest).
@pytest.mark.timeout(300 + 3 * EXAMPLES)
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
    if target == "tuning":
        key = sorted(CLIENT_TUNING_KEYS)[steps[-1] % len(CLIENT_TUNING_KEYS)]
        stack.config[key] = value if isinstance(value, str) else json.dumps(value)
        where = f"{key} = {stack.config[key]!r}"
    elif target == "schedule":
        stack.config[f"{NS}:schedule"] = json.dumps(value)
        where = f"schedule = {stack.config[f'{NS}:schedule']}"
    elif target == "trait":
        emulator.seed_flex_events()  # so the trait is created, not left waiting for Flex events
        definitions = copy.deepcopy(stack.definitions)
        definitions["traits"]["custom"] = [value]
        where = f"trait {value!r}"
        path = tmp_path_factory.mktemp("mutant") / "definitions.yaml"
        path.write_text(yaml.safe_dump(definitions, allow_unicode=False))
        stack.config[f"{NS}:definitionsFile"] = str(path)
    elif target == "config":
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
    else:
        secrets = {json.dumps(v) for k in secret_keys for v in _strings(_json_or_text(stack.config[k]))}
        problems = sent_outside_the_rules(emulator.requests, secrets) + tuning_outside_the_ranges(
            stack.config
        )
        assert problems == [], f"{target} {where}: deployed, but {problems}"
    # Anything else (a KeyError, a TypeError…) propagates: an unhandled exception fails the property.


FREE_TEXT = {"private_key", "query", "description"}
"""Request fields that may span lines: PEM keys, SQL, descriptions."""


def _strings(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [text for item in value.values() for text in _strings(item)]
    if isinstance(value, list):
        return [text for item in value for text in _strings(item)]
    return [value] if isinstance(value, str) else []


def sent_outside_the_rules(requests: list[Any], secrets: set[str]) -> list[str]:
    """What the deployment sent to Segment that the documented rules refuse; ``secrets`` (JSON-quoted) are the
    credentials, opaque values passed on as given (a PEM key spans lines)."""
    problems: list[str] = []

    def walk(value: Any, field: str, operation: str) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                walk(item, str(key), operation)
        elif isinstance(value, list):
            for item in value:
                walk(item, field, operation)
        elif (
            isinstance(value, str)
            and field not in FREE_TEXT
            and json.dumps(value) not in secrets
            and (ch := hidden_character(value))
        ):
            problems.append(f"{operation} sent {field} holding {ch}")

    for request in requests:
        if request.method not in MUTATING or not isinstance(request.body, dict):
            continue
        walk(request.body, "", str(request.operation_id))
        if request.operation_id == "createComputedTrait":
            problems += trait_outside_the_rules(request.body)
        schedule = request.body.get("reverseETLSchedule") or (request.body.get("input") or {}).get(
            "reverseETLSchedule"
        )
        if isinstance(schedule, dict) and schedule.get("strategy") == "SPECIFIC_DAYS":
            config = schedule["config"]
            if not all(0 <= d <= 6 for d in config["days"]) or not all(0 <= h <= 23 for h in config["hours"]):
                problems.append(f"schedule {config} out of range")
    return problems


def trait_outside_the_rules(body: dict[str, Any]) -> list[str]:
    name, query = body["name"], body["definition"]["query"]
    problems = []
    if unicodedata.normalize("NFKC", name) != name or not TRAIT_KEY_SHAPE.fullmatch(trait_key(name)):
        problems.append(f"trait name {name!r} whose key is not ASCII snake_case")
    limits = {"day": MAX_WINDOW_DAYS, "hour": MAX_WINDOW_HOURS}
    for amount, unit in re.findall(r"(\d+) (day|hour)s?\b", query):
        if not 1 <= int(amount) <= limits[unit] and not (amount == "0" and "between(0 day" in query):
            problems.append(f"window of {amount} {unit}s")
    for frequency in re.findall(r"mode\(.*, (\d+)\)", query):
        if not 1 <= int(frequency) <= MAX_MIN_FREQUENCY:
            problems.append(f"minFrequency {frequency}")
    return problems


def tuning_outside_the_ranges(config: dict[str, str]) -> list[str]:
    """The client tuning the deployment accepted, against TUNING_RANGES (docs/bad-input.md)."""
    tuning = client_tuning(config.get)
    return [
        f"{option} = {value}"
        for option, value in tuning.items()
        if not TUNING_RANGES[option][0] <= value <= TUNING_RANGES[option][1]
    ]


def _json_or_text(raw: str) -> Any:
    try:
        decoded = json.loads(raw)
    except json.JSONDecodeError:
        return raw
    return decoded if isinstance(decoded, dict | list) else raw
