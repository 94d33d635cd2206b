"""``segment-emulator``: serve the emulator until interrupted (Ctrl-C or SIGTERM)."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from types import FrameType

from segment_emulator.emulator import DEFAULT_TOKEN, TOKEN_ENV, Emulator
from segment_emulator.store import StateFileError


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="segment-emulator", description="A local Segment Public API.")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=8765, help="port to listen on; 0 picks a free one (default 8765)"
    )
    parser.add_argument(
        "--token",
        default=os.environ.get(TOKEN_ENV, DEFAULT_TOKEN),
        help=f"the bearer token clients must send (default ${TOKEN_ENV}, else {DEFAULT_TOKEN})",
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
    return parser.parse_args(argv)


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
        ).start()
    except (OSError, ValueError, StateFileError) as error:
        print(f"segment-emulator: {error}", file=sys.stderr)
        return 1
    stop = threading.Event()

    def on_signal(number: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    print(f"segment-emulator listening on {emulator.url}", flush=True)
    try:
        stop.wait()
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
