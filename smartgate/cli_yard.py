"""The yard commands of `smartgate`: camera calibration, synthetic yard footage, yard replay and IGV planning.

Registered with `smartgate.cli.command` when `smartgate.cli` is imported; each body imports its package inside
itself, as in `smartgate.cli`, so that ``--help`` answers at once.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from smartgate.cli import command, print_report

DEFAULT_STORE = Path("var/calibration")


def _size(text: str) -> tuple[int, int]:
    """``WxH`` (as ``1280x720``) for argparse."""
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT such as 1280x720, got {text!r}") from None
    if not (0 < width <= 16384 and 0 < height <= 16384):
        raise argparse.ArgumentTypeError(f"image size must lie within 1..16384 pixels, got {text!r}")
    return width, height


def _board(text: str) -> tuple[int, int]:
    """``COLSxROWS`` inner corners of a chessboard (as ``9x6``) for argparse."""
    try:
        cols, rows = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected COLSxROWS inner corners such as 9x6, got {text!r}") from None
    if not (2 <= cols <= 64 and 2 <= rows <= 64):
        raise argparse.ArgumentTypeError(f"a board has 2..64 inner corners each way, got {text!r}")
    return cols, rows


def _store_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--store", type=Path, default=DEFAULT_STORE,
                        help=f"calibration folder, one sub-folder of revisions per camera (default {DEFAULT_STORE})")


def _intrinsics_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("images", nargs="+", type=Path, metavar="IMAGE", help="chessboard photographs or folders")
    parser.add_argument("--camera", required=True, help="camera id")
    parser.add_argument("--board", type=_board, default=(9, 6), help="inner corners COLSxROWS (default 9x6)")
    parser.add_argument("--square-mm", type=float, default=25.0, help="chessboard square side in mm (default 25)")
    _store_argument(parser)


@command("calibrate intrinsics", "measure a camera's focal length and lens distortion from chessboard photographs",
         _intrinsics_arguments)
def _calibrate_intrinsics(args: argparse.Namespace) -> int:
    from calibration.command import run_intrinsics

    if not 0.0 < args.square_mm <= 1000.0:
        raise ValueError(f"--square-mm must lie in (0, 1000], got {args.square_mm}")
    return run_intrinsics(args.images, args.board, args.square_mm / 1000.0, args.camera, args.store)


def _homography_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("points", type=Path, metavar="POINTS",
                        help="surveyed points, CSV or JSON rows of u, v (pixels) and x, y (site metres)")
    parser.add_argument("--camera", required=True, help="camera id")
    parser.add_argument("--image-size", type=_size, help="WIDTHxHEIGHT (default: from the camera's last revision)")
    parser.add_argument("--ransac-m", type=float, default=0.25,
                        help="RANSAC inlier threshold on the ground, metres (default 0.25)")
    _store_argument(parser)


@command("calibrate homography", "fit a camera's image-to-ground mapping to surveyed points (RANSAC, error in m)",
         _homography_arguments)
def _calibrate_homography(args: argparse.Namespace) -> int:
    from calibration.command import run_homography

    if not 0.0 < args.ransac_m <= 100.0:
        raise ValueError(f"--ransac-m must lie in (0, 100], got {args.ransac_m}")
    return run_homography(args.points, args.camera, args.store, args.image_size, args.ransac_m)


def _show_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--camera", required=True, help="camera id")
    parser.add_argument("--revision", type=int, help="revision number (default: the newest)")
    _store_argument(parser)


@command("calibrate show", "print a camera's stored calibration and its revisions", _show_arguments)
def _calibrate_show(args: argparse.Namespace) -> int:
    from calibration.command import run_show

    return run_show(args.store, args.camera, args.revision)


def _generate_yard_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, required=True, help="recording folder to create")
    parser.add_argument("--seed", type=int, default=0, help="scenario seed (default 0)")
    parser.add_argument("--duration", type=float, default=120.0, help="seconds of footage (default 120)")
    parser.add_argument("--fps", type=float, default=5.0, help="frames per second per camera (default 5)")


@command("generate-yard", "render synthetic yard camera footage (top and oblique) with calibrations and truth",
         _generate_yard_arguments)
def _generate_yard(args: argparse.Namespace) -> int:
    from datasets.yard_synth.generator import run_generate_yard

    return run_generate_yard(args.out, args.seed, args.duration, args.fps)


def replay_yard_recording(args: argparse.Namespace) -> int:
    """`smartgate replay` on a yard recording: the occupancy map scored against its truth."""
    from smartgate.yard_replay import replay_yard

    report = replay_yard(args.dataset, max_steps=args.max_frames, realtime=args.realtime)
    return print_report(report.summary(), report.to_json(), args.report)


def _plan_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--map", type=Path, required=True, dest="map_path", help="MovingAI .map file")
    parser.add_argument("--scen", type=Path, help="MovingAI .scen file (default: random starts and goals)")
    parser.add_argument("--agents", type=int, required=True, help="number of agents")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random instance and the planner")
    parser.add_argument("--algo", choices=["pibt", "lacam"], default="lacam", help="planner (default lacam)")
    parser.add_argument("--deadline-ms", type=float, default=1000.0, help="time budget in ms (default 1000)")
    parser.add_argument("--out", type=Path, help='write the paths as JSON {"paths": [[[x, y], ...] per agent]}')


@command("plan", "plan collision-free paths for many agents on a grid map (one JSON line)", _plan_arguments)
def _plan(args: argparse.Namespace) -> int:
    from control.planning.command import run_plan

    return run_plan(args.map_path, args.scen, args.agents, args.seed, args.algo, args.deadline_ms, args.out)
