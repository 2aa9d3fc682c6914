"""Accuracy and latency of `smartgate read` (the `ImageReader`): re-runnable figures for issue 3.

    python -m vision.evaluate_read [--real DIR] [--no-synthetic] [--frames 20] [--threads N] [--out FILE]

- synthetic: a recording rendered with a seed never trained on; for each passage and camera (front, rear) the frame
  where its plate or container number is largest (the truck near the stop line), up to `--frames` frames. Plate and
  container-number exact match per truth object; seal state per rear frame whose door handles are in the truth.
- real (ContainerVision, every image whose number is labelled):
  - per image: exact match of the container number, as `any` (one of the image's reads is the label) and `top`
    (its most confident read is), overall and for horizontal and vertical numbers apart;
  - per container: the views of one passage labelled with the same number (the dataset's README: a passage's
    five views may show two containers) fused by summed evidence, the confidences of every read of each string
    added up; the fused number is the string with the most;
  - size-type codes: the code reported with the correctly read number, where a code is labelled;
  - time per image (the whole `read_file`: detector, OCR, seals, and the text-line search where it runs).
- latency: detector stages (pre, infer, post) in ms, median of a few runs, at 960×540 and 1920×1080.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from datasets.recording import FrameTruth, Recording
from datasets.synth.generator import generate
from vision.detector import Detector
from vision.reader import ImageReader, load_image

log = logging.getLogger(__name__)

SEED = 9101  # training used 1–64 and held out 9001–9004
SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "containervision"
FOCUS = {"front": "plate", "rear": "container_number"}


def pick_frames(recording: Recording, limit: int) -> list[FrameTruth]:
    """Per passage and camera, the frame where the focus object (plate/number) is tallest and wholly in view."""
    best: dict[tuple[str, str], tuple[float, FrameTruth]] = {}
    for truth in recording.frames():
        cls = FOCUS.get(truth.camera)
        for obj in truth.objects:
            if obj.cls != cls or obj.passage_id is None or not _inside(obj.box, recording, truth.camera):
                continue
            key, height = (obj.passage_id, truth.camera), obj.box[3] - obj.box[1]
            if key not in best or height > best[key][0]:
                best[key] = (height, truth)
    return [truth for _, truth in sorted(best.values(), key=lambda item: (item[1].t, item[1].camera))][:limit]


def _inside(box: Sequence[float], recording: Recording, camera: str, margin: float = 4.0) -> bool:
    """Whether a box lies wholly in the frame (a number cut by the frame edge cannot be read whole)."""
    meta = recording.meta.cameras[camera]
    return (box[0] >= margin and box[1] >= margin and box[2] <= meta.width - margin
            and box[3] <= meta.height - margin)


def evaluate_synthetic(reader: ImageReader, frames: int, workdir: Path) -> dict[str, Any]:
    generate(workdir, duration_s=150.0, fps=2.0, trucks_per_hour=400, seed=SEED, cameras=("front", "rear"),
             workers=2)
    recording = Recording.open(workdir)
    tallies = {name: [0, 0] for name in ("plate", "container", "seal")}
    misses: list[str] = []
    picked = pick_frames(recording, frames)
    for truth in picked:
        result = reader.read_file(recording.frame_path(truth))
        plates = {p.text for p in result.plates}
        numbers = {c.number for c in result.containers}
        for obj in truth.objects:
            if obj.cls == "plate" and obj.text:
                _count(tallies["plate"], obj.text in plates, misses, f"{truth.file} plate {obj.text} {plates}")
            if obj.cls == "container_number" and obj.text:
                want = obj.text.replace(" ", "")
                _count(tallies["container"], want in numbers, misses, f"{truth.file} number {want} {numbers}")
        sealed = _seal_truth(truth)
        if sealed is not None:
            states = {s.state for s in result.seals}
            want_state = "present" if sealed else "absent"
            _count(tallies["seal"], states == {want_state}, misses, f"{truth.file} seal {want_state} {states}")
    return {"seed": SEED, "frames": len(picked), **{k: _rate(v) for k, v in tallies.items()}, "misses": misses}


def _seal_truth(truth: FrameTruth) -> bool | None:
    """Whether the door seen in a frame is sealed (any of its handles carries a seal, per the handles' truth);
    None when no door handle is in the frame."""
    handles = [o for o in truth.objects if o.cls == "door_handle" and "sealed" in o.attrs]
    return bool(any(o.attrs["sealed"] for o in handles)) if handles else None


def _is_vertical(label: dict[str, Any]) -> bool:
    boxes = [b["xyxy"] for b in label.get("text_boxes") or [] if b["kind"] in ("number", "owner")]
    return bool(boxes) and (boxes[0][3] - boxes[0][1]) > 2 * (boxes[0][2] - boxes[0][0])


def evaluate_real(reader: ImageReader, root: Path) -> dict[str, Any]:
    """Per-image and per-container exact match on ContainerVision (see the module docstring)."""
    tallies = {key: [0, 0] for key in ("any", "top", "horizontal", "vertical", "horizontal_top", "vertical_top",
                                       "size_type")}
    groups: dict[tuple[str, str], dict[str, float]] = {}
    misses: list[str] = []
    times: list[float] = []
    cpu_times: list[float] = []  # CPU time of all threads: the cost, whatever else the machine is running
    for line in (root / "labels.jsonl").read_text(encoding="utf-8").splitlines():
        label = json.loads(line)
        want = label.get("container_number")
        if not want:
            continue
        start, cpu = time.monotonic(), time.process_time()
        result = reader.read_file(root / label["image"])
        times.append(1000.0 * (time.monotonic() - start))
        cpu_times.append(1000.0 * (time.process_time() - cpu))
        reads = sorted(result.containers, key=lambda c: -c.confidence)
        hit, top = any(c.number == want for c in reads), bool(reads) and reads[0].number == want
        orientation = "vertical" if _is_vertical(label) else "horizontal"
        _count(tallies["any"], hit, misses, f"{label['image']} {want} {[(c.number, c.confidence) for c in reads]}")
        _count(tallies["top"], top, [], "")
        _count(tallies[orientation], hit, [], "")
        _count(tallies[f"{orientation}_top"], top, [], "")
        if label.get("size_type"):
            codes = [c.size_type for c in reads if c.number == want]
            _count(tallies["size_type"], label["size_type"] in codes, misses,
                   f"{label['image']} size type {label['size_type']} {codes}")
        evidence = groups.setdefault((str(label.get("container")), want), {})
        for c in reads:
            evidence[c.number] = evidence.get(c.number, 0.0) + c.confidence
    fused = [0, 0]
    for (passage, want), evidence in sorted(groups.items()):
        best = max(evidence, key=lambda number: evidence[number]) if evidence else ""
        _count(fused, best == want, misses, f"container {passage}/{want} fused {best or None}")
    return {"images": {k: _rate(v) for k, v in tallies.items()}, "containers_fused": _rate(fused),
            "ms_per_image": _spread(times), "cpu_ms_per_image": _spread(cpu_times),
            "text_search": dict(reader.finder.looks) if reader.finder is not None else {},
            "misses": misses}


def _spread(times: list[float]) -> dict[str, float | None]:
    if not times:
        return {"p50": None, "p90": None, "max": None}
    return {"p50": round(statistics.median(times), 1), "p90": round(float(np.percentile(times, 90)), 1),
            "max": round(max(times), 1)}


def latency(detector: Detector, image: np.ndarray, runs: int = 7) -> dict[str, float]:
    """Median stage times of `runs` detections after one warm-up."""
    detector.detect_one(image)
    times = [detector.detect_one(image)[1] for _ in range(runs)]
    return {stage: round(statistics.median(getattr(t, stage) for t in times), 1)
            for stage in ("pre_ms", "infer_ms", "post_ms", "total_ms")}


def evaluate(real_root: Path | None, frames: int, threads: int | None, synthetic: bool = True) -> dict[str, Any]:
    reader = ImageReader.load(threads=threads)
    report: dict[str, Any] = {}
    if synthetic:
        with tempfile.TemporaryDirectory() as tmp:
            report["synthetic"] = evaluate_synthetic(reader, frames, Path(tmp) / "rec")
            sample = next(Path(tmp, "rec", "cameras", "rear").glob("*.jpg"))
            frame = load_image(sample)
        report["latency_960x540"] = latency(reader.detector, frame)
        report["latency_1920x1080"] = latency(reader.detector, cv2.resize(frame, (1920, 1080)))
    if real_root is not None and (real_root / "labels.jsonl").is_file():
        report["real"] = evaluate_real(reader, real_root)
    elif real_root is not None:
        log.warning("no labels.jsonl in %s: real images skipped", real_root)
    return report


def _count(tally: list[int], hit: bool, misses: list[str], what: str) -> None:
    tally[0] += hit
    tally[1] += 1
    if not hit:
        misses.append(what)


def _rate(tally: list[int]) -> dict[str, Any]:
    return {"correct": tally[0], "total": tally[1], "accuracy": round(tally[0] / tally[1], 4) if tally[1] else None}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--real", type=Path, default=SHARED, help="ContainerVision folder (skipped if absent)")
    parser.add_argument("--frames", type=int, default=20, help="synthetic frames to read")
    parser.add_argument("--no-synthetic", action="store_true", help="real images only (no recording rendered)")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", type=Path, help="write the JSON report here too")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    report = evaluate(args.real, args.frames, args.threads, synthetic=not args.no_synthetic)
    text = json.dumps(report, indent=2, ensure_ascii=False)
    if args.out is not None:
        args.out.write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
