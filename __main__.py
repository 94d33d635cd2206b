"""Pulumi program entry point: the Flex Unified Profiles setup of one stack (`pulumi up --stack dev`)."""

from segment_provider.program import run

run()
