"""The library stands alone: another Pulumi program imports it without the Flex program or the tools."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.harness import REPO_ROOT

LOADED = "import json, sys; {imports}; print(json.dumps(sorted(sys.modules)))"
EVERY_KIND = "import segment_provider.resources as kinds; [getattr(kinds, name) for name in kinds.__all__]"


def modules_loaded_by(imports: str, *, top_level: bool = True) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", LOADED.format(imports=imports)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    names = set(json.loads(done.stdout))
    return {name.split(".")[0] for name in names} if top_level else names


def test_the_resources_load_neither_the_flex_program_nor_the_tools() -> None:
    loaded = modules_loaded_by(EVERY_KIND)
    assert "segment_provider" in loaded and "pulumi" in loaded
    assert loaded.isdisjoint({"flex_program", "flex_tools", "segment_emulator", "tests"})


def test_a_kind_is_loaded_when_it_is_first_used_not_with_its_neighbours() -> None:
    """The provider process unpickles one kind's provider at a time: it loads that kind, not all of them."""
    kinds = "segment_provider.resources."
    package_alone = modules_loaded_by("import segment_provider.resources", top_level=False)
    assert not any(name.startswith(kinds) for name in package_alone)

    one_kind = modules_loaded_by("from segment_provider.resources import Source", top_level=False)
    loaded_kinds = {name.removeprefix(kinds) for name in one_kind if name.startswith(kinds)}
    assert "source" in loaded_kinds
    assert loaded_kinds.isdisjoint({"computed_trait", "destination", "destination_subscription", "warehouse"})


def test_the_api_client_loads_no_pulumi() -> None:
    loaded = modules_loaded_by("import segment_provider.api")
    assert "segment_provider" in loaded
    assert loaded.isdisjoint({"pulumi", "flex_program", "flex_tools"})
