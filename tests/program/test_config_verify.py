"""The optional ``verify`` and ``profileApi`` stack config the doctor reads: defaults, values, and refusals."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from flex_program.config import NAMESPACE, ConfigError, expected_profile_traits
from tests.program.ready_stack import GUIDE_TRAIT_KEYS
from tests.program.test_config import REPO, VALID_STACK, load

NS = NAMESPACE


def with_config(**values: Any) -> dict[str, Any]:
    return {**VALID_STACK, **{f"{NS}:{key}": value for key, value in values.items()}}


def problems(stack: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ConfigError) as raised:
        load(stack)
    return {p.key: p.message for p in raised.value.problems}


def test_without_verify_no_sample_user_and_every_enabled_trait_is_expected() -> None:
    program = load(VALID_STACK)

    assert program.stack.verify.sample_user_id is None
    assert program.stack.profile_api.endpoint is None and program.stack.profile_api.space_id is None
    assert expected_profile_traits(program) == GUIDE_TRAIT_KEYS


def test_expected_traits_default_to_the_keys_of_the_enabled_traits(tmp_path: Any) -> None:
    from tests.program.test_config import definitions_dir

    project = definitions_dir(tmp_path, {"traits": {"guide": {"total_outbounds": False}}})
    program = load(with_config(verify={"sampleUserId": "001A000001abcDE"}), project=project)

    assert program.stack.verify.sample_user_id == "001A000001abcDE"
    assert expected_profile_traits(program) == [k for k in GUIDE_TRAIT_KEYS if k != "total_outbounds"]


def test_expected_traits_given_replace_the_default() -> None:
    program = load(with_config(verify={"sampleUserId": "u-1", "expectedTraits": ["total_inbounds", "phone"]}))

    assert expected_profile_traits(program) == ["total_inbounds", "phone"]


def test_profile_api_endpoint_and_space_id_are_read() -> None:
    program = load(
        with_config(profileApi={"endpoint": "http://127.0.0.1:8765/", "spaceId": "spa_9Fz2kLmN0pQ"})
    )

    assert program.stack.profile_api.endpoint == "http://127.0.0.1:8765"
    assert program.stack.profile_api.space_id == "spa_9Fz2kLmN0pQ"


@pytest.mark.parametrize(
    ("value", "key", "message"),
    [
        (
            {"expectedTraits": ["total_inbounds"]},
            f"{NS}:verify",
            "expectedTraits needs sampleUserId",
        ),
        ({"sampleUserId": "user_id:42"}, f"{NS}:verify.sampleUserId", "bare user id"),
        ({"sampleUserId": " 42 "}, f"{NS}:verify.sampleUserId", "spaces around"),
        ({"sampleUserId": ""}, f"{NS}:verify.sampleUserId", "at least 1 character"),
        ({"sampleUserId": "42", "expectedTraits": []}, f"{NS}:verify.expectedTraits", "at least one"),
        (
            {"sampleUserId": "42", "expectedTraits": ["a", "a"]},
            f"{NS}:verify.expectedTraits",
            "listed twice",
        ),
        ({"sampleUserId": "42", "expectedTraits": [" a"]}, f"{NS}:verify.expectedTraits", "spaces around it"),
        ({"sampleUser": "42"}, f"{NS}:verify.sampleUser", "unknown key"),
    ],
    ids=["traits-without-user", "prefixed", "spaces", "empty", "no-traits", "twice", "padded", "typo"],
)
def test_bad_verify_config_names_its_key_and_the_fix(value: Any, key: str, message: str) -> None:
    found = problems(with_config(verify=value))

    assert key in found, found
    assert message in found[key]


@pytest.mark.parametrize(
    ("value", "key", "message"),
    [
        ({"endpoint": "profiles.segment.com"}, f"{NS}:profileApi.endpoint", "not an http(s) URL"),
        ({"endpoint": "https://p.example?x=1"}, f"{NS}:profileApi.endpoint", "query or fragment"),
        ({"spaceId": "a/b"}, f"{NS}:profileApi.spaceId", "the id Segment shows"),
        ({"token": "secret"}, f"{NS}:profileApi.token", "unknown key"),
    ],
    ids=["no-scheme", "query", "slash", "token-in-plain-config"],
)
def test_bad_profile_api_config_names_its_key(value: Any, key: str, message: str) -> None:
    found = problems(with_config(profileApi=value))

    assert key in found, found
    assert message in found[key]
    assert "secret" not in str(found), "a value pasted into the wrong key must not be echoed"


def commented_example(stack: str, key: str) -> dict[str, Any]:
    """The commented-out ``flex-unified-profiles:<key>`` block of a committed stack file, as YAML."""
    lines = (REPO / f"Pulumi.{stack}.yaml").read_text().splitlines()
    start = lines.index(f"  # {NS}:{key}:")
    body = []
    for line in lines[start + 1 :]:
        if not line.startswith("  #   "):
            break
        body.append(line.removeprefix("  #   "))
    return dict(yaml.safe_load("\n".join(body)))


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_examples_commented_in_the_stack_files_are_valid(stack: str) -> None:
    verify = commented_example(stack, "verify")
    profile_api = commented_example(stack, "profileApi")
    profile_api["spaceId"] = "spa_example"  # the file shows a placeholder

    program = load(with_config(verify=verify, profileApi=profile_api))

    assert program.stack.verify.sample_user_id == verify["sampleUserId"]
    assert expected_profile_traits(program) == verify["expectedTraits"]
    assert program.stack.profile_api.endpoint == profile_api["endpoint"]
