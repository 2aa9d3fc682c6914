"""Static int8 quantisation of the exported detector for the CPU lanes (ONNX Runtime's QDQ format).

The detector is most of a lane's cost per frame. On an AVX2 CPU without VNNI, int8 convolutions through ONNX
Runtime run about 1.25× faster than float32. Weights are quantised per output channel (symmetric int8),
activations per tensor (uint8), their ranges taken from calibration frames of *training* seeds, never the held-out
ones. The head's decode (the per-scale box and class concatenations and everything after: DFL softmax, anchors,
sigmoid) stays in float32: box logits and class logits share those tensors with very different ranges, and one
uint8 scale for both would blur the box edges. So do the stem's two convolutions, where a plate's characters are
still a few pixels in few channels (quantised, they cost the plates a point of mAP50). Measure the result with
`vision.detector_eval` side by side with the float model before shipping it.
"""

from __future__ import annotations

import logging
import random
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from datasets.recording import FrameTruth, Recording
from vision.detector import DetectorModelError, letterbox, to_tensor
from vision.reader import load_image

log = logging.getLogger(__name__)

Tensor = npt.NDArray[np.float32]
#: Convolutions of the stem kept in float32. Quantised, they cost the plates 1.1 points of mAP50 on the held-out
#: split whatever the calibration (min-max, percentile, entropy; 32–128 frames); in float, int8 matches float32.
STEM_CONVS = 2


def calibration_tensors(recordings: Sequence[Path], input_size: tuple[int, int], count: int,
                        seed: int = 0) -> list[Tensor]:
    """`count` model inputs drawn at random (seeded) from the recordings' frames that show something."""
    shown: list[tuple[Recording, FrameTruth]] = []
    for root in recordings:
        recording = Recording.open(root)
        shown.extend((recording, truth) for truth in recording.frames() if truth.objects)
    if not shown:
        raise DetectorModelError("calibration needs frames with a truck in view; the recordings have none")
    chosen = random.Random(seed).sample(shown, min(count, len(shown)))
    return [to_tensor(letterbox(load_image(recording.frame_path(truth)), input_size)[0])
            for recording, truth in chosen]


def quantize_detector(source: Path, target: Path, tensors: Sequence[Tensor]) -> Path:
    """Write the int8 model for `source` (a float32 ONNX detector) to `target`, calibrated on `tensors`."""
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Feed(CalibrationDataReader):  # type: ignore[misc]  # untyped base class
        def __init__(self, name: str) -> None:
            self._feeds = iter({name: tensor} for tensor in tensors)

        def get_next(self) -> dict[str, Tensor] | None:
            return next(self._feeds, None)

    with tempfile.TemporaryDirectory() as scratch:
        prepared = Path(scratch) / "prepared.onnx"
        quant_pre_process(str(source), str(prepared))
        model = onnx.load(str(prepared))
        keep_float = stem_convs(model.graph) + decode_nodes(model.graph)
        target.parent.mkdir(parents=True, exist_ok=True)
        quantize_static(str(prepared), str(target), Feed(model.graph.input[0].name), quant_format=QuantFormat.QDQ,
                        per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        calibrate_method=CalibrationMethod.MinMax, nodes_to_exclude=keep_float)
    log.info("int8 detector written to %s (%d nodes kept in float32)", target, len(keep_float))
    return target


def stem_convs(graph: object, count: int = STEM_CONVS) -> list[str]:
    """Names of the first `count` convolutions: the stem, at half and quarter resolution."""
    return [node.name for node in graph.node if node.op_type == "Conv"][:count]  # type: ignore[attr-defined]


def decode_nodes(graph: object) -> list[str]:
    """Names of the YOLO head's decode: every node downstream of (and including) a Concat whose inputs all come
    straight from convolutions, the per-scale [box, class] outputs."""
    nodes = list(graph.node)  # type: ignore[attr-defined]
    producer = {output: node for node in nodes for output in node.output}
    consumers: dict[str, list[object]] = {}
    for node in nodes:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    heads = [node for node in nodes if node.op_type == "Concat" and node.input
             and all(getattr(producer.get(name), "op_type", None) == "Conv" for name in node.input)]
    if not heads:
        raise DetectorModelError("no YOLO head found: no Concat of convolution outputs in the graph")
    seen: dict[str, object] = {}
    stack = list(heads)
    while stack:
        node = stack.pop()
        if node.name in seen:
            continue
        seen[node.name] = node
        stack.extend(child for output in node.output for child in consumers.get(output, []))
    return list(seen)


def calibration_recordings(out: Path, seeds: Sequence[int], duration_s: float, size: tuple[int, int]) -> list[Path]:
    """Render (or reuse) one busy lane recording per training seed under `out`."""
    from datasets.synth import rendered

    return [rendered(out / f"seed{seed}", seed=seed, duration_s=duration_s, fps=2.0, trucks_per_hour=400.0, size=size)
            for seed in seeds]


def run(source: Path, target: Path, work: Path, *, seeds: Sequence[int], frames: int,
        duration_s: float = 60.0, size: tuple[int, int] = (1280, 720)) -> dict[str, object]:
    """Calibrate on `frames` frames of the seeds' recordings and write the int8 model; returns what was done."""
    from vision.detector import Detector

    input_size = Detector.load(source, threads=1).input_size
    recordings = calibration_recordings(work, seeds, duration_s, size)
    tensors = calibration_tensors(recordings, input_size, frames)
    quantize_detector(source, target, tensors)
    return {"onnx": str(target), "bytes": target.stat().st_size, "source": str(source),
            "source_bytes": source.stat().st_size, "calibration_frames": len(tensors), "seeds": list(seeds)}
