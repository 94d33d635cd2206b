"""The library stands alone: another Pulumi program imports it without the Flex program or the tools."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.harness import REPO_ROOT

LOADED = "import json, sys; import {module}; print(json.dumps(sorted(sys.modules)))"


def modules_loaded_by(module: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", LOADED.format(module=module)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return {name.split(".")[0] for name in json.loads(done.stdout)}


def test_the_resources_load_neither_the_flex_program_nor_the_tools() -> None:
    loaded = modules_loaded_by("segment_provider.resources")
    assert "segment_provider" in loaded and "pulumi" in loaded
    assert loaded.isdisjoint({"flex_program", "flex_tools", "segment_emulator", "tests"})


def test_the_api_client_loads_no_pulumi() -> None:
    loaded = modules_loaded_by("segment_provider.api")
    assert "segment_provider" in loaded
    assert loaded.isdisjoint({"pulumi", "flex_program", "flex_tools"})
