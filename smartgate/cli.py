"""The `smartgate` command.

Each subcommand is one function registered with `@command`; it imports what it needs inside its body, so
``smartgate --help`` and a bad argument answer at once instead of loading numpy, OpenCV and ZeroMQ first.
To add one::

    def _demo_arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--site", type=Path)

    @command("demo", "run the whole gate on the bundled site", _demo_arguments)
    def _demo(args: argparse.Namespace) -> int:
        from smartgate.demo import run_demo
        return run_demo(args.site)

Names with a space nest (``"config check"`` is ``smartgate config check``). Exit codes: 0 success, 1 a failure
while running, 2 a bad command line or an invalid site file; errors are one line on stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from vision.training import command as training

log = logging.getLogger(__name__)

PROG = "smartgate"
EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2

Run = Callable[[argparse.Namespace], int]
Arguments = Callable[[argparse.ArgumentParser], None]


@dataclass(frozen=True)
class Command:
    """One registered subcommand: its words, one-line help, argument builder and body."""

    words: tuple[str, ...]
    help: str
    run: Run
    arguments: Arguments | None = None


COMMANDS: dict[tuple[str, ...], Command] = {}


def command(name: str, help: str, arguments: Arguments | None = None) -> Callable[[Run], Run]:
    """Register the decorated function as ``smartgate NAME``; ``arguments`` adds its options to the parser."""
    words = tuple(name.split())

    def register(run: Run) -> Run:
        if not words or words in COMMANDS:
            raise ValueError(f"command {name!r} is empty or registered twice")
        COMMANDS[words] = Command(words, help, run, arguments)
        return run

    return register


def build_parser() -> argparse.ArgumentParser:
    """The parser for every registered command; a group word (``config``) alone is a usage error."""
    parser = argparse.ArgumentParser(prog=PROG, description="SmartGate: a smart border gate.")
    parser.add_argument("--log-level", default="WARNING", type=str.upper,
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="logging threshold (default WARNING)")
    groups: dict[tuple[str, ...], argparse._SubParsersAction[argparse.ArgumentParser]] = {}
    for words, cmd in sorted(COMMANDS.items()):
        sub = parser
        for depth in range(len(words)):
            prefix = words[:depth]
            if prefix not in groups:
                groups[prefix] = sub.add_subparsers(dest=f"_command_{depth}", metavar="COMMAND", required=True)
            action = groups[prefix]
            leaf = depth == len(words) - 1
            word = words[depth]
            if word in action.choices:
                sub = action.choices[word]
            else:
                sub = action.add_parser(word, help=cmd.help if leaf else f"{word} commands",
                                        description=cmd.help if leaf else None)
        if cmd.arguments is not None:
            cmd.arguments(sub)
        sub.set_defaults(_run=cmd.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse, run one command, and turn any error into one line on stderr and an exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return int(args._run(args))
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        log.debug("command failed", exc_info=True)
        code, message = _explain(exc)
        print(f"{PROG}: error: {message}", file=sys.stderr)
        return code


def _explain(exc: Exception) -> tuple[int, str]:
    """Exit code and one-line message; expected failures (bad input, files) read as such, the rest as bugs."""
    site = sys.modules.get("smartgate.site")  # loaded if, and only if, a site file was involved
    if site is not None and isinstance(exc, site.SiteConfigError):
        return EXIT_USAGE, str(exc)
    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, ValueError | OSError):
        return EXIT_FAILURE, text
    return EXIT_FAILURE, f"unexpected {type(exc).__name__}: {text} (--log-level debug shows the traceback)"


# --- config -----------------------------------------------------------------------------------------------------


def _config_check_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", nargs="?", type=Path, help="site YAML file (default: the bundled site)")


@command("config check", "validate a site file and list missing input files", _config_check_arguments)
def _config_check(args: argparse.Namespace) -> int:
    from smartgate.site import bundled_site_path, check_site_files, load_site

    file = args.file if args.file is not None else bundled_site_path()
    site = load_site(file)
    for warning in check_site_files(site):
        print(f"warning: {warning}", file=sys.stderr)
    cameras = sum(1 for _ in site.cameras())
    print(f"OK {file}: site {site.site.id}, {len(site.lanes)} lanes, {cameras} cameras")
    return EXIT_OK


# --- keys -------------------------------------------------------------------------------------------------------


def _keys_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--site", type=Path, help="site whose components get keys (default: the bundled site)")
    parser.add_argument("--dir", type=Path, help="key folder (default: the site's bus.keys_dir)")
    parser.add_argument("--names", nargs="+", metavar="NAME", help="key names (default: the site's components)")
    parser.add_argument("--overwrite", action="store_true", help="replace existing keys (locks out old peers)")


@command("keys", "create CURVE key pairs for the bus participants", _keys_arguments)
def _keys(args: argparse.Namespace) -> int:
    from bus.curve import generate_keys, missing_keypairs

    directory, names = _keys_target(args)
    if not args.overwrite:
        missing = missing_keypairs(directory, names)
        kept = [n for n in names if n not in missing]
        if kept:
            print(f"kept existing keys: {' '.join(kept)}")
        names = [n for n in names if n not in kept]
    written = generate_keys(directory, names, overwrite=args.overwrite)
    if written:
        print(f"wrote {len(written)} key pairs to {directory}: {' '.join(p.stem for p in written)}")
    return EXIT_OK


def _keys_target(args: argparse.Namespace) -> tuple[Path, list[str]]:
    """The key folder and names: from the options, else from the site (loaded only when needed)."""
    if args.dir is not None and args.names:
        return args.dir, list(dict.fromkeys(args.names))
    from smartgate.site import bundled_site_path, load_site

    site = load_site(args.site if args.site is not None else bundled_site_path())
    directory = args.dir if args.dir is not None else site.bus.keys_dir
    return directory, list(dict.fromkeys(args.names or site.component_names()))



def _demo_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--site", type=Path, default=None, help="site YAML (default: the bundled Hữu Nghị site)")
    parser.add_argument("--duration", type=float, default=None, metavar="S",
                        help="stop after S seconds (default: when the recordings end)")
    parser.add_argument("--speed", type=float, default=1.0, help="recording playback speed (default 1: real time)")
    parser.add_argument("--loop", action="store_true", help="replay the recordings until stopped")
    parser.add_argument("--data-dir", type=Path, default=None, help="runtime folder (default: the site's, ./var)")


@command("demo", "run the system on the bundled site and recording, as separate processes over the bus",
         _demo_arguments)
def _demo(args: argparse.Namespace) -> int:
    from smartgate.demo import run_demo
    from smartgate.site import bundled_site_path

    if args.speed <= 0 or (args.duration is not None and args.duration <= 0):
        print(f"{PROG}: error: --speed and --duration must be positive", file=sys.stderr)
        return EXIT_USAGE
    return run_demo(args.site or bundled_site_path(), duration_s=args.duration, speed=args.speed, loop=args.loop,
                    data_dir=args.data_dir)


def _gate_controller_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--lane", required=True, help="id of the lane whose barrier this process drives")
    parser.add_argument("--site", type=Path, default=None, help="site YAML (default: the bundled Hữu Nghị site)")
    parser.add_argument("--keys", type=Path, default=None, metavar="DIR",
                        help="CURVE key folder (default: the site's bus.keys_dir)")
    parser.add_argument("--heartbeat-s", type=float, default=1.0, metavar="S",
                        help="heartbeat interval; the clearance side must use the same (default 1)")
    parser.add_argument("--travel-s", type=float, default=2.0, metavar="S",
                        help="opening and closing time of the simulated barrier (default 2)")


@command("gate-controller", "run one lane's barrier controller (simulated barrier) until SIGTERM or SIGINT",
         _gate_controller_arguments)
def _gate_controller(args: argparse.Namespace) -> int:
    from smartgate.services.gate_controller import GateControllerOptions, run, with_keys_dir
    from smartgate.services.runtime import install_stop_handlers
    from smartgate.site import bundled_site_path, load_site

    if not (args.heartbeat_s > 0 and args.travel_s > 0):
        print(f"{PROG}: error: --heartbeat-s and --travel-s must be positive", file=sys.stderr)
        return EXIT_USAGE
    site = with_keys_dir(load_site(args.site or bundled_site_path()), args.keys)
    if args.lane not in site.bus.endpoints.gate_links:
        known = ", ".join(site.bus.endpoints.gate_links)
        print(f"{PROG}: error: no lane {args.lane!r} in the site (lanes: {known})", file=sys.stderr)
        return EXIT_USAGE
    stop = install_stop_handlers()
    return run(site, stop, args.lane, GateControllerOptions(heartbeat_s=args.heartbeat_s, travel_s=args.travel_s))


def _clearance_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--site", type=Path, default=None, help="site YAML (default: the bundled Hữu Nghị site)")
    parser.add_argument("--keys", type=Path, default=None, metavar="DIR",
                        help="CURVE key folder (default: the site's bus.keys_dir)")
    parser.add_argument("--journal", default=None, metavar="URL",
                        help="journal URL or SQLite path (default: the site's journal.url)")
    parser.add_argument("--heartbeat-s", type=float, default=1.0, metavar="S",
                        help="gate link heartbeat interval; the controllers must use the same (default 1)")
    parser.add_argument("--command-validity-s", type=float, default=10.0, metavar="S",
                        help="how long a gate command stays valid (default 10; controllers accept at most 30)")
    parser.add_argument("--operator", action="append", default=[], metavar="NAME",
                        help="an operator allowed to override decisions (repeat for more; default: nobody)")
    parser.add_argument("--declarations", type=Path, default=None, metavar="PATH",
                        help="declaration feed to follow, a JSON Lines file or a folder of them (default: the site's)")


@command("clearance", "run the clearance service: decide passages, journal them, drive the barriers",
         _clearance_arguments)
def _clearance(args: argparse.Namespace) -> int:
    from smartgate.services.clearance import ClearanceOptions, crash_hook_from_env, run
    from smartgate.services.gate_controller import with_keys_dir
    from smartgate.services.runtime import install_stop_handlers
    from smartgate.site import bundled_site_path, load_site

    if not (args.heartbeat_s > 0 and 0 < args.command_validity_s <= 30):
        print(f"{PROG}: error: --heartbeat-s must be positive and --command-validity-s within (0, 30]",
              file=sys.stderr)
        return EXIT_USAGE
    site = with_keys_dir(load_site(args.site or bundled_site_path()), args.keys)
    options = ClearanceOptions(heartbeat_s=args.heartbeat_s, command_validity_s=args.command_validity_s,
                               journal_url=args.journal, operators=tuple(args.operator),
                               declarations=args.declarations)
    stop = install_stop_handlers()
    return run(site, stop, options, hook=crash_hook_from_env())


def _generate_arguments(parser: argparse.ArgumentParser) -> None:
    from datasets.synth.command import add_arguments

    add_arguments(parser)


@command("generate", "render synthetic gate footage with ground truth and declarations", _generate_arguments)
def _generate(args: argparse.Namespace) -> int:
    from datasets.synth.command import run

    return run(args)


def _read_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("images", nargs="+", type=Path, metavar="IMAGE", help="image files to read")
    parser.add_argument("--model", type=Path, help="detector ONNX file (default: the shipped model)")
    parser.add_argument("--threads", type=int, help="ONNX Runtime threads (default: all cores)")


@command("read", "read plates, container numbers and seals from still images, one JSON line each", _read_arguments)
def _read(args: argparse.Namespace) -> int:
    from vision.reader import ImageReader

    if args.threads is not None and args.threads < 1:
        print(f"{PROG}: error: --threads must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    reader = ImageReader.load(args.model, args.threads)
    failed = 0
    for path in args.images:
        result = reader.read_file(path)
        failed += result.error is not None
        print(json.dumps(result.as_dict(), ensure_ascii=False), flush=True)
    return EXIT_FAILURE if failed else EXIT_OK


def _replay_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", type=Path, metavar="DATASET",
                        help="recording directory: a gate lane's or a yard's (smartgate generate / generate-yard)")
    parser.add_argument("--realtime", action="store_true", help="pace frames to their recorded time")
    parser.add_argument("--report", type=Path, metavar="FILE", help="write the JSON report here")
    parser.add_argument("--max-frames", type=int, metavar="N",
                        help="stop after N frames (all cameras; for a yard recording, N time steps)")
    parser.add_argument("--evidence-dir", type=Path, metavar="DIR", help="save evidence crops under DIR")
    parser.add_argument("--threads", type=int, help="ONNX Runtime threads (default: all cores)")
    parser.add_argument("--drop-frames", type=float, default=0.0, metavar="SHARE",
                        help="leave this share of the frames out at random, as a lane that cannot keep up drops "
                             "stale frames (gate lane recordings; default 0)")
    parser.add_argument("--seed", type=int, default=0, help="seed of --drop-frames (default 0)")


@command("replay", "run the lane (or yard) pipeline on a recording and score it against its truth",
         _replay_arguments)
def _replay(args: argparse.Namespace) -> int:
    from datasets.sources import SourceError
    from vision.replay import replay

    if (args.max_frames is not None and args.max_frames < 0) or (args.threads is not None and args.threads < 1):
        print(f"{PROG}: error: --max-frames must be >= 0 and --threads >= 1", file=sys.stderr)
        return EXIT_USAGE
    if not 0.0 <= args.drop_frames < 1.0:
        print(f"{PROG}: error: --drop-frames must lie in [0, 1), got {args.drop_frames}", file=sys.stderr)
        return EXIT_USAGE
    if (args.dataset / "yard_recording.json").is_file():
        return cli_yard.replay_yard_recording(args)
    try:
        report = replay(args.dataset, realtime=args.realtime, max_frames=args.max_frames,
                        evidence_dir=args.evidence_dir, threads=args.threads, drop_frames=args.drop_frames,
                        seed=args.seed)
    except SourceError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    return print_report(report.summary(), report.to_json(), args.report)


def print_report(summary: str, payload: dict[str, object], path: Path | None) -> int:
    """Print a replay's summary and write its JSON report to ``path`` when given; exit code."""
    print(summary, flush=True)
    if path is not None:
        try:
            path.write_text(json.dumps(payload, indent=2) + "\n")
        except OSError as exc:
            print(f"{PROG}: error: cannot write {path}: {exc}", file=sys.stderr)
            return EXIT_FAILURE
    return EXIT_OK


# --- training (needs the extras in requirements-train.lock) ------------------------------------------------------


# The training commands: their module is light; torch, ultralytics and onnx load only when one of them runs.
for _name, _help, _arguments, _run in (
        ("train", "train the gate detector from scratch and export it to ONNX (--quick: a tiny check)",
         training.add_train_arguments, training.run_train),
        ("export", "export trained detector weights (.pt) to the ONNX model the product runs",
         training.add_export_arguments, training.run_export),
        ("quantize", "write an int8 copy of the detector, calibrated on training-seed frames (faster on the CPU)",
         training.add_quantize_arguments, training.run_quantize),
        ("train-ocr", "fine-tune the text recogniser's last layer on synthetic gate text (--quick: a tiny check)",
         training.add_train_ocr_arguments, training.run_train_ocr),
        ("train-province", "train the classifier of Chinese plates' province characters on rendered plates "
         "(--quick: a tiny check)", training.add_train_province_arguments, training.run_train_province)):
    command(_name, _help, _arguments)(_run)

from smartgate import cli_sim, cli_yard  # noqa: E402, F401 - register the yard, calibration and simulation commands

if __name__ == "__main__":
    from smartgate.cli import main as registered_main  # the commands register in the imported module, not __main__

    sys.exit(registered_main())
