"""Batched CTC text recognition: many line images, few `session.run` calls, character evidence out.

Lines are resized to the model's height and padded to a width bucket (a multiple of `BUCKET` pixels); a batch
holds lines of one bucket. A line therefore gets the same input whether it is read alone or in a batch. Buckets are
narrow (16 px) because every padded pixel is computed: with 64 px buckets a 257 px line was run 320 px wide.

On CPU a batch buys little: the model is compute-bound, and a call over 16 lines (16 × 48 × 320 activations) no
longer fits the caches, so each line cost about 1.5 times what it costs alone. A call therefore holds at most
`MAX_BATCH_WIDTH` pixels of padded line width in all (two number lines).
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from vision.grammar.alphabet import ALPHABET, fold_table, separator_mask
from vision.grammar.evidence import Evidence
from vision.ocr.model import RecognitionModel

log = logging.getLogger(__name__)

BUCKET = 16
MAX_WIDTH = 1280
MAX_BATCH_WIDTH = 640
EMPTY = Evidence(np.zeros((0, len(ALPHABET)), np.float32), "")


class TextRecognizer:
    """Reads text lines (BGR uint8 images) into `Evidence`: one alphabet probability row per emitted character."""

    def __init__(self, model_path: Path | None = None, threads: int | None = None, batch_size: int = 16) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.model = RecognitionModel(model_path, threads)
        self.batch_size = batch_size
        table = fold_table(self.model.classes)
        self._mapped = np.flatnonzero(table >= 0)
        self._fold = np.zeros((len(self._mapped), len(ALPHABET)), np.float32)
        self._fold[np.arange(len(self._mapped)), table[self._mapped]] = 1.0
        self._separator = separator_mask(self.model.classes)

    def _input_width(self, line: np.ndarray) -> int:
        h, w = line.shape[:2]
        return int(min(MAX_WIDTH, max(BUCKET // 4, math.ceil(self.model.height * w / h))))

    def _tensor(self, line: np.ndarray, bucket_width: int) -> np.ndarray:
        """CHW float32 scaled to [-1, 1] (PP-OCR's normalisation), zero-padded to `bucket_width`."""
        width = self._input_width(line)
        resized = cv2.resize(line, (width, self.model.height), interpolation=cv2.INTER_LINEAR)
        out = np.zeros((3, self.model.height, bucket_width), np.float32)
        out[:, :, :width] = resized.transpose(2, 0, 1).astype(np.float32) / 127.5 - 1.0
        return out

    def line_input(self, line: np.ndarray) -> np.ndarray:
        """One line as the model takes it (CHW, padded to its width bucket), as `recognize` batches it."""
        return self._tensor(line, math.ceil(self._input_width(line) / BUCKET) * BUCKET)

    def recognize(self, lines: Sequence[np.ndarray]) -> list[Evidence]:
        """Evidence for each line, in order; lines must be BGR uint8 (see `lines.check_crop`)."""
        buckets: dict[int, list[int]] = defaultdict(list)
        for i, line in enumerate(lines):
            buckets[math.ceil(self._input_width(line) / BUCKET) * BUCKET].append(i)
        results: list[Evidence] = [EMPTY] * len(lines)
        for width, indices in buckets.items():
            per_call = max(1, min(self.batch_size, MAX_BATCH_WIDTH // width))
            for start in range(0, len(indices), per_call):
                chunk = indices[start:start + per_call]
                batch = np.stack([self._tensor(lines[i], width) for i in chunk])
                probs = self.model.session.run(None, {self.model.input_name: batch})[0]
                for i, frame_probs in zip(chunk, probs, strict=True):
                    results[i] = self._evidence(frame_probs)
        return results

    def _evidence(self, probs: np.ndarray) -> Evidence:
        """CTC greedy path → characters; each keeps the folded class probabilities of its frames (max per class)."""
        best = probs.argmax(axis=1)
        starts = np.flatnonzero((best != 0) & np.concatenate([[True], best[1:] != best[:-1]]))
        rows, raw = [], []
        for start in starts:
            cls = int(best[start])
            end = start
            while end + 1 < len(best) and best[end + 1] == cls:
                end += 1
            raw.append(self.model.classes[cls])
            if self._separator[cls]:
                continue
            folded = probs[start:end + 1, self._mapped] @ self._fold
            rows.append(folded.max(axis=0))
        if not rows:
            return Evidence(np.zeros((0, len(ALPHABET)), np.float32), "".join(raw))
        return Evidence(np.clip(np.stack(rows), 0.0, 1.0).astype(np.float32), "".join(raw))
