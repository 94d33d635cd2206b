"""API-call and wall-time budgets of the program (`make bench`, `python -m benchmarks`).

Each scenario runs the real ``__main__.py`` through the engine stand-in (``tests/harness``) against a fresh
Segment emulator with per-call latency and Segment's per-operation rate limits on a shortened clock, the client
pacing itself on the same clock. The emulator's request log gives the calls; see ``benchmarks/README.md``.
"""
