"""One environment, one stack, one space: what a stack refuses before any call (issue 13, item 1).

Each test loads a stack's config the way the program does, in a project directory that also holds the other
stack's file, and checks the refusal names the config key and the fix (``ConfigError``, no traceback).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from flex_program.config import NAMESPACE, ConfigError, load_program_config

REPO = Path(__file__).resolve().parents[2]
NS = NAMESPACE


def stack_file(name: str) -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load((REPO / f"Pulumi.{name}.yaml").read_text())["config"]
    return config


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project with the repository's two stack files and definitions."""
    for name in ("Pulumi.yaml", "Pulumi.dev.yaml", "Pulumi.prod.yaml", "definitions.yaml"):
        (tmp_path / name).write_text((REPO / name).read_text())
    return tmp_path


def load(project: Path, stack_name: str, config: dict[str, Any]) -> Any:
    import json

    wire = {k: json.dumps(v) if isinstance(v, dict | list) else v for k, v in config.items()}
    return load_program_config(wire.get, lambda key: key == "segment:token", stack_name, project)


def problems(project: Path, stack_name: str, config: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ConfigError) as raised:
        load(project, stack_name, config)
    return {p.key: p.message for p in raised.value.problems}


def test_the_repositorys_dev_and_prod_stacks_share_nothing(project: Path) -> None:
    for name in ("dev", "prod"):
        assert load(project, name, stack_file(name)).stack.environment == name


def test_prods_config_copied_into_the_dev_stack_is_refused_naming_each_shared_object(project: Path) -> None:
    prod = stack_file("prod")
    copied = {**prod, f"{NS}:environment": "dev", f"{NS}:protect": False, f"{NS}:adopt": True}
    (project / "Pulumi.dev.yaml").write_text(yaml.safe_dump({"config": copied}))

    found = problems(project, "dev", copied)

    assert set(found) == {
        f"{NS}:space.slug",
        f"{NS}:salesforce.sourceSlug",
        f"{NS}:salesforce.name",
        f"{NS}:reverseEtl.sourceSlug",
        f"{NS}:reverseEtl.name",
        f"{NS}:warehouse.name",
    }
    assert "is the prod space (Pulumi.prod.yaml names it)" in found[f"{NS}:space.slug"]
    assert "stack 'prod' (Pulumi.prod.yaml)" in found[f"{NS}:salesforce.sourceSlug"]
    assert "Give this stack its own source slug" in found[f"{NS}:salesforce.sourceSlug"]


def test_prod_as_it_is_refuses_a_slug_the_dev_stack_file_names(project: Path) -> None:
    prod = stack_file("prod")
    prod[f"{NS}:reverseEtl"] = {**prod[f"{NS}:reverseEtl"], "sourceSlug": "flex_dev_reverse_etl"}

    found = problems(project, "prod", prod)

    assert list(found) == [f"{NS}:reverseEtl.sourceSlug"]
    assert "stack 'dev' (Pulumi.dev.yaml)" in found[f"{NS}:reverseEtl.sourceSlug"]


def test_a_source_name_shared_in_another_case_is_still_shared(project: Path) -> None:
    dev = stack_file("dev")
    dev[f"{NS}:salesforce"] = {**dev[f"{NS}:salesforce"], "name": "  flex prod SALESFORCE "}

    assert list(problems(project, "dev", dev)) == [f"{NS}:salesforce.name"]


@pytest.mark.parametrize(
    ("stack_name", "environment"),
    [("dev", "prod"), ("prod", "dev"), ("dev-alice", "prod"), ("prod-eu", "dev")],
)
def test_an_environment_that_contradicts_the_stack_name_is_refused(
    project: Path, stack_name: str, environment: str
) -> None:
    config = stack_file(environment)
    config[f"{NS}:space"] = {"slug": f"flex-{stack_name}-space"}

    found = problems(project, stack_name, config)

    assert "stack's environment follows its name" in found[f"{NS}:environment"]


def test_a_stack_named_neither_dev_nor_prod_takes_the_configured_environment(project: Path) -> None:
    config = copy.deepcopy(stack_file("dev"))
    (project / "Pulumi.dev.yaml").unlink()

    assert load(project, "staging", config).stack.environment == "dev"


def test_a_prod_space_without_a_prod_stack_file_is_still_refused_for_dev(project: Path) -> None:
    (project / "Pulumi.prod.yaml").unlink()
    dev = stack_file("dev")
    dev[f"{NS}:space"] = {"slug": "unified-profiles-prod"}

    found = problems(project, "dev", dev)

    assert list(found) == [f"{NS}:space.slug"]
    assert "reads as a production space" in found[f"{NS}:space.slug"]


def test_an_unreadable_other_stack_file_is_named(project: Path) -> None:
    (project / "Pulumi.prod.yaml").write_text("config: [unclosed\n")

    assert list(problems(project, "dev", stack_file("dev"))) == ["Pulumi.prod.yaml"]
