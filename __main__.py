"""Pulumi program entry point: the Flex Unified Profiles setup of one stack (`pulumi up --stack dev`)."""

from segment_provider.api.collector import collector_paused

# Imported with Python's garbage collector paused: a quarter of the import's time otherwise (collector.py).
with collector_paused():
    from flex_program.program import run

run()
