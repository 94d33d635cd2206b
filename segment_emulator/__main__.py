"""``segment-emulator``: serve the emulator until interrupted (Ctrl-C or SIGTERM).

A state it cannot start with (a taken port, an unreadable state file) is one clean block through the tools' own
:mod:`flex_tools.cli`, exit 2; ``--debug`` adds the traceback."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from types import FrameType

from flex_tools.cli import EXIT_CANNOT_RUN, EXIT_CODES_HELP, EXIT_OK, CannotRun, add_debug_flag, report
from segment_emulator.emulator import DEFAULT_TOKEN, SETTINGS_PATCH_ENV, TOKEN_ENV, Emulator
from segment_emulator.server import is_loopback
from segment_emulator.store import StateFileError
from segment_emulator.views import DEFAULT_SETTINGS_PATCH, SETTINGS_PATCH_MODES


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="segment-emulator",
        description="A local Segment Public API.",
        epilog=f"Exit status: {EXIT_OK} after a clean stop (Ctrl-C or SIGTERM), {EXIT_CODES_HELP} A taken port "
        "or a state file it cannot load is a cannot-run.",
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1); one other machines reach needs --allow-remote",
    )
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help="listen on a --host other machines reach: they can then read the state with the token",
    )
    parser.add_argument(
        "--port", type=int, default=8765, help="port to listen on; 0 picks a free one (default 8765)"
    )
    parser.add_argument(
        "--token",
        default=os.environ.get(TOKEN_ENV, DEFAULT_TOKEN),
        help=f"the bearer token clients must send (default ${TOKEN_ENV}, else {DEFAULT_TOKEN})",
    )
    parser.add_argument(
        "--settings-patch",
        choices=SETTINGS_PATCH_MODES,
        default=os.environ.get(SETTINGS_PATCH_ENV, DEFAULT_SETTINGS_PATCH),
        help="whether an update's settings replace the stored ones or merge into them; Segment does not "
        f"document which (default ${SETTINGS_PATCH_ENV}, else {DEFAULT_SETTINGS_PATCH})",
    )
    parser.add_argument(
        "--state", metavar="FILE", help="load the state from FILE if it exists; save it after each change"
    )
    parser.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="multiply time: rate-limit windows (60 s) and manual syncs (10 s) last this fraction (default 1)",
    )
    parser.add_argument(
        "--latency-ms", type=float, default=0, help="delay every API request by N milliseconds"
    )
    parser.add_argument(
        "--default-rate-limit",
        type=int,
        default=600,
        help="requests per window for operations Segment gives no limit (default 600)",
    )
    parser.add_argument("--no-rate-limits", action="store_true", help="never answer 429 on its own")
    parser.add_argument(
        "--seed-flex-events", action="store_true", help="every space has already seen the Flex events"
    )
    add_debug_flag(parser)
    arguments = parser.parse_args(argv)
    if arguments.settings_patch not in SETTINGS_PATCH_MODES:  # a default from the environment skips `choices`
        parser.error(
            f"${SETTINGS_PATCH_ENV} is {arguments.settings_patch!r}: it must be one of "
            + ", ".join(SETTINGS_PATCH_MODES)
        )
    return arguments


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    try:
        emulator = Emulator(
            host=arguments.host,
            port=arguments.port,
            token=arguments.token,
            state_file=arguments.state,
            time_scale=arguments.time_scale,
            latency_ms=arguments.latency_ms,
            rate_limits=not arguments.no_rate_limits,
            default_rate_limit=arguments.default_rate_limit,
            seed_flex_events=arguments.seed_flex_events,
            allow_remote=arguments.allow_remote,
            settings_patch=arguments.settings_patch,
        ).start()
    except OSError as error:
        problem = CannotRun(
            f"cannot listen on {arguments.host}:{arguments.port}: {error.strerror or error}. Stop what runs "
            "there (another emulator?), or give another --port (0 picks a free one)"
        )
        problem.__cause__ = error  # --debug shows where it failed
        report("segment-emulator", problem, debug=arguments.debug, err=sys.stderr)
        return EXIT_CANNOT_RUN
    except (ValueError, StateFileError) as error:
        fix = "; move the file away or give another --state FILE" if arguments.state else ""
        problem = CannotRun(f"{error}{fix}")
        problem.__cause__ = error
        report("segment-emulator", problem, debug=arguments.debug, err=sys.stderr)
        return EXIT_CANNOT_RUN
    stopping: list[int] = []

    # The handler only records the signal: one that took a lock (threading.Event.set) could deadlock against the
    # main thread holding that same lock inside Event.wait when the signal lands.
    def on_signal(number: int, frame: FrameType | None) -> None:
        stopping.append(number)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if arguments.allow_remote and not is_loopback(arguments.host):
        print(
            f"segment-emulator: warning: listening on {arguments.host}, beyond this machine: anyone who reaches "
            "it with the token can read and change the state, Profile API tokens included",
            file=sys.stderr,
            flush=True,
        )
    print(f"segment-emulator listening on {emulator.url}", flush=True)
    try:
        while not stopping:
            time.sleep(0.1)
    finally:
        emulator.stop()
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
