"""Train the gate detector from scratch: synthetic recordings → YOLO dataset → ultralytics YOLO11 → ONNX + metrics.

    python -m vision.training.train --out .train/run --real .train/real --onnx vision/models/gate_detector.onnx
    python -m vision.training.train --out /tmp/q --quick          # a tiny CPU run that checks the whole pipeline

Torch and ultralytics are imported inside the functions that need them, so the rest of the project (and the
dataset export) runs without them. Ultralytics is kept offline: no pretrained weights (the model is built from
`yolo11n.yaml`), no AMP self-check download, no plots (they fetch a font), no automatic pip installs.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager, redirect_stdout
from dataclasses import asdict, dataclass, field, replace
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from datasets.recording import OBJECT_CLASSES, Recording
from vision.training.yolo_dataset import (
    REAL_CLASSES,
    ExportStats,
    count_labels,
    export_real,
    export_recording,
    label_file,
    listed_images,
    write_data_yaml,
)

log = logging.getLogger(__name__)

#: Augmentations for gate footage. No left-right flips: the seal and labelled handle are on the *right* door, and
#: mirrored text never occurs. Moderate scaling: seals are only ~7 px at 960x540, real container text is larger.
#: Mosaic on half the samples: it costs four decodes and a 2x2 canvas warp, and the data loader is the bottleneck.
AUGMENT: dict[str, float] = {
    "fliplr": 0.0, "flipud": 0.0, "mosaic": 0.5, "scale": 0.4, "translate": 0.1, "degrees": 0.0,
    "hsv_h": 0.015, "hsv_s": 0.6, "hsv_v": 0.5, "mixup": 0.0,
}


@dataclass(frozen=True)
class Recipe:
    """Everything that decides the trained model; written into metrics.json for the model card."""

    train_seeds: tuple[int, ...] = tuple(range(1, 65))
    val_seeds: tuple[int, ...] = (9001, 9002, 9003, 9004)
    duration_s: float = 60.0
    fps: float = 2.0
    trucks_per_hour: float = 400.0
    frame_size: tuple[int, int] = (960, 540)
    model: str = "yolo11n.yaml"
    imgsz: int = 960
    export_imgsz: tuple[int, int] = (544, 960)  # (height, width): 960x540 frames without down-scaling
    epochs: int = 60
    time_h: float | None = None  # ultralytics `time`: a wall-clock budget that overrides epochs
    batch: int = 64
    workers: int = 14
    cache: str | bool = "ram"
    close_mosaic: int = 2
    warmup_epochs: float = 1.0
    amp: bool = True  # mixed precision on CUDA (the self-check that would download a model is skipped)
    opset: int = 18  # the exporter (torch.onnx dynamo) writes 18 natively; converting down broke Split
    augment: dict[str, float] = field(default_factory=lambda: dict(AUGMENT))


QUICK = Recipe(train_seeds=(1, 2), val_seeds=(3,), duration_s=14.0, trucks_per_hour=600.0, imgsz=320,
               export_imgsz=(192, 320), epochs=1, batch=4, workers=0, cache=False, warmup_epochs=0.0,
               close_mosaic=0)


@dataclass
class Timer:
    """Monotonic durations of the pipeline's stages."""

    seconds: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        finally:
            self.seconds[name] = round(time.monotonic() - started, 1)
            log.info("%s: %.1f s", name, self.seconds[name])


# --- data ---------------------------------------------------------------------------------------------------------

def _generate_one(out: Path, seed: int, recipe: Recipe) -> Path:
    from datasets.synth import generate

    target = out / f"seed{seed}"
    if not (target / "recording.json").is_file():
        generate(target, seed=seed, duration_s=recipe.duration_s, fps=recipe.fps,
                 trucks_per_hour=recipe.trucks_per_hour, size=recipe.frame_size, workers=1,
                 lane_id=f"in-{seed % 3 + 1}", direction="in" if seed % 2 == 0 else "out")
    return target


def generate_recordings(out: Path, seeds: Sequence[int], recipe: Recipe, processes: int) -> list[Path]:
    """One recording per seed, rendered in parallel processes (one seed per process: no nested pools)."""
    out.mkdir(parents=True, exist_ok=True)
    if processes <= 1 or len(seeds) <= 1:
        return [_generate_one(out, seed, recipe) for seed in seeds]
    with ProcessPoolExecutor(processes, mp_context=get_context("spawn")) as pool:
        return list(pool.map(_generate_one, [out] * len(seeds), seeds, [recipe] * len(seeds)))


def build_dataset(recordings: Sequence[Path], val_seeds: Sequence[int], root: Path) -> ExportStats:
    """YOLO dataset: recordings of `val_seeds` are held out whole; the rest train."""
    total = ExportStats()
    for path in recordings:
        recording = Recording.open(path)
        held_out = recording.meta.seed in set(val_seeds)
        total.merge(export_recording(recording, root, split="val" if held_out else "train"))
    write_data_yaml(root / "data.yaml", root)
    return total


def real_data_yamls(real_root: Path) -> dict[str, Path]:
    """Data files for the real images: `all` scores container_number and size_type, `doors` door_handle."""
    yamls = {}
    for name in ("all", "doors"):
        listing = real_root / f"{name}.txt"
        if listing.is_file() and listing.read_text().strip():
            yamls[name] = write_data_yaml(real_root / f"{name}.yaml", real_root, train=listing.name, val=listing.name)
    return yamls


# --- ultralytics --------------------------------------------------------------------------------------------------

def offline_ultralytics(config_dir: Path | None = None) -> None:
    """Keep ultralytics from reaching the network or installing packages; call before importing it.

    Its dataset check fetches Arial.ttf (for plots, which are off) unless the font is in its config folder, and the
    fetch has no timeout on a machine whose packets are dropped; a local font under that name stops it.
    """
    os.environ.setdefault("YOLO_OFFLINE", "true")
    os.environ.setdefault("YOLO_AUTOINSTALL", "false")
    os.environ.setdefault("WANDB_DISABLED", "true")
    if config_dir is not None and "YOLO_CONFIG_DIR" not in os.environ:
        config_dir.mkdir(parents=True, exist_ok=True)
        os.environ["YOLO_CONFIG_DIR"] = str(config_dir.resolve())
    folder = Path(os.environ.get("YOLO_CONFIG_DIR", Path.home() / ".config" / "Ultralytics"))
    font = folder / "Arial.ttf"
    if not font.exists():
        from datasets.synth.fonts import find_font

        folder.mkdir(parents=True, exist_ok=True)
        font.write_bytes(find_font("DejaVuSans.ttf").read_bytes())


def _device() -> str | int:
    import torch

    return 0 if torch.cuda.is_available() else "cpu"


def train(data_yaml: Path, recipe: Recipe, project: Path) -> Path:
    """Train from scratch; returns the best weights."""
    offline_ultralytics()
    from ultralytics import YOLO

    amp = recipe.amp and _device() != "cpu"
    if amp:
        _skip_amp_self_check()
    model = YOLO(recipe.model)
    extra: dict[str, Any] = {"time": recipe.time_h} if recipe.time_h else {}
    model.train(data=str(data_yaml), imgsz=recipe.imgsz, epochs=recipe.epochs, batch=recipe.batch,
                workers=recipe.workers, device=_device(), cache=recipe.cache, project=str(project), name="train",
                exist_ok=True, pretrained=False, plots=False, amp=amp, val=False,
                close_mosaic=recipe.close_mosaic, warmup_epochs=recipe.warmup_epochs, seed=0, deterministic=False,
                patience=1000, **recipe.augment, **extra)
    best = project / "train" / "weights" / "best.pt"
    return best if best.is_file() else project / "train" / "weights" / "last.pt"


def _skip_amp_self_check() -> None:
    """Ultralytics checks AMP by downloading yolo11n.pt and comparing its outputs; offline that download fails (or
    hangs where packets are dropped). Mixed precision on a CUDA GPU is sound, so the check is skipped."""
    from ultralytics.engine import trainer

    def trusted(model: object) -> bool:
        return True

    trainer.check_amp = trusted


def evaluate(weights: Path, data_yaml: Path, imgsz: int, project: Path, name: str, counts: dict[str, int],
             classes: Sequence[str] = OBJECT_CLASSES) -> dict[str, dict[str, float]]:
    """mAP50 and mAP50-95 per class (only `classes`, and only those with labels in the data); `counts` are the
    labelled objects per class, reported beside each figure."""
    offline_ultralytics()
    from ultralytics import YOLO

    metrics = YOLO(str(weights)).val(data=str(data_yaml), imgsz=imgsz, batch=16, device=_device(), plots=False,
                                     project=str(project), name=name, exist_ok=True, verbose=False)
    box = metrics.box
    out: dict[str, dict[str, float]] = {}
    for row, class_index in enumerate(box.ap_class_index):
        cls = OBJECT_CLASSES[int(class_index)]
        if cls in classes:
            out[cls] = {"map50": round(float(box.ap50[row]), 4), "map50_95": round(float(box.ap[row]), 4),
                        "precision": round(float(box.p[row]), 4), "recall": round(float(box.r[row]), 4),
                        "instances": counts.get(cls, 0)}
    return out


def export_onnx(weights: Path, recipe: Recipe, target: Path) -> Path:
    """Fixed-size ONNX (no dynamic axes, no simplifier: onnxslim may be missing and cannot be installed)."""
    offline_ultralytics()
    from ultralytics import YOLO

    exported = Path(YOLO(str(weights)).export(format="onnx", imgsz=list(recipe.export_imgsz), opset=recipe.opset,
                                              simplify=False, dynamic=False, half=False, device="cpu"))
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(exported.read_bytes())
    return target


# --- the whole run ------------------------------------------------------------------------------------------------

def run(recipe: Recipe, out: Path, *, real_root: Path | None, onnx_target: Path, metrics_file: Path,
        processes: int, train_log: Path | None) -> dict[str, Any]:
    """Generate, export, train, evaluate, export ONNX; returns (and writes) the metrics."""
    offline_ultralytics(out / "ultralytics")
    timer = Timer()
    with timer.stage("generate"):
        recordings = generate_recordings(out / "recordings", recipe.train_seeds + recipe.val_seeds, recipe,
                                         processes)
    with timer.stage("dataset"):
        stats = build_dataset(recordings, recipe.val_seeds, out / "yolo")
    log.info("dataset: %s", stats)
    log_stream = train_log.open("a") if train_log else sys.stdout
    try:
        with redirect_stdout(log_stream), timer.stage("train"):
            weights = train(out / "yolo" / "data.yaml", recipe, out / "runs")
        with redirect_stdout(log_stream), timer.stage("evaluate"):
            val_counts = count_labels((out / "yolo" / "labels" / "val").glob("*.txt"))
            report: dict[str, Any] = {"synthetic_val": evaluate(weights, out / "yolo" / "data.yaml", recipe.imgsz,
                                                                out / "runs", "val_synth", val_counts)}
            if real_root is not None:
                report.update(_evaluate_real(weights, real_root, recipe.imgsz, out / "runs"))
        with redirect_stdout(log_stream), timer.stage("export"):
            export_onnx(weights, recipe, onnx_target)
            (out / "detector.pt").write_bytes(weights.read_bytes())  # for fine-tuning; not shipped
    finally:
        if train_log:
            log_stream.close()
    report.update({
        "recipe": asdict(recipe), "classes": list(OBJECT_CLASSES),
        "data": {"images": stats.images, "objects": stats.objects, "skipped_boxes": stats.skipped_boxes,
                 "recordings": len(recordings)},
        "seconds": timer.seconds, "device": _device_name(), "epochs_run": _epochs_run(out / "runs"),
        "onnx": str(onnx_target), "onnx_bytes": onnx_target.stat().st_size,
    })
    metrics_file.parent.mkdir(parents=True, exist_ok=True)
    metrics_file.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    return report


def _evaluate_real(weights: Path, real_root: Path, imgsz: int, project: Path) -> dict[str, Any]:
    yamls = real_data_yamls(real_root)
    real: dict[str, dict[str, float]] = {}
    for name, classes in (("all", ("container_number", "size_type")), ("doors", ("door_handle",))):
        if name in yamls:
            counts = count_labels(label_file(image) for image in listed_images(real_root / f"{name}.txt"))
            real.update(evaluate(weights, yamls[name], imgsz, project, f"val_real_{name}", counts, classes))
    return {"real": {cls: real[cls] for cls in REAL_CLASSES if cls in real}}


def _device_name() -> str:
    import torch

    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"


def _epochs_run(runs: Path) -> int:
    results = runs / "train" / "results.csv"
    if not results.is_file():
        return 0
    return max(0, len(results.read_text().strip().splitlines()) - 1)


# --- command line ---------------------------------------------------------------------------------------------------

def _seeds(text: str) -> tuple[int, ...]:
    """`1-48` or `1,2,5` → seeds."""
    seeds: list[int] = []
    for part in text.split(","):
        low, _, high = part.partition("-")
        seeds.extend(range(int(low), int(high) + 1) if high else [int(low)])
    return tuple(seeds)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="work folder: recordings, dataset, runs")
    parser.add_argument("--real", type=Path, help="real images exported by `--prepare-real` (evaluation only)")
    parser.add_argument("--prepare-real", type=Path, metavar="CONTAINERVISION",
                        help="export ../shared/datasets/containervision to --real and stop")
    parser.add_argument("--onnx", type=Path, help="where to write the ONNX model (default OUT/detector.onnx)")
    parser.add_argument("--metrics", type=Path, help="metrics JSON (default OUT/metrics.json)")
    parser.add_argument("--log", type=Path, help="ultralytics' own output goes here instead of stdout")
    parser.add_argument("--quick", action="store_true", help="a tiny run that checks the pipeline")
    parser.add_argument("--train-seeds", type=_seeds)
    parser.add_argument("--val-seeds", type=_seeds)
    parser.add_argument("--duration", type=float)
    parser.add_argument("--imgsz", type=int)
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--time-h", type=float, help="training wall-clock budget in hours (overrides epochs)")
    parser.add_argument("--batch", type=int)
    parser.add_argument("--model", help="model yaml to train from scratch, or a .pt to continue training from")
    parser.add_argument("--warmup-epochs", type=float, help="0 when continuing from trained weights")
    parser.add_argument("--workers", type=int, help="dataloader workers")
    parser.add_argument("--cache", choices=("ram", "disk", "none"))
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1, help="generator processes")
    return parser.parse_args(argv)


def recipe_from(args: argparse.Namespace) -> Recipe:
    recipe = QUICK if args.quick else Recipe()
    overrides = {"train_seeds": args.train_seeds, "val_seeds": args.val_seeds, "duration_s": args.duration,
                 "imgsz": args.imgsz, "epochs": args.epochs, "time_h": args.time_h, "batch": args.batch,
                 "workers": args.workers, "model": args.model, "warmup_epochs": args.warmup_epochs}
    recipe = replace(recipe, **{k: v for k, v in overrides.items() if v is not None})
    if args.cache is not None:
        recipe = replace(recipe, cache=False if args.cache == "none" else args.cache)
    return recipe


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    args = parse_args(argv)
    if args.prepare_real is not None:
        target = args.real or args.out / "real"
        counts = export_real(args.prepare_real / "labels.jsonl", args.prepare_real, target)
        log.info("real images exported to %s: %s", target, counts)
        return 0
    report = run(recipe_from(args), args.out, real_root=args.real, onnx_target=args.onnx or args.out / "detector.onnx",
                 metrics_file=args.metrics or args.out / "metrics.json", processes=args.processes,
                 train_log=args.log)
    log.info("synthetic: %s", json.dumps(report["synthetic_val"]))
    log.info("real: %s", json.dumps(report.get("real", {})))
    log.info("seconds: %s", report["seconds"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
