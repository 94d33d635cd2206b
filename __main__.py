"""Pulumi program entry point: the Flex Unified Profiles setup of one stack (`pulumi up --stack dev`)."""

from flex_program.program import run

run()
