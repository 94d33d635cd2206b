"""Pulumi program entry point: the Flex Unified Profiles setup of one stack (`pulumi up --stack dev`)."""

from flex_program.provider_start import start_provider_for_a_preview
from segment_provider.api.collector import collector_paused

# In a preview, the Segment objects' provider process starts while the program imports (provider_start.py).
start_provider_for_a_preview()

# Imported with Python's garbage collector paused: a quarter of the import's time otherwise (collector.py).
with collector_paused():
    from flex_program.program import run

run()
