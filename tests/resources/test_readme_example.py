"""The README's example of the resources in someone else's Pulumi program runs as written.

The code block after the ``readme-example`` marker is written out as that program's ``__main__.py`` and run
under the engine stand-in against the emulator, so an example that no longer works fails here.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.harness import REPO_ROOT, ProgramEngine, ProviderServer

README = REPO_ROOT / "README.md"
MARKER = "<!-- readme-example:"
PROJECT = "my-segment"
SPACE = "unified-profiles-dev"


def readme_example() -> str:
    text = README.read_text()
    assert text.count(MARKER) == 1, f"README.md must hold one {MARKER} block"
    match = re.search(re.escape(MARKER) + r"[^\n]*\n```python\n(?P<code>.*?)\n```", text, re.DOTALL)
    assert match, f"the {MARKER} line must be followed by a ```python block"
    return match["code"] + "\n"


def traits_named(emulator: Any, name: str) -> list[dict[str, Any]]:
    with emulator.store_lock:
        return [dict(t) for t in emulator.store.computed_traits.values() if t["name"] == name]


def test_the_readme_example_creates_a_trait_in_an_existing_space_and_destroys_it(
    server: ProviderServer, emulator: Any, tmp_path: Path
) -> None:
    program = tmp_path / "__main__.py"
    program.write_text(readme_example())
    engine = ProgramEngine(
        server,
        project=PROJECT,
        config={
            "segment:token": emulator.token,
            "segment:endpoint": emulator.url,
            f"{PROJECT}:spaceSlug": SPACE,
        },
        secret_keys={"segment:token"},
    )

    result = engine.up(program)

    space_id = emulator.space(SPACE)["id"]
    assert result.outputs == {"spaceId": space_id, "traitKey": "orders_placed"}
    [trait] = traits_named(emulator, "Orders placed")
    assert trait["definition"]["query"] == "event('Order Completed').count()"
    engine.expect_no_changes(program)

    engine.destroy()

    assert traits_named(emulator, "Orders placed") == []
    assert emulator.space(SPACE)["id"] == space_id, "a destroy releases the space, never deletes it"
