"""Operator tools around the Flex program: the doctor and its checks, promotion from dev to prod, the export of
a hand-built workspace, and the demo. Each runs as a console script (``flex-doctor``, ``flex-promote``,
``flex-export``, ``flex-demo``) and shares one way of reporting user errors (``cli.py``).
"""
