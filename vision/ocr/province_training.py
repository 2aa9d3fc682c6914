"""Train the province classifier (`smartgate train-province`; vision/ocr/province.py) on rendered plates.

A rendered recording holds a dozen Chinese plates, most of them from Guangxi (`桂`), so recordings alone cannot
teach 31 classes. Plates are therefore rendered on their own, every province equally often, with the generator's
plate artist (`datasets.synth.plates`), mounted on a holder against a random ground, tilted, shrunk to a gate
camera's 9-45 px plate height, and degraded as the recordings degrade them (blur, motion, night, glare, rain
dimming, sensor noise, JPEG). The window is cut from a detector-like box (the truth box with jittered edges, padded
as the lane pipeline pads), exactly as the product cuts it.

The check that counts is on real renders of scenes: the Chinese plates of held-out recordings, where the
classifier's choice is compared with the recogniser's own on the same crops (`recording_windows`).

Torch and onnx (the training extras) are imported inside the functions that need them.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from datasets.synth.identifiers import CN_PROVINCES, random_cn_plate
from datasets.synth.plates import PlateSpec, render_plate
from vision.grammar.alphabet import ALPHABET
from vision.ocr.head_training import detector_like_crop
from vision.ocr.lines import check_crop
from vision.ocr.padding import PLATE_PAD
from vision.ocr.province import GLYPH_SIZE, glyph_window
from vision.training.small_cnn import conv, export_onnx, fit

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProvinceRecipe:
    """Everything that decides the classifier; written into the metrics and the model's metadata."""

    plates: int = 8000
    """Distinct rendered plates; each gives `views` windows."""
    views: int = 3
    train_seeds: tuple[int, ...] = (7101, 7102, 7103)
    """Recordings (the OCR's training seeds) whose Chinese plates are trained on too: the scene's own look."""
    seed_duration_s: float = 300.0
    plate_px: tuple[float, float] = (9.0, 45.0)
    """Plate height in the frame, drawn log-uniformly."""
    two_line_share: float = 0.5
    box_jitter: float = 0.04
    val_recordings: tuple[str, ...] = ()
    epochs: int = 8
    learning_rate: float = 2e-3
    batch: int = 128
    seed: int = 0


QUICK = ProvinceRecipe(plates=300, views=2, train_seeds=(7101,), seed_duration_s=20.0, epochs=1)


# --- rendered windows ---------------------------------------------------------------------------------------------

def _scene(plate: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The plate on a dark holder against a random ground, with room around it; and the plate's corners."""
    h, w = plate.shape[:2]
    margin_x, margin_y = w // 2, h
    ground = rng.uniform(30, 200, 3)
    shade = 0.6 + 0.8 * rng.random((4, 4, 1))
    scene = (cv2.resize(shade, (w + 2 * margin_x, h + 2 * margin_y))[..., None] * ground).clip(0, 255)
    scene = scene.astype(np.uint8)
    rim = max(1, h // 12)
    scene[margin_y - rim:margin_y + h + rim, margin_x - rim:margin_x + w + rim] = (30, 30, 32)
    scene[margin_y:margin_y + h, margin_x:margin_x + w] = plate
    x0, y0, x1, y1 = margin_x, margin_y, margin_x + w, margin_y + h
    corners = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float32)
    return scene, corners


def _view(scene: np.ndarray, corners: np.ndarray, height_px: float, rng: np.random.Generator
          ) -> tuple[np.ndarray, np.ndarray]:
    """The scene seen by a gate camera: tilted, sheared and shrunk so that the plate is `height_px` high; and the
    plate's box in the result."""
    plate_h = float(corners[:, 1].max() - corners[:, 1].min())
    scale = height_px / plate_h
    centre = corners.mean(axis=0)
    moved = (corners - centre) * scale
    moved[:, 0] *= float(rng.uniform(0.8, 1.1))  # seen a little from the side
    moved[:, 1] += moved[:, 0] * float(rng.normal(0, 0.06))  # camera roll and the lane's slope
    moved[:, 0] += moved[:, 1] * float(rng.normal(0, 0.08))
    depth = float(rng.normal(0, 0.08))
    moved[:, 1] *= 1 + depth * np.sign(moved[:, 0])  # one side nearer than the other
    out_h, out_w = int(scene.shape[0] * scale) + 4, int(scene.shape[1] * scale) + 4
    moved += (out_w / 2, out_h / 2)
    src = (corners - centre) * scale + (out_w / 2, out_h / 2)
    shrink = cv2.resize(scene, (out_w, out_h), interpolation=cv2.INTER_AREA)
    matrix = cv2.getPerspectiveTransform(src.astype(np.float32), moved.astype(np.float32))
    image = cv2.warpPerspective(shrink, matrix, (out_w, out_h), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_REPLICATE)
    box = np.array([*moved.min(axis=0), *moved.max(axis=0)], np.float64)
    return image, box


def _degrade(image: np.ndarray, height_px: float, rng: np.random.Generator) -> np.ndarray:
    """Blur, motion, night, glare, rain dimming, sensor noise and JPEG, each about as often as in the recordings
    (half the trucks carry one to three of eight conditions)."""
    out: np.ndarray = image.astype(np.float32)
    if rng.random() < 0.3:
        out = cv2.GaussianBlur(out, (0, 0), float(rng.uniform(0.3, 0.8)))
    night = rng.random() < 0.12
    if rng.random() < 0.15:
        length = int(rng.integers(2, max(3, int(height_px * 0.4)) + 1))
        kernel = np.zeros((length, length), np.float32)
        kernel[length // 2, :] = 1.0 / length
        out = cv2.filter2D(out, -1, kernel, borderType=cv2.BORDER_REPLICATE)
    if night:  # dim, a cold cast, more noise
        out *= float(rng.uniform(0.3, 0.75))
        out[..., 0] *= 1.15
    if rng.random() < 0.12:  # glare: a bright blob washing out part of the plate
        h, w = out.shape[:2]
        ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
        cx, cy, r = rng.uniform(0, w), rng.uniform(0, h), max(2.0, height_px * float(rng.uniform(0.5, 1.4)))
        weight = np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * r * r)) * float(rng.uniform(0.5, 0.95))
        out += (255.0 - out) * weight[..., None]
    if rng.random() < 0.12:  # rain: the scene dulled and lifted
        out = out * 0.86 + 18
    out = out * float(rng.uniform(0.8, 1.2)) + float(rng.normal(0, 10))
    out += rng.normal(0, 7.0 if night else float(rng.uniform(1.5, 3.5)), out.shape)
    quality = int(rng.integers(12, 32)) if rng.random() < 0.12 else int(rng.integers(70, 92))
    ok, jpeg = cv2.imencode(".jpg", out.clip(0, 255).astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, quality])
    return np.asarray(cv2.imdecode(jpeg, cv2.IMREAD_COLOR), np.uint8) if ok else out.clip(0, 255).astype(np.uint8)


def rendered_windows(count: int, recipe: ProvinceRecipe, seed: int
                     ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
    """`count` plates, every province equally often, `recipe.views` windows each; and their class indices."""
    rng = np.random.default_rng(seed)
    pad = PLATE_PAD
    windows, labels = [], []
    lo, hi = np.log(recipe.plate_px[0]), np.log(recipe.plate_px[1])
    for i in range(count):
        label = i % len(CN_PROVINCES)
        two_line = bool(rng.random() < recipe.two_line_share)
        text = random_cn_plate(rng, trailer=two_line, province=CN_PROVINCES[label])
        spec = PlateSpec(text, "cn", "yellow" if two_line or rng.random() < 0.5 else "blue", 2 if two_line else 1)
        width_mm, height_mm = spec.size_mm()
        big_h = int(rng.integers(60, 120))
        scene, corners = _scene(render_plate(spec, round(big_h * width_mm / height_mm), big_h, rng), rng)
        for _ in range(recipe.views):
            height_px = float(np.exp(rng.uniform(lo, hi))) * (height_mm / 140)
            image, box = _view(scene, corners, height_px, rng)
            image = _degrade(image, height_px, rng)
            crop = detector_like_crop(image, "plate", box.tolist(), recipe.box_jitter, rng)
            if crop.shape[0] < 4 or crop.shape[1] < 4:
                continue
            windows.append(glyph_window(crop, pad))
            labels.append(label)
    return np.stack(windows).astype(np.float32), np.asarray(labels, np.int64)


# --- windows of recorded scenes -------------------------------------------------------------------------------------

def recording_windows(recording: Path, rng: np.random.Generator, min_px: int = 10
                      ) -> Iterator[tuple[np.ndarray, int, np.ndarray]]:
    """(window, class, plate crop) for each Chinese plate of a rendered recording at least `min_px` high."""
    pad = PLATE_PAD
    for row in (recording / "frames.jsonl").read_text(encoding="utf-8").splitlines():
        frame = json.loads(row)
        plates = [o for o in frame["objects"] if o["cls"] == "plate" and str(o.get("text", ""))[:1] in CN_PROVINCES
                  and o["box"][3] - o["box"][1] >= min_px]
        image = cv2.imread(str(recording / frame["file"]), cv2.IMREAD_COLOR) if plates else None
        if image is None:
            continue
        for obj in plates:
            crop = check_crop(detector_like_crop(image, "plate", obj["box"], 0.04, rng))
            yield glyph_window(crop, pad), CN_PROVINCES.index(obj["text"][0]), crop


def compare_on_recordings(model: Path, recordings: Sequence[Path], seed: int = 0) -> dict[str, Any]:
    """Share of Chinese plate crops whose province the classifier and the recogniser (its first row) get right."""
    from vision.ocr.province import ProvinceClassifier
    from vision.ocr.reader import TextReader

    classifier = ProvinceClassifier(model)
    reader = TextReader(province=None)
    columns = [ALPHABET.index(p) for p in CN_PROVINCES]
    rng = np.random.default_rng(seed)
    right = {"classifier": 0, "recogniser": 0}
    total = 0
    for recording in recordings:
        items = list(recording_windows(recording, rng))
        if not items:
            continue
        probs = classifier.probabilities([w for w, _, _ in items])
        evidence = reader.evidence([c for _, _, c in items], plates=True)
        for (_, label, _), p, ev in zip(items, probs, evidence, strict=True):
            total += 1
            right["classifier"] += classifier.provinces[int(p.argmax())] == CN_PROVINCES[label]
            if ev is not None and len(ev):
                right["recogniser"] += int(np.argmax(ev.probs[0, columns])) == label
    return {"crops": total, **{k: round(v / max(1, total), 4) for k, v in right.items()}}


# --- the network ------------------------------------------------------------------------------------------------

def network(classes: int) -> Any:
    """Three conv blocks (32, 64, 128 channels; one conv at full size, two below) halving a 32 px window to 4 px,
    then a linear layer: about 29 M multiply-adds per window."""
    import torch
    from torch import nn

    torch.manual_seed(0)
    return nn.Sequential(*conv(1, 32), nn.MaxPool2d(2), *conv(32, 64), *conv(64, 64), nn.MaxPool2d(2),
                         *conv(64, 128), *conv(128, 128), nn.MaxPool2d(2), nn.Flatten(), nn.Dropout(0.3),
                         nn.Linear(128 * (GLYPH_SIZE // 8) ** 2, classes))


def train(x: npt.NDArray[np.float32], y: npt.NDArray[np.int64], recipe: ProvinceRecipe) -> tuple[Any, list[float]]:
    """The network trained by cross-entropy (label smoothing 0.05); and the loss per epoch."""
    import torch

    model = network(len(CN_PROVINCES))
    losses = fit(model, torch.from_numpy(x[:, None]), torch.from_numpy(y),
                 torch.nn.CrossEntropyLoss(label_smoothing=0.05), epochs=recipe.epochs, batch=recipe.batch,
                 learning_rate=recipe.learning_rate, seed=recipe.seed)
    return model, losses


def accuracy(model: Any, x: npt.NDArray[np.float32], y: npt.NDArray[np.int64]) -> float:
    import torch

    with torch.no_grad():
        guess = np.concatenate([model(torch.from_numpy(x[i:i + 512, None])).argmax(1).numpy()
                                for i in range(0, len(x), 512)])
    return round(float((guess == y).mean()), 4)


def export(model: Any, target: Path, recipe: ProvinceRecipe) -> Path:
    """The network as ONNX (batch dimension free), its classes and recipe in the metadata."""
    return export_onnx(model, target, (1, GLYPH_SIZE, GLYPH_SIZE), ("glyph", "logits"),
                       {"provinces": "".join(CN_PROVINCES), "smartgate_province_recipe": json.dumps(asdict(recipe))})


def recorded_windows(out: Path, recipe: ProvinceRecipe) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
    """The Chinese plates of the training seeds' recordings (rendered under `out` unless already there)."""
    from datasets.synth import rendered

    rng = np.random.default_rng(recipe.seed)
    windows: list[np.ndarray] = []
    labels: list[int] = []
    for seed in recipe.train_seeds:
        folder = rendered(out / f"seed{seed}", seed=seed, duration_s=recipe.seed_duration_s, fps=4.0,
                          trucks_per_hour=300.0, size=(1280, 720))
        for window, label, _ in recording_windows(folder, rng):
            windows.append(window)
            labels.append(label)
    if not windows:
        return np.zeros((0, GLYPH_SIZE, GLYPH_SIZE), np.float32), np.zeros(0, np.int64)
    return np.stack(windows).astype(np.float32), np.asarray(labels, np.int64)


def run(recipe: ProvinceRecipe, out: Path, target: Path) -> dict[str, Any]:
    """Render, train, export to `target`; the metrics, also in out/metrics.json."""
    out.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    drawn_x, drawn_y = rendered_windows(recipe.plates, recipe, recipe.seed)
    scene_x, scene_y = recorded_windows(out, recipe)
    x, y = np.concatenate([drawn_x, scene_x]), np.concatenate([drawn_y, scene_y])
    val_x, val_y = rendered_windows(max(len(CN_PROVINCES), recipe.plates // 10), recipe, recipe.seed + 1)
    rendered = time.monotonic()
    model, losses = train(x, y, recipe)
    export(model, target, recipe)
    report: dict[str, Any] = {
        "recipe": asdict(recipe), "model": str(target),
        "windows": {"train": len(x), "from_recordings": len(scene_x), "val": len(val_x)},
        "losses": [round(v, 4) for v in losses], "val_accuracy_rendered": accuracy(model, val_x, val_y),
        "recordings": compare_on_recordings(target, [Path(r) for r in recipe.val_recordings])
        if recipe.val_recordings else None,
        "seconds": {"render": round(rendered - began), "train": round(time.monotonic() - rendered)}}
    (out / "metrics.json").write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    return report
