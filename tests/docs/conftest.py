"""The real-engine fixtures of tests/e2e (a scratch project on a file backend, the emulator), for the docs' paths."""

from tests.e2e.conftest import cli_project, e2e_emulator_session, flex_emulator

__all__ = ["cli_project", "e2e_emulator_session", "flex_emulator"]
