"""The Flex Unified Profiles program: one stack's config, preflight checks, the component that builds the
Segment objects from the provider library, the computed-trait builder, and the Snowflake side.

``__main__.py`` at the project root runs :func:`flex_program.program.run` under ``pulumi up``.
"""
