"""Hostile stack config and definitions files: each is refused by ``load_program_config`` (before any API call)
with the key named, and no secret repeated."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from flex_program.config import ConfigError
from segment_provider.api import secrets as secret_values
from tests.program.test_config import NS, VALID_STACK, load

TOKEN = "sgp_hostile_config_token_0123456789"


def refused(stack: dict[str, Any], project: Path | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load(stack, project=project) if project is not None else load(stack)
    return caught.value


def keys(error: ConfigError) -> list[str]:
    return [p.key for p in error.problems]


@pytest.mark.parametrize(
    "setting", ["pwd", "api_key", "apikey", "key", "auth", "access_key_id", "ssh_key", "authToken"]
)
@pytest.mark.parametrize("section", ["warehouse", "reverseEtl"])
def test_every_credential_looking_setting_is_refused_in_plain_settings(section: str, setting: str) -> None:
    stack = copy.deepcopy(VALID_STACK)
    stack[f"{NS}:{section}"]["settings"][setting] = "plain-credential-value"

    error = refused(stack)

    assert f"{NS}:{section}.settings" in keys(error)
    assert setting in str(error) and "plain-credential-value" not in str(error)


def test_a_profile_api_token_that_cannot_be_a_header_is_refused_at_config_time() -> None:
    error = refused({**VALID_STACK, f"{NS}:profileApiToken": "tök en"})

    assert f"{NS}:profileApiToken" in keys(error)
    assert "tök en" not in str(error)


def project_with(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "definitions.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return tmp_path


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("model:\n  name: a\nmodel:\n  name: b\n", "given twice"),
        ("traits:\n  guide:\n    a: true\n    a: false\n", "given twice"),
        ("a: &x [1, 2]\nb: *x\n", "aliases"),
        (
            "lol: &a ['lol','lol']\nl2: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nl3: [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n",
            "aliases",
        ),
        ("", "is empty"),
        ("# only a comment\n", "no definitions"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00", "binary"),
    ],
    ids=[
        "duplicate-top-key",
        "duplicate-nested-key",
        "alias",
        "alias-bomb",
        "empty",
        "comments-only",
        "binary",
    ],
)
def test_a_hostile_definitions_file_is_refused(tmp_path: Path, text: str | bytes, words: str) -> None:
    error = refused(VALID_STACK, project_with(tmp_path, text))

    assert words in str(error)
    assert any(k in (f"{NS}:definitionsFile", "definitions.yaml") for k in keys(error))


def test_definitions_file_may_not_lead_out_of_the_project(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (tmp_path / "outside.yaml").write_text("model: {}\n")

    error = refused({**VALID_STACK, f"{NS}:definitionsFile": "../outside.yaml"}, project)

    assert keys(error) == [f"{NS}:definitionsFile"] and "outside the project" in str(error)


def test_definitions_file_that_is_a_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "defs").mkdir()

    error = refused({**VALID_STACK, f"{NS}:definitionsFile": "defs"}, tmp_path)

    assert "not a regular file" in str(error)


def test_yaml_errors_name_the_place_without_quoting_the_line(tmp_path: Path) -> None:
    secret_values.register(TOKEN)
    error = refused(
        {**VALID_STACK, "segment:token": TOKEN}, project_with(tmp_path, f"model:\n  name: [{TOKEN}\n")
    )

    assert "line" in str(error) and "definitions.yaml" in keys(error)
    assert TOKEN not in str(error) and TOKEN[:12] not in str(error)
