"""A local, stateful emulator of Segment's Public API (73.2.0) for tests and the demo.

    from segment_emulator import Emulator
    with Emulator(port=0) as emu:          # emu.url, emu.token
        ...

Or from a shell: ``segment-emulator --port 8765``. See docs/emulator.md.
"""

from segment_emulator.emulator import DEFAULT_TOKEN, TOKEN_ENV, Emulator
from segment_emulator.faults import Fault
from segment_emulator.records import RecordedRequest
from segment_emulator.store import Store

__all__ = ["DEFAULT_TOKEN", "TOKEN_ENV", "Emulator", "Fault", "RecordedRequest", "Store"]
