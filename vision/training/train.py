"""Train the gate detector from scratch: synthetic recordings → YOLO dataset → ultralytics YOLO11 → ONNX + metrics.

`run(recipe, out, ...)` is the whole pipeline; `smartgate train` (vision/training/command.py) is its command line.
Torch and ultralytics are imported inside the functions that need them, so the rest of the project (and the
dataset export) runs without them. Ultralytics is kept offline: no pretrained weights (the model is built from
`yolo11n.yaml`), no AMP self-check download, no plots (they fetch a font), no automatic pip installs.
"""

from __future__ import annotations

import json
import logging
import shutil
import sys
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from datasets.recording import OBJECT_CLASSES, Recording
from vision.training.export import export_onnx, offline_ultralytics
from vision.training.yolo_dataset import (
    REAL_CLASSES,
    ExportStats,
    count_labels,
    export_recording,
    label_file,
    listed_images,
    oversampled_list,
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
    device: str = "auto"  # "auto" (the first GPU when there is one, else the CPU), "cpu", or a CUDA index "0"
    opset: int = 18  # the exporter (torch.onnx dynamo) writes 18 natively; converting down broke Split
    real_oversample: int = 40  # each real training image listed this often (0: real images are only scored)
    augment: dict[str, float] = field(default_factory=lambda: dict(AUGMENT))


#: A smoke test of the whole pipeline in a minute or two on a CPU (its model finds nothing yet): one short training
#: recording and one held out (seeds whose first truck arrives within the 16 s), rendered small at 1 fps, one epoch
#: at 256 px.
QUICK = Recipe(train_seeds=(2,), val_seeds=(3,), duration_s=16.0, fps=1.0, trucks_per_hour=900.0,
               frame_size=(480, 270), imgsz=256, export_imgsz=(160, 256), epochs=1, batch=8, workers=0, cache=False,
               warmup_epochs=0.0, close_mosaic=0, real_oversample=1)


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
    from datasets.synth import rendered

    return rendered(out / f"seed{seed}", seed=seed, duration_s=recipe.duration_s, fps=recipe.fps,
                    trucks_per_hour=recipe.trucks_per_hour, size=recipe.frame_size, lane_id=f"in-{seed % 3 + 1}",
                    direction="in" if seed % 2 == 0 else "out")


def generate_recordings(out: Path, seeds: Sequence[int], recipe: Recipe, processes: int) -> list[Path]:
    """One recording per seed, rendered in parallel processes (one seed per process: no nested pools)."""
    out.mkdir(parents=True, exist_ok=True)
    if processes <= 1 or len(seeds) <= 1:
        return [_generate_one(out, seed, recipe) for seed in seeds]
    with ProcessPoolExecutor(processes, mp_context=get_context("spawn")) as pool:
        return list(pool.map(_generate_one, [out] * len(seeds), seeds, [recipe] * len(seeds)))


def build_dataset(recordings: Sequence[Path], val_seeds: Sequence[int], root: Path,
                  real_train: Path | None = None) -> ExportStats:
    """YOLO dataset: recordings of `val_seeds` are held out whole; the rest train, with the images of the list
    `real_train` beside them. A dataset left in `root` by an earlier run is removed first: its frames could belong
    to another recipe, or to the other split."""
    for folder in ("images", "labels"):
        shutil.rmtree(root / folder, ignore_errors=True)
    total = ExportStats()
    for path in recordings:
        recording = Recording.open(path)
        held_out = recording.meta.seed in set(val_seeds)
        total.merge(export_recording(recording, root, split="val" if held_out else "train"))
    train = ["images/train", str(real_train.resolve())] if real_train is not None else "images/train"
    write_data_yaml(root / "data.yaml", root, train=train)
    return total


def real_data_yamls(real_root: Path) -> dict[str, Path]:
    """Data files for the held-out real images: `val` scores container_number and size_type, `doors` door_handle."""
    yamls = {}
    for name in ("val", "doors"):
        listing = real_root / f"{name}.txt"
        if listing.is_file() and listing.read_text().strip():
            yamls[name] = write_data_yaml(real_root / f"{name}.yaml", real_root, train=listing.name, val=listing.name)
    return yamls


# --- ultralytics --------------------------------------------------------------------------------------------------

class TrainingError(ValueError):
    """A training run that cannot start: an unknown device, no data."""


def resolve_device(requested: str) -> str | int:
    """`auto` → the first GPU if torch sees one, else `cpu`; a CUDA index must name a GPU that is there."""
    import torch

    if requested == "auto":
        return 0 if torch.cuda.is_available() else "cpu"
    if requested == "cpu":
        return "cpu"
    if not requested.isdigit():
        raise TrainingError(f"device must be auto, cpu or a CUDA index such as 0, got {requested!r}")
    if int(requested) >= torch.cuda.device_count():
        raise TrainingError(f"CUDA device {requested} not found (torch sees {torch.cuda.device_count()} GPUs)")
    return int(requested)


def train(data_yaml: Path, recipe: Recipe, project: Path) -> Path:
    """Train from scratch; returns the best weights."""
    offline_ultralytics()
    from ultralytics import YOLO

    device = resolve_device(recipe.device)
    amp = recipe.amp and device != "cpu"
    if amp:
        _skip_amp_self_check()
    model = YOLO(recipe.model)
    extra: dict[str, Any] = {"time": recipe.time_h} if recipe.time_h else {}
    model.train(data=str(data_yaml), imgsz=recipe.imgsz, epochs=recipe.epochs, batch=recipe.batch,
                workers=recipe.workers, device=device, cache=recipe.cache, project=str(project), name="train",
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


def evaluate(weights: Path, data_yaml: Path, recipe: Recipe, project: Path, name: str, counts: dict[str, int],
             classes: Sequence[str] = OBJECT_CLASSES) -> dict[str, dict[str, float]]:
    """mAP50 and mAP50-95 per class (only `classes`, and only those with labels in the data); `counts` are the
    labelled objects per class, reported beside each figure."""
    offline_ultralytics()
    from ultralytics import YOLO

    metrics = YOLO(str(weights)).val(data=str(data_yaml), imgsz=recipe.imgsz, batch=16,
                                     device=resolve_device(recipe.device), plots=False, project=str(project),
                                     name=name, exist_ok=True, verbose=False)
    box = metrics.box
    out: dict[str, dict[str, float]] = {}
    for row, class_index in enumerate(box.ap_class_index):
        cls = OBJECT_CLASSES[int(class_index)]
        if cls in classes:
            out[cls] = {"map50": round(float(box.ap50[row]), 4), "map50_95": round(float(box.ap[row]), 4),
                        "precision": round(float(box.p[row]), 4), "recall": round(float(box.r[row]), 4),
                        "instances": counts.get(cls, 0)}
    return out


# --- the whole run ------------------------------------------------------------------------------------------------

def run(recipe: Recipe, out: Path, *, real_root: Path | None = None, onnx_target: Path | None = None,
        metrics_file: Path | None = None, processes: int = 1, train_log: Path | None = None) -> dict[str, Any]:
    """Generate, export, train, evaluate, export ONNX; returns (and writes) the metrics.

    Writes `out/detector.pt` (weights, for export and fine-tuning), the ONNX model (default `out/detector.onnx`)
    and the metrics (default `out/metrics.json`). `real_root` is a folder written by `yolo_dataset.export_real`: its
    training passages join the training set (`recipe.real_oversample` times each), its held-out passages are
    scored; without it the model sees no real image. Ultralytics' own output goes to `train_log` if given.
    """
    onnx_target = onnx_target or out / "detector.onnx"
    metrics_file = metrics_file or out / "metrics.json"
    offline_ultralytics(out / "ultralytics")
    device = resolve_device(recipe.device)  # before anything slow: a missing GPU fails at once
    timer = Timer()
    with timer.stage("generate"):
        recordings = generate_recordings(out / "recordings", recipe.train_seeds + recipe.val_seeds, recipe,
                                         processes)
    with timer.stage("dataset"):
        real_train = (oversampled_list(real_root / "train.txt", recipe.real_oversample)
                      if real_root is not None else None)
        stats = build_dataset(recordings, recipe.val_seeds, out / "yolo", real_train)
    log.info("dataset: %s", stats)
    if not stats.images.get("train") or not stats.images.get("val") or not sum(stats.objects.values()):
        raise TrainingError(f"the recipe's seeds gave nothing to learn: frames {stats.images}, no truck in view")
    weights = out / "detector.pt"
    with _output_to(train_log):
        with timer.stage("train"):
            weights.write_bytes(train(out / "yolo" / "data.yaml", recipe, out / "runs").read_bytes())
        with timer.stage("evaluate"):
            val_counts = count_labels((out / "yolo" / "labels" / "val").glob("*.txt"))
            report: dict[str, Any] = {"synthetic_val": evaluate(weights, out / "yolo" / "data.yaml", recipe,
                                                                out / "runs", "val_synth", val_counts)}
            if real_root is not None:
                report.update(_evaluate_real(weights, real_root, recipe, out / "runs"))
        with timer.stage("export"):
            export_onnx(weights, onnx_target, recipe.export_imgsz, recipe.opset)
    report.update({
        "recipe": asdict(recipe), "classes": list(OBJECT_CLASSES),
        "data": {"images": stats.images, "objects": stats.objects, "skipped_boxes": stats.skipped_boxes,
                 "recordings": len(recordings), "real_train_images": _listed(real_root, "train"),
                 "real_val_images": _listed(real_root, "val"), "real_oversample": recipe.real_oversample},
        "seconds": timer.seconds, "device": _device_name(device), "epochs_run": _epochs_run(out / "runs"),
        "weights": str(weights), "onnx": str(onnx_target), "onnx_bytes": onnx_target.stat().st_size,
    })
    metrics_file.parent.mkdir(parents=True, exist_ok=True)
    metrics_file.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    return report


@contextmanager
def _output_to(train_log: Path | None) -> Iterator[None]:
    """Send ultralytics' progress (stdout, and its progress bars and warnings on stderr) to `train_log` when one is
    given. Its logger holds the stdout of import time, so that handler is pointed at the file too, and back
    afterwards (else later messages hit a closed file). Our own logging keeps its stream: stage timings stay
    visible."""
    if train_log is None:
        yield
        return
    offline_ultralytics()
    console = sys.stdout
    train_log.parent.mkdir(parents=True, exist_ok=True)
    with train_log.open("a") as stream, redirect_stdout(stream), redirect_stderr(stream):
        import ultralytics  # noqa: F401  (on first import it creates its logger, and prints a settings notice)

        handlers = [h for h in logging.getLogger("ultralytics").handlers if isinstance(h, logging.StreamHandler)]
        previous = [handler.setStream(stream) for handler in handlers]
        try:
            yield
        finally:
            for handler, old in zip(handlers, previous, strict=True):
                handler.setStream(old if old is not None else console)


def _evaluate_real(weights: Path, real_root: Path, recipe: Recipe, project: Path) -> dict[str, Any]:
    yamls = real_data_yamls(real_root)
    real: dict[str, dict[str, float]] = {}
    for name, classes in (("val", ("container_number", "size_type")), ("doors", ("door_handle",))):
        if name in yamls:
            counts = count_labels(label_file(image) for image in listed_images(real_root / f"{name}.txt"))
            real.update(evaluate(weights, yamls[name], recipe, project, f"val_real_{name}", counts, classes))
    return {"real": {cls: real[cls] for cls in REAL_CLASSES if cls in real}}


def _listed(real_root: Path | None, name: str) -> int:
    listing = real_root / f"{name}.txt" if real_root is not None else None
    return len(listed_images(listing)) if listing is not None and listing.is_file() else 0


def _device_name(device: str | int) -> str:
    import torch

    return "cpu" if device == "cpu" else str(torch.cuda.get_device_name(device))


def _epochs_run(runs: Path) -> int:
    results = runs / "train" / "results.csv"
    if not results.is_file():
        return 0
    return max(0, len(results.read_text().strip().splitlines()) - 1)
