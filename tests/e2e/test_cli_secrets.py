"""No secret in plain text in the real state file or in anything the CLI prints, verbose logging included.

Every secret of the stack is a sentinel value (tests/e2e/conftest.py), and so are the write keys Segment gives
the sources; the test looks for each of them in the whole ``pulumi stack export`` (the ``__provider`` blobs,
every input and output) and in the CLI's stdout and stderr.
"""

from __future__ import annotations

import json

from segment_emulator import Emulator
from tests.e2e.conftest import CliStack, sentinel_values, write_keys


def leaks(text: str, secrets: list[str]) -> list[str]:
    return [secret for secret in secrets if secret in text]


def test_no_secret_in_the_exported_state_nor_in_the_verbose_cli_output(
    cli_stack: CliStack, flex_emulator: Emulator
) -> None:
    cli_stack.transcript.clear()
    cli_stack.pulumi("up", "--stack", "dev", "--yes", "--verbose", "9", "--logtostderr", "--logflow")
    cli_stack.pulumi("refresh", "--stack", "dev", "--yes", "--verbose", "9", "--logtostderr", "--logflow")
    cli_stack.pulumi("preview", "--diff", "--stack", "dev", "--verbose", "9", "--logtostderr", "--logflow")
    cli_stack.outputs()
    secrets = sentinel_values() + write_keys(flex_emulator)
    assert len(write_keys(flex_emulator)) >= 2, "the sources' write keys are part of the check"

    exported = cli_stack.exported()
    resources = exported["deployment"]["resources"]
    state = json.dumps(exported)
    assert leaks(state, secrets) == [], "a secret reached the state file in plain text"
    providers = [r["inputs"]["__provider"] for r in resources if "__provider" in (r.get("inputs") or {})]
    assert len(providers) >= 10, "every dynamic resource carries its pickled provider"
    assert exported["deployment"]["secrets_providers"]["type"] == "passphrase"
    assert "ciphertext" in state, "the secrets are in the state, encrypted with the passphrase"

    printed = "\n".join(cli_stack.transcript)
    assert "Configure" in printed or "configure" in printed, "verbose logging was on: the RPCs are in the log"
    assert leaks(printed, secrets) == [], "a secret reached the CLI's output"
