"""Fine-tune the text recogniser's last layer on synthetic gate text (`smartgate train-ocr`).

PP-OCRv4 learnt documents and street text; a gate reads small plates and painted numbers through rain, blur, glare
and night. Retraining the network wants a GPU, but its last layer (a linear map from 120 features per time step to
the 6,625 classes, before the softmax) trains on a 2-core CPU in minutes: the features of each text line are
computed once, then only that layer learns, by CTC loss on the truth text. A pull toward the original weights
(`l2`) keeps what the model knew of real text; the real ContainerVision images are the check.

Lines are cut as the reader cuts them (`plate_lines`, `identifier_line` on the truth boxes of rendered frames); a
two-line plate's features are joined in reading order and trained on its whole text. Separators are not in the
targets: the grammars drop them, so time spent learning them is wasted.

Crops are cut as the lane pipeline cuts a detector's box (`ReaderConfig` padding), from the truth box with each edge
moved at random by a few per cent of its side, as a detector's boxes are. The first candidate, trained on tight truth
boxes, misread the padded crops the product gives it (`81R-460.75` for `81R-460.79`).

Only legible lines are trained on (`OcrRecipe.min_line_px`): a line a few pixels high carries no text, and trained
on its truth the layer learns to guess from priors. The first candidate, trained from 8 px crops up, wrote a Chinese
province character before Vietnamese plates (`桂8179`) and lost fused confidence on them.

Torch and onnx (the training extras) are imported inside the functions that need them.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from vision.grammar.alphabet import SEPARATORS
from vision.ocr.lines import CropError, check_crop, identifier_line, plate_lines, two_line_shape
from vision.ocr.model import wheel_model_path
from vision.ocr.recognizer import TextRecognizer
from vision.reader import ReaderConfig, padded_crop

log = logging.getLogger(__name__)

TEXT_CLASSES = ("plate", "container_number", "size_type")


@dataclass(frozen=True)
class OcrRecipe:
    """Everything that decides the fine-tuned layer; written into the metrics and the model's metadata."""

    train_seeds: tuple[int, ...] = (7101, 7102, 7103, 7104, 7105)
    val_seeds: tuple[int, ...] = (9401,)
    duration_s: float = 300.0
    val_duration_s: float = 120.0
    trucks_per_hour: float = 300.0
    conditions_share: float = 0.5
    frame_size: tuple[int, int] = (1280, 720)
    lines_per_recording: tuple[int, int, int] = (2500, 1500, 600)
    """At most this many plates, container numbers and size-type codes from one recording."""
    min_line_px: int = 10
    """A text line lower than this (a two-line plate: each of its lines) is not trained on."""
    box_jitter: float = 0.04
    """Each edge of a truth box moves by a normal draw of this share of the box's side before it is padded."""
    epochs: int = 4
    learning_rate: float = 3e-4
    l2: float = 1e-3
    batch: int = 32
    seed: int = 0


QUICK = OcrRecipe(train_seeds=(7101,), val_seeds=(9401,), duration_s=20.0, val_duration_s=20.0,
                  lines_per_recording=(60, 40, 20), epochs=1)


@dataclass(frozen=True)
class Sample:
    """One identifier's features (time steps x features, lines joined) and its target class ids."""

    features: npt.NDArray[np.float16]
    target: npt.NDArray[np.int64]
    kind: str


# --- the model's last layer --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Head:
    """Where the last layer sits in the graph: the feature tensor, and the weight and bias tensor names."""

    features: str
    weight: str
    bias: str


def find_head(model: Any) -> Head:
    """The MatMul + Add that feeds the output Softmax; `ValueError` for a graph of another shape."""
    producers = {out: node for node in model.graph.node for out in node.output}
    softmax = producers.get(model.graph.output[0].name)
    add = producers.get(softmax.input[0]) if softmax is not None and softmax.op_type == "Softmax" else None
    matmul = producers.get(add.input[0]) if add is not None and add.op_type == "Add" else None
    if add is None or matmul is None or matmul.op_type != "MatMul":
        raise ValueError("recognition model does not end in MatMul → Add → Softmax")
    return Head(features=matmul.input[0], weight=matmul.input[1], bias=add.input[1])


def _tensor_proto(model: Any, name: str) -> Any:
    """The TensorProto holding a constant: an initializer or a Constant node's value."""
    for init in model.graph.initializer:
        if init.name == name:
            return init
    for node in model.graph.node:
        if node.op_type == "Constant" and node.output[0] == name:
            return node.attribute[0].t
    raise ValueError(f"constant {name} not found in the model")


def head_weights(model: Any, head: Head) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    from onnx import numpy_helper

    weight = numpy_helper.to_array(_tensor_proto(model, head.weight)).astype(np.float32)
    bias = numpy_helper.to_array(_tensor_proto(model, head.bias)).astype(np.float32)
    return weight, bias


def feature_session(model: Any, head: Head) -> bytes:
    """The model with the features as a second output, serialised for ONNX Runtime."""
    import copy

    import onnx

    tapped = copy.deepcopy(model)
    tapped.graph.output.append(onnx.helper.make_tensor_value_info(head.features, onnx.TensorProto.FLOAT, None))
    return bytes(tapped.SerializeToString())


def write_model(model: Any, head: Head, weight: npt.NDArray[np.float32], bias: npt.NDArray[np.float32],
                target: Path, recipe: OcrRecipe) -> Path:
    """The base model with the trained layer (and the recipe in its metadata), written to `target`."""
    import copy

    import onnx
    from onnx import numpy_helper

    tuned = copy.deepcopy(model)
    for name, value in ((head.weight, weight), (head.bias, bias)):
        _tensor_proto(tuned, name).CopyFrom(numpy_helper.from_array(value.astype(np.float32), name))
    entry = tuned.metadata_props.add()
    entry.key, entry.value = "smartgate_head_recipe", json.dumps(asdict(recipe))
    target.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(tuned, str(target))
    return target


# --- lines and features ------------------------------------------------------------------------------------------

def legible(kind: str, box: Sequence[float], min_line_px: int) -> bool:
    """Whether a truth text box's lines are at least `min_line_px` high (as `plate_lines` would cut a plate)."""
    w, h = box[2] - box[0], box[3] - box[1]
    if kind == "plate" and two_line_shape(w, h):
        return h >= 2 * min_line_px
    return min(w, h) >= min_line_px


def detector_like_crop(image: np.ndarray, kind: str, box: Sequence[float], jitter: float,
                       rng: np.random.Generator) -> np.ndarray:
    """The truth box with its edges jittered, padded as the pipeline pads a detected box of this class."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    moved = np.asarray(box, np.float64) + rng.normal(0.0, jitter, 4) * np.array([w, h, w, h])
    return padded_crop(image, moved, ReaderConfig().text_pad(kind))


def truth_lines(recording: Path, recipe: OcrRecipe, rng: np.random.Generator
                ) -> Iterator[tuple[list[np.ndarray], str, str]]:
    """(line images, truth text, class) for a random choice of the recording's legible truth text boxes."""
    boxes: list[tuple[str, str, list[float], str]] = []
    for row in (recording / "frames.jsonl").read_text(encoding="utf-8").splitlines():
        frame = json.loads(row)
        for obj in frame["objects"]:
            if obj["cls"] in TEXT_CLASSES and obj.get("text") and legible(obj["cls"], obj["box"], recipe.min_line_px):
                boxes.append((frame["file"], obj["cls"], obj["box"], obj["text"]))
    picked: list[tuple[str, str, list[float], str]] = []
    left = dict(zip(TEXT_CLASSES, recipe.lines_per_recording, strict=True))
    for i in rng.permutation(len(boxes)):
        if left[boxes[i][1]] > 0:
            left[boxes[i][1]] -= 1
            picked.append(boxes[i])
    picked.sort(key=lambda b: b[0])  # each frame decoded once
    image, image_file = None, ""
    for file, kind, box, text in picked:
        if file != image_file:
            image, image_file = cv2.imread(str(recording / file), cv2.IMREAD_COLOR), file
        if image is None:
            continue
        try:
            crop = check_crop(detector_like_crop(image, kind, box, recipe.box_jitter, rng))
        except CropError:
            continue
        yield (plate_lines(crop) if kind == "plate" else [identifier_line(crop)]), text, kind


def samples(recordings: Sequence[Path], recipe: OcrRecipe, model: Any, head: Head, threads: int | None
            ) -> list[Sample]:
    """Features and targets of the truth text lines of `recordings` (texts with a character the model lacks are
    left out)."""
    options = ort.SessionOptions()
    if threads is not None:
        options.intra_op_num_threads = threads
    session = ort.InferenceSession(feature_session(model, head), options,
                                   providers=["CPUExecutionProvider"])
    recognizer = TextRecognizer(threads=threads)
    index = {ch: i for i, ch in enumerate(recognizer.model.classes) if ch}
    rng = np.random.default_rng(recipe.seed)
    out: list[Sample] = []
    for recording in recordings:
        for lines, text, kind in truth_lines(recording, recipe, rng):
            ids = [index.get(ch, -1) for ch in text if ch not in SEPARATORS and not ch.isspace()]
            if not ids or min(ids) < 0:
                continue
            name = recognizer.model.input_name
            parts = [session.run([head.features], {name: recognizer.line_input(line)[None]})[0][0] for line in lines]
            out.append(Sample(np.concatenate(parts).astype(np.float16), np.asarray(ids, np.int64), kind))
    return out


# --- training ---------------------------------------------------------------------------------------------------

def _batches(data: Sequence[Sample], size: int, order: npt.NDArray[np.intp]) -> Iterator[tuple[Any, ...]]:
    import torch

    width = data[0].features.shape[1]
    for start in range(0, len(order), size):
        chunk = [data[i] for i in order[start:start + size]]
        steps = max(s.features.shape[0] for s in chunk)
        x = np.zeros((len(chunk), steps, width), np.float32)
        for j, s in enumerate(chunk):
            x[j, :s.features.shape[0]] = s.features
        targets = torch.from_numpy(np.concatenate([s.target for s in chunk]))
        yield (torch.from_numpy(x), torch.tensor([s.features.shape[0] for s in chunk]), targets,
               torch.tensor([len(s.target) for s in chunk]), chunk)


def exact_rates(data: Sequence[Sample], weight: npt.NDArray[np.float32], bias: npt.NDArray[np.float32],
                ignore: frozenset[int]) -> dict[str, float]:
    """Greedy CTC exact match per class (separator classes in `ignore` left out of the read)."""
    right: dict[str, int] = {}
    total: dict[str, int] = {}
    for s in data:
        best = (s.features.astype(np.float32) @ weight + bias).argmax(axis=1)
        read = [int(c) for k, c in enumerate(best) if c and (k == 0 or c != best[k - 1]) and int(c) not in ignore]
        total[s.kind] = total.get(s.kind, 0) + 1
        right[s.kind] = right.get(s.kind, 0) + (read == s.target.tolist())
    return {kind: round(right[kind] / total[kind], 4) for kind in total}


def train_head(data: Sequence[Sample], weight: npt.NDArray[np.float32], bias: npt.NDArray[np.float32],
               recipe: OcrRecipe) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32], list[float]]:
    """The layer trained by CTC loss plus `l2` times its squared distance from the start; and the loss per epoch."""
    import torch

    torch.manual_seed(recipe.seed)
    start_w, start_b = torch.from_numpy(weight.copy()), torch.from_numpy(bias.copy())
    w, b = torch.nn.Parameter(start_w.clone()), torch.nn.Parameter(start_b.clone())
    ctc = torch.nn.CTCLoss(blank=0, zero_infinity=True)
    optimiser = torch.optim.Adam([w, b], lr=recipe.learning_rate)
    rng = np.random.default_rng(recipe.seed)
    losses = []
    for epoch in range(recipe.epochs):
        began, total = time.monotonic(), 0.0
        for x, x_len, y, y_len, chunk in _batches(data, recipe.batch, rng.permutation(len(data))):
            log_probs = (x @ w + b).log_softmax(-1).transpose(0, 1)
            pull = ((w - start_w) ** 2).sum() + ((b - start_b) ** 2).sum()
            loss = ctc(log_probs, y, x_len, y_len) + recipe.l2 * pull
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += float(loss.detach()) * len(chunk)
        losses.append(total / len(data))
        log.info("epoch %d: loss %.3f (%.0f s)", epoch, losses[-1], time.monotonic() - began)
    return w.detach().numpy(), b.detach().numpy(), losses


def run(recipe: OcrRecipe, out: Path, target: Path, *, threads: int | None = None) -> dict[str, Any]:
    """Render the recordings, train the layer, write the model to `target`; the metrics, also in out/metrics.json."""
    import onnx

    began = time.monotonic()
    train_dirs = [_recording(out, seed, recipe.duration_s, recipe) for seed in recipe.train_seeds]
    val_dirs = [_recording(out, seed, recipe.val_duration_s, recipe) for seed in recipe.val_seeds]
    base_path = wheel_model_path()
    model = onnx.load(str(base_path))
    head = find_head(model)
    weight, bias = head_weights(model, head)
    train_data = samples(train_dirs, recipe, model, head, threads)
    val_data = samples(val_dirs, recipe, model, head, threads)
    if not train_data:
        raise ValueError("no text lines in the training recordings")
    featured = time.monotonic()
    new_w, new_b, losses = train_head(train_data, weight, bias, recipe)
    write_model(model, head, new_w, new_b, target, recipe)
    ignore = frozenset(i for i, ch in enumerate(TextRecognizer(target, threads).model.classes)
                       if ch in SEPARATORS or (ch and ch.isspace()))
    report = {"recipe": asdict(recipe), "base_model": base_path.name, "model": str(target),
              "lines": {"train": len(train_data), "val": len(val_data)}, "losses": [round(x, 4) for x in losses],
              "val_exact_before": exact_rates(val_data, weight, bias, ignore),
              "val_exact_after": exact_rates(val_data, new_w, new_b, ignore),
              "seconds": {"render_and_features": round(featured - began), "train": round(time.monotonic() - featured)}}
    (out / "metrics.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    return report


def _recording(out: Path, seed: int, duration_s: float, recipe: OcrRecipe) -> Path:
    """The seed's recording under `out`, rendered unless already there with this duration."""
    import shutil

    from datasets.recording import Recording
    from datasets.synth import generate

    folder = out / f"seed{seed}"
    try:
        if math.isclose(Recording.open(folder).meta.duration_s, duration_s):
            return folder
    except (OSError, ValueError):
        pass
    shutil.rmtree(folder, ignore_errors=True)
    generate(folder, seed=seed, duration_s=duration_s, trucks_per_hour=recipe.trucks_per_hour,
             size=recipe.frame_size, conditions_share=recipe.conditions_share, workers=2)
    return folder
