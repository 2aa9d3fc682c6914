"""`smartgate generate`: render a synthetic gate-lane recording from the command line."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time

from datasets.synth.cameras import VIEWS
from datasets.synth.generator import DEFAULT_CAMERAS, GeneratorError, generate


def _size(text: str) -> tuple[int, int]:
    width, sep, height = text.lower().partition("x")
    if not sep or not width.isdigit() or not height.isdigit():
        raise argparse.ArgumentTypeError(f"size must look like 960x540, got {text!r}")
    return int(width), int(height)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="smartgate generate", description=__doc__)
    add_arguments(parser)
    return parser


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The generator's options, shared by this module's own parser and `smartgate generate`."""
    parser.add_argument("--out", required=True, help="recording directory to create")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of footage (default 60)")
    parser.add_argument("--fps", type=float, default=4.0, help="frames per second per camera (default 4)")
    parser.add_argument("--trucks-per-hour", type=float, default=150.0, help="mean arrival rate (default 150)")
    parser.add_argument("--seed", type=int, default=0, help="random seed; same seed, same recording")
    parser.add_argument("--lane", default="in-1", help="lane id (default in-1)")
    parser.add_argument("--direction", choices=("in", "out"), default="in")
    parser.add_argument("--cameras", nargs="+", choices=VIEWS, default=list(DEFAULT_CAMERAS), metavar="VIEW",
                        help=f"camera views, some of {' '.join(VIEWS)} (default {' '.join(DEFAULT_CAMERAS)})")
    parser.add_argument("--size", type=_size, default=(960, 540), help="frame size WxH (default 960x540)")
    parser.add_argument("--mismatch-share", type=float, default=0.2, help="share of passages with a mismatch")
    parser.add_argument("--conditions-share", type=float, default=0.5, help="share of passages in hard conditions")
    parser.add_argument("--storage", choices=("frames", "video"), default="frames")
    parser.add_argument("--workers", type=int, default=None, help="render processes (default: automatic)")


def main(argv: list[str] | None = None) -> int:
    return run(build_parser().parse_args(argv))


def run(args: argparse.Namespace) -> int:
    """Generate the recording ``args`` describe and print a one-line JSON summary."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    started = time.monotonic()
    try:
        meta = generate(args.out, lane_id=args.lane, direction=args.direction, duration_s=args.duration, fps=args.fps,
                        trucks_per_hour=args.trucks_per_hour, seed=args.seed, cameras=args.cameras, size=args.size,
                        mismatch_share=args.mismatch_share, storage=args.storage,
                        conditions_share=args.conditions_share, workers=args.workers)
    except (GeneratorError, OSError) as exc:
        print(f"smartgate generate: {exc}", file=sys.stderr)
        return 2
    seconds = time.monotonic() - started
    frames = int(meta.generator["frames"]) * len(meta.cameras)
    summary = {"out": args.out, "frames": frames, "passages": meta.generator["passages"],
               "seconds": round(seconds, 2), "frames_per_s": round(frames / max(seconds, 1e-9), 1)}
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
