"""The Segment provider library: Pulumi dynamic resources for Segment objects, over Segment's Public API.

* ``segment_provider.api`` is the Public API client (and a read-only Profile API client). It does not import
  Pulumi, so scripts and tests can use it on its own.
* ``segment_provider.resources`` holds one dynamic resource per Segment kind, each owning its mapping both ways
  (config to API request, API answer to config).

Nothing here knows about Flex: any Pulumi program can import these resources (see the README).
"""
