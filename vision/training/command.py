"""`smartgate train`, `export`, `quantize`, `train-ocr` and `train-province`: the command lines of `train.run`,
`export.export_onnx`, `quantize.run`, `vision.ocr.head_training.run` and `vision.ocr.province_training.run`.

Only the standard library is imported at module level, so `smartgate --help` stays fast and a machine without
torch gets a one-line answer (exit 2) saying how to install the training extras.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import os
import sys
from contextlib import redirect_stdout
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vision.training.train import Recipe

log = logging.getLogger(__name__)

EXIT_OK, EXIT_USAGE = 0, 2
TRAIN_PACKAGES = ("torch", "torchvision", "ultralytics", "onnx", "onnxscript")  # onnx, onnxscript: the exporter
#: Seeds of the held-out replays that the results quote (benchmarks/RESULTS.md); never calibrated or trained on.
HELD_OUT_REPLAY_SEEDS = (9401, 9402, 9403, 9405, 9406, 9407)
INSTALL_HINT = "make train-setup, or .venv/bin/pip install --no-deps -r requirements-train.lock"


def missing_packages(names: tuple[str, ...] = TRAIN_PACKAGES) -> list[str]:
    """The training extras that are not installed (found without importing them: torch takes seconds)."""
    return [name for name in names if importlib.util.find_spec(name) is None]


def _refuse_without_extras(command: str, names: tuple[str, ...] = TRAIN_PACKAGES) -> bool:
    missing = missing_packages(names)
    if missing:
        print(f"smartgate: error: {command} needs {', '.join(missing)} (not installed); install the training "
              f"extras with: {INSTALL_HINT}", file=sys.stderr)
    return bool(missing)


# --- argument types -------------------------------------------------------------------------------------------------

def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, got {text!r}")
    return int(text)


def _count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 0, got {text!r}")
    return int(text)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
    return value


def _side(text: str) -> int:
    value = _positive_int(text)
    if value % 32:
        raise argparse.ArgumentTypeError(f"must be a multiple of 32 (the model's stride), got {value}")
    return value


def _device(text: str) -> str:
    if text not in ("auto", "cpu") and not text.isdigit():
        raise argparse.ArgumentTypeError(f"must be auto, cpu or a CUDA index such as 0, got {text!r}")
    return text


def _seeds(text: str) -> tuple[int, ...]:
    """`1-48` or `1,2,5` → seeds."""
    seeds: list[int] = []
    for part in text.split(","):
        low, dash, high = part.strip().partition("-")
        if not low.isdigit() or (dash and not high.isdigit()) or (high and int(high) < int(low)):
            raise argparse.ArgumentTypeError(f"seeds must look like 1-64 or 1,2,5, got {text!r}")
        seeds.extend(range(int(low), int(high) + 1) if high else [int(low)])
    return tuple(dict.fromkeys(seeds))


# --- smartgate train ------------------------------------------------------------------------------------------------

def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `smartgate train`; unset recipe options keep the recipe's value (shown in MODEL_CARD.md)."""
    parser.add_argument("--out", type=Path, required=True, metavar="DIR",
                        help="work folder: recordings, dataset, runs; detector.pt, detector.onnx, metrics.json")
    parser.add_argument("--quick", action="store_true", help="a tiny run (about a minute on a CPU) that checks the "
                        "whole pipeline; its model detects nothing useful")
    real = parser.add_mutually_exclusive_group()
    real.add_argument("--real", type=Path, metavar="DIR", help="real images to train on (some passages) and score "
                      "(the others): the containervision folder (labels.jsonl) or one exported from it (default: "
                      "../shared/datasets/containervision when present)")
    real.add_argument("--no-real", action="store_true", help="synthetic images only, for training and scoring")
    parser.add_argument("--real-oversample", type=_count, metavar="N",
                        help="list each real training image N times (0: score the real images, do not train on them)")
    parser.add_argument("--device", type=_device, default="auto",
                        help="auto (default: the first GPU if there is one, else the CPU), cpu, or a CUDA index")
    parser.add_argument("--epochs", type=_positive_int)
    parser.add_argument("--time-h", type=_positive_float, metavar="H",
                        help="training wall-clock budget in hours (overrides --epochs)")
    parser.add_argument("--imgsz", type=_side, help="training image size (multiple of 32)")
    parser.add_argument("--export-imgsz", type=_side, nargs=2, metavar=("H", "W"), help="ONNX input size")
    parser.add_argument("--batch", type=_positive_int)
    parser.add_argument("--workers", type=_count, help="data loader workers")
    parser.add_argument("--cache", choices=("ram", "disk", "none"), help="image cache")
    parser.add_argument("--model", help="model yaml to train from scratch, or a .pt to continue training from")
    parser.add_argument("--warmup-epochs", type=float, metavar="N", help="0 when continuing from trained weights")
    parser.add_argument("--train-seeds", type=_seeds, metavar="SEEDS", help="synthetic recordings to train on")
    parser.add_argument("--val-seeds", type=_seeds, metavar="SEEDS", help="synthetic recordings held out")
    parser.add_argument("--duration", type=_positive_float, metavar="S", help="seconds of footage per recording")
    parser.add_argument("--processes", type=_positive_int, default=min(os.cpu_count() or 1, 16),
                        help="processes rendering recordings (default: the CPU count)")
    parser.add_argument("--onnx", type=Path, metavar="FILE", help="ONNX model to write (default DIR/detector.onnx)")
    parser.add_argument("--metrics", type=Path, metavar="FILE", help="metrics JSON (default DIR/metrics.json)")
    parser.add_argument("--log", type=Path, metavar="FILE",
                        help="ultralytics' own output (default DIR/ultralytics.log)")


def recipe_from(args: argparse.Namespace) -> Recipe:
    """The quick or full recipe with the options given on the command line."""
    from vision.training.train import QUICK, Recipe

    recipe = QUICK if args.quick else Recipe()
    overrides: dict[str, Any] = {
        "train_seeds": args.train_seeds, "val_seeds": args.val_seeds, "duration_s": args.duration,
        "imgsz": args.imgsz, "epochs": args.epochs, "time_h": args.time_h, "batch": args.batch,
        "workers": args.workers, "model": args.model, "real_oversample": args.real_oversample,
        "warmup_epochs": args.warmup_epochs, "device": args.device,
        "export_imgsz": tuple(args.export_imgsz) if args.export_imgsz else None,
        "cache": None if args.cache is None else (False if args.cache == "none" else args.cache),
    }
    return replace(recipe, **{k: v for k, v in overrides.items() if v is not None})


def run_train(args: argparse.Namespace) -> int:
    """Train, evaluate and export as `args` say; print a short summary. Exit 2 for a bad option or no torch."""
    if _refuse_without_extras("smartgate train"):
        return EXIT_USAGE
    recipe = recipe_from(args)
    overlap = set(recipe.train_seeds) & set(recipe.val_seeds)
    if overlap:
        print(f"smartgate: error: seeds {sorted(overlap)} are both trained on and held out", file=sys.stderr)
        return EXIT_USAGE
    if args.real is not None and not _is_real_folder(args.real):
        print(f"smartgate: error: --real {args.real}: no labels.jsonl (containervision) or val.txt (exported) there",
              file=sys.stderr)
        return EXIT_USAGE
    from vision.training.train import run

    logging.getLogger("vision.training").setLevel(logging.INFO)  # stage timings, on stderr
    report = run(recipe, args.out, real_root=_real_images(args), onnx_target=args.onnx, metrics_file=args.metrics,
                 processes=args.processes, train_log=args.log or args.out / "ultralytics.log")
    print(train_summary(report, args.metrics or args.out / "metrics.json"))
    return EXIT_OK


def _is_real_folder(folder: Path) -> bool:
    return (folder / "labels.jsonl").is_file() or (folder / "val.txt").is_file()


def _real_images(args: argparse.Namespace) -> Path | None:
    """An exported real-image folder, exporting the containervision labels (with the shipped pseudo-labels for the
    classes they do not label) first if need be."""
    if args.no_real:
        return None
    source: Path | None = args.real
    if source is None:
        from vision.seals.data import SHARED

        if not _is_real_folder(SHARED):
            log.warning("no real images at %s: the metrics will have synthetic figures only", SHARED)
            return None
        source = SHARED
    if (source / "val.txt").is_file():
        return source
    from vision.training.pseudo_labels import DEFAULT_FILE, load_pseudo_labels
    from vision.training.yolo_dataset import export_real

    target: Path = args.out / "real"
    counts = export_real(source / "labels.jsonl", source, target, pseudo=load_pseudo_labels(DEFAULT_FILE))
    log.info("real images from %s exported to %s: %s", source, target, counts)
    return target


def train_summary(report: dict[str, Any], metrics_file: Path) -> str:
    """A few lines: where the files are, how long each stage took, mAP50 per class."""
    seconds = report.get("seconds", {})
    stages = ", ".join(f"{name} {value:.0f} s" for name, value in seconds.items())
    lines = [f"trained {report.get('epochs_run', 0)} epochs on {report.get('device')} in "
             f"{sum(seconds.values()):.0f} s ({stages})",
             f"  weights  {report.get('weights')}",
             f"  onnx     {report.get('onnx')} ({report.get('onnx_bytes', 0) / 1e6:.1f} MB, input "
             f"{'x'.join(map(str, report.get('recipe', {}).get('export_imgsz', ())))})",
             f"  metrics  {metrics_file}"]
    for key, title in (("synthetic_val", "held-out synthetic"), ("real", "held-out real images")):
        if key in report:
            figures = " ".join(f"{cls} {row['map50']:.3f}" for cls, row in report[key].items()) or "none"
            lines.append(f"  mAP50 {title}: {figures}")
    return "\n".join(lines)


# --- smartgate export -----------------------------------------------------------------------------------------------

def add_export_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `smartgate export`."""
    parser.add_argument("weights", type=Path, metavar="WEIGHTS.pt", help="trained weights (e.g. DIR/detector.pt)")
    parser.add_argument("--out", type=Path, required=True, metavar="FILE.onnx", help="ONNX model to write")
    parser.add_argument("--imgsz", type=_side, nargs=2, metavar=("H", "W"), default=None,
                        help="input height and width, multiples of 32 (default 544 960, as the shipped model)")
    parser.add_argument("--opset", type=_positive_int, default=18, help="ONNX opset (default 18)")


def run_export(args: argparse.Namespace) -> int:
    """Export and print one line; a missing or corrupt weights file is a `WeightsError` (exit 1, one line)."""
    if _refuse_without_extras("smartgate export"):
        return EXIT_USAGE
    from vision.training.export import check_weights_file, export_onnx
    from vision.training.train import Recipe

    check_weights_file(args.weights)  # fail before torch spends seconds importing
    imgsz = tuple(args.imgsz) if args.imgsz else Recipe().export_imgsz
    os.environ.setdefault("YOLO_VERBOSE", "false")
    with redirect_stdout(sys.stderr):  # the exporters' chatter; stdout keeps the one result line
        target = export_onnx(args.weights, args.out, (imgsz[0], imgsz[1]), args.opset)
    print(json.dumps({"onnx": str(target), "bytes": target.stat().st_size, "input": [1, 3, *imgsz]}))
    return EXIT_OK


# --- smartgate quantize ---------------------------------------------------------------------------------------------

def add_quantize_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `smartgate quantize`."""
    parser.add_argument("--model", type=Path, default=None, metavar="FILE.onnx",
                        help="float32 detector (default: the shipped vision/models/gate_detector.onnx)")
    parser.add_argument("--out", type=Path, required=True, metavar="FILE.onnx", help="int8 model to write")
    parser.add_argument("--work", type=Path, default=Path("var/quantize"), metavar="DIR",
                        help="calibration recordings are rendered here (reused when present; default var/quantize)")
    parser.add_argument("--seeds", type=_seeds, default=(1, 2), metavar="SEEDS",
                        help="training seeds to calibrate on, never held-out ones (default 1,2)")
    parser.add_argument("--frames", type=_positive_int, default=64, help="calibration frames (default 64)")
    parser.add_argument("--duration", type=_positive_float, default=60.0, metavar="S",
                        help="seconds of footage per seed (default 60)")


def run_quantize(args: argparse.Namespace) -> int:
    """Quantise and print one JSON line. Exit 2 without onnx (a training extra) or for held-out seeds."""
    if _refuse_without_extras("smartgate quantize", ("onnx",)):
        return EXIT_USAGE
    from vision.detector import FLOAT_MODEL
    from vision.training.quantize import run
    from vision.training.train import Recipe

    held_out = set(args.seeds) & {*Recipe().val_seeds, *HELD_OUT_REPLAY_SEEDS}
    if held_out:
        print(f"smartgate: error: seeds {sorted(held_out)} are held out for evaluation; calibrate on training seeds",
              file=sys.stderr)
        return EXIT_USAGE
    print(json.dumps(run(args.model or FLOAT_MODEL, args.out, args.work, seeds=args.seeds, frames=args.frames,
                         duration_s=args.duration)))
    return EXIT_OK


def _add_model_arguments(parser: argparse.ArgumentParser, work: str, model: str) -> None:
    """The options every small-model training command shares: work folder, model file, quick run, epochs."""
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help=f"work folder: {work}")
    parser.add_argument("--onnx", type=Path, metavar="FILE",
                        help=f"model to write (default DIR/{model}; the product reads vision/models/{model})")
    parser.add_argument("--quick", action="store_true", help="a tiny run (about a minute) that checks the pipeline")
    parser.add_argument("--epochs", type=_positive_int)


# --- smartgate train-ocr --------------------------------------------------------------------------------------------

def add_train_ocr_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `smartgate train-ocr`; unset ones keep the recipe's value (`OcrRecipe`, MODEL_CARD.md)."""
    _add_model_arguments(parser, "recordings, metrics.json", "gate_ocr_rec.onnx")
    parser.add_argument("--train-seeds", type=_seeds, metavar="SEEDS", help="synthetic recordings to train on")
    parser.add_argument("--val-seeds", type=_seeds, metavar="SEEDS", help="synthetic recordings held out")
    parser.add_argument("--duration", type=_positive_float, metavar="S", help="seconds of footage per training seed")
    parser.add_argument("--threads", type=_positive_int, help="ONNX Runtime threads (default: all cores)")


def run_train_ocr(args: argparse.Namespace) -> int:
    """Fine-tune, write the model, print one JSON line of figures. Exit 2 for a bad option or no torch/onnx."""
    if _refuse_without_extras("smartgate train-ocr", ("torch", "onnx")):
        return EXIT_USAGE
    from vision.ocr.head_training import QUICK, OcrRecipe, run

    recipe = QUICK if args.quick else OcrRecipe()
    overrides = {"epochs": args.epochs, "train_seeds": args.train_seeds, "val_seeds": args.val_seeds,
                 "duration_s": args.duration}
    recipe = replace(recipe, **{k: v for k, v in overrides.items() if v is not None})
    overlap = set(recipe.train_seeds) & set(recipe.val_seeds)
    if overlap:
        print(f"smartgate: error: seeds {sorted(overlap)} are both trained on and held out", file=sys.stderr)
        return EXIT_USAGE
    logging.getLogger("vision.ocr").setLevel(logging.INFO)
    report = run(recipe, args.out, args.onnx or args.out / "gate_ocr_rec.onnx", threads=args.threads)
    print(json.dumps({key: report[key] for key in ("model", "lines", "losses", "val_exact_before",
                                                    "val_exact_after", "seconds")}))
    return EXIT_OK


# --- smartgate train-province ---------------------------------------------------------------------------------------

def add_train_province_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `smartgate train-province`; unset ones keep the recipe's value (`ProvinceRecipe`, MODEL_CARD.md)."""
    _add_model_arguments(parser, "metrics.json", "province_classifier.onnx")
    parser.add_argument("--plates", type=_positive_int, help="distinct rendered plates to train on")
    parser.add_argument("--check", type=Path, nargs="+", metavar="RECORDING",
                        help="rendered recordings whose Chinese plates score the classifier against the recogniser")


def run_train_province(args: argparse.Namespace) -> int:
    """Train, write the model, print one JSON line of figures. Exit 2 for a bad option or no torch/onnx."""
    if _refuse_without_extras("smartgate train-province", ("torch", "onnx")):
        return EXIT_USAGE
    from vision.ocr.province_training import QUICK, ProvinceRecipe, run

    for folder in args.check or []:
        if not (folder / "frames.jsonl").is_file():
            print(f"smartgate: error: {folder} is not a rendered recording (no frames.jsonl)", file=sys.stderr)
            return EXIT_USAGE
    recipe = QUICK if args.quick else ProvinceRecipe()
    overrides = {"plates": args.plates, "epochs": args.epochs,
                 "val_recordings": tuple(str(p) for p in args.check) if args.check else None}
    recipe = replace(recipe, **{k: v for k, v in overrides.items() if v is not None})
    logging.getLogger("vision.ocr").setLevel(logging.INFO)
    report = run(recipe, args.out, args.onnx or args.out / "province_classifier.onnx")
    print(json.dumps({key: report[key] for key in ("model", "windows", "losses", "val_accuracy_rendered",
                                                    "recordings", "seconds")}, ensure_ascii=False))
    return EXIT_OK
