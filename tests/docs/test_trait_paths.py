"""docs/traits.md's path for removing a trait on protected prod, run as the page shows it with the real CLI:
Pulumi refuses the delete, the page's commands unprotect that one trait, and the next `up` deletes it."""

from __future__ import annotations

import subprocess

import pytest
import yaml

from segment_emulator import Emulator
from tests.docs.readme_blocks import REPO, readme_script
from tests.e2e.conftest import CliStack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1200)]

PROD_SPACE = "unified-profiles-prod"


def prod_traits(emulator: Emulator) -> set[str]:
    space_id = emulator.space(PROD_SPACE)["id"]
    with emulator.store_lock:
        return {t["key"] for t in emulator.store.computed_traits.values() if t.get("spaceId") == space_id}


def test_a_trait_left_out_on_protected_prod_is_deleted_after_the_documented_unprotect(
    cli_project: CliStack, flex_emulator: Emulator
) -> None:
    cli_project.init("prod", flex_emulator)
    cli_project.deploy("prod")
    assert "total_outbounds" in prod_traits(flex_emulator)
    definitions = cli_project.project / "definitions.yaml"
    document = yaml.safe_load(definitions.read_text())
    document["traits"]["guide"]["total_outbounds"] = False
    definitions.write_text(yaml.safe_dump(document, sort_keys=False))

    refused = cli_project.pulumi("up", "--stack", "prod", "--yes", check=False)
    said = refused.stdout + refused.stderr
    assert refused.returncode != 0 and "cannot be deleted" in said and "because it is protected" in said, said
    assert "total_outbounds" in prod_traits(flex_emulator)

    urns = cli_project.pulumi("stack", "--stack", "prod", "--show-urns").stdout
    [urn] = [
        word for word in urns.split() if word.startswith("urn:") and word.endswith("::trait-total_outbounds")
    ]
    script = readme_script("remove-trait-on-prod", (REPO / "docs" / "traits.md").read_text())
    done = subprocess.run(
        ["bash", "-c", script],
        cwd=cli_project.project,
        env={**cli_project.env, "URN": urn},
        capture_output=True,
        text=True,
        timeout=900,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert "total_outbounds" not in prod_traits(flex_emulator)
    assert len(prod_traits(flex_emulator)) == 5, "the other traits stay"
    still_protected = [r for r in cli_project.resources("prod") if r["type"].endswith("ComputedTrait")]
    assert still_protected and all(r.get("protect") for r in still_protected)
