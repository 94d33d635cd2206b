"""The API gate the provider closes when its engine is gone: after it, reads still go out, changes do not."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from segment_emulator import Emulator

GATED_CLIENT = textwrap.dedent(
    """
    import sys
    from segment_provider.api import ClientSettings, SegmentClient, halt
    client = SegmentClient(ClientSettings.resolve(token=sys.argv[1], endpoint=sys.argv[2], max_retries=0))
    client.list_sources()
    halt.close("the engine is gone")
    for change in (lambda: client.delete_source("any-source"), lambda: client.add_labels_to_source("any", [])):
        try:
            change()
        except halt.HaltedError as refused:
            print(refused)
    print(len(client.list_sources()))
    """
)


def test_a_closed_gate_lets_reads_through_and_starts_no_change(emulator: Emulator) -> None:
    done = subprocess.run(
        [sys.executable, "-c", GATED_CLIENT, emulator.token, emulator.url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[:2] == [
        "deleteSource not sent: the engine is gone",
        "addLabelsToSource not sent: the engine is gone",
    ]
    assert [r.method for r in emulator.requests] == ["GET", "GET"]
