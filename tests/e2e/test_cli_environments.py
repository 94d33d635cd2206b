"""One environment, one stack, one space, under the real ``pulumi`` CLI (issue 13, items 1 and 2).

The headline harm: prod's config copied into the dev stack file, with ``adopt: true, protect: false``. Before,
``pulumi up --stack dev`` took over prod's objects and ``pulumi destroy --stack dev`` deleted them. Now both change
nothing: the program refuses the config before any call, and prod's objects are left as they were.
"""

from __future__ import annotations

import yaml

from segment_emulator import Emulator
from tests.e2e.conftest import NS, CliStack, mutating, segment_objects
from tests.program.ready_stack import SAMPLE_USER, finish_the_manual_steps

PROD_SPACE = "unified-profiles-prod"


def test_prods_config_in_the_dev_stack_file_is_refused_by_up_and_destroy_changes_nothing(
    cli_project: CliStack, flex_emulator: Emulator
) -> None:
    cli_project.init("prod", flex_emulator)
    cli_project.deploy("prod")
    prod_before = segment_objects(flex_emulator, PROD_SPACE)
    labels = {
        s["slug"]: s["labels"]
        for s in flex_emulator.store.sources.values()
        if s["slug"].startswith("flex_prod_")
    }
    assert labels and all(
        v == [{"key": "environment", "value": "prod", "description": None}] for v in labels.values()
    )
    # What a new user did: prod's stack file copied over dev's, then told to adopt and not protect.
    prod_file = yaml.safe_load((cli_project.project / "Pulumi.prod.yaml").read_text())
    copied = {k: v for k, v in prod_file["config"].items() if not isinstance(v, dict) or "secure" not in v}
    copied.update({f"{NS}:adopt": True, f"{NS}:protect": False})
    (cli_project.project / "Pulumi.dev.yaml").write_text(yaml.safe_dump({"config": copied}))
    cli_project.init("dev", flex_emulator)
    flex_emulator.clear_requests()

    up = cli_project.pulumi("up", "--stack", "dev", "--yes", check=False)
    destroyed = cli_project.pulumi("destroy", "--stack", "dev", "--yes", check=False)

    output = up.stdout + up.stderr
    assert up.returncode != 0
    for key in (
        "environment",
        "space.slug",
        "salesforce.sourceSlug",
        "reverseEtl.sourceSlug",
        "warehouse.name",
    ):
        assert f"{NS}:{key}" in output, (key, output)
    assert "is the prod space (Pulumi.prod.yaml names it)" in output
    assert "Traceback" not in output, output
    assert mutating(flex_emulator) == [], "refused before any mutating call"
    assert destroyed.returncode == 0, destroyed.stdout + destroyed.stderr
    assert segment_objects(flex_emulator, PROD_SPACE) == prod_before


def test_promote_refuses_a_target_that_is_the_source_stacks_space(
    cli_stack: CliStack, flex_emulator: Emulator
) -> None:
    cli_stack.init("prod", flex_emulator)
    # prod names dev's space by its name (not its slug): only Segment's space id shows it is the same space.
    cli_stack.pulumi("config", "rm", "--path", "--stack", "prod", f"{NS}:space.slug")
    cli_stack.set("prod", "space.name", "Unified Profiles Dev")
    cli_stack.set("dev", "verify.sampleUserId", SAMPLE_USER)
    cli_stack.deploy()
    finish_the_manual_steps(flex_emulator)
    cli_stack.commit()
    before = segment_objects(flex_emulator)
    flex_emulator.clear_requests()

    promoted = cli_stack.python("flex_tools.promote", "--from-stack", "dev", "--to-stack", "prod", "--yes")

    assert promoted.returncode == 1, promoted.stdout + promoted.stderr
    assert "promotion stopped: target space:" in promoted.stderr, promoted.stderr
    assert "is the same Segment space as dev's" in promoted.stderr
    assert "Traceback" not in promoted.stdout + promoted.stderr
    assert mutating(flex_emulator) == []
    assert segment_objects(flex_emulator) == before
