"""Pulumi program entry point: the Flex Unified Profiles setup for one stack (dev or prod)."""
