"""Reading identifiers from crops: plates, container numbers (whole, vertical, or in pieces), size-type codes.

Every method takes a batch of crops and returns one read per crop, in order. A crop that cannot be read (empty,
1×1, wrong type) gives an empty read — `None`, or a plate read with empty text — and is counted in `rejected`;
the batch goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np

from vision.grammar import (
    UNKNOWN,
    ContainerNumberRead,
    Evidence,
    PlateRead,
    SizeTypeRead,
    read_container_number,
    read_plate,
    read_size_type,
)
from vision.ocr.lines import CropError, check_crop, identifier_line, plate_lines
from vision.ocr.padding import PLATE_PAD
from vision.ocr.province import ProvinceClassifier, glyph_window
from vision.ocr.recognizer import TextRecognizer

log = logging.getLogger(__name__)

EMPTY_PLATE = PlateRead("", UNKNOWN, 0.0, "")


class TextReader:
    """The OCR front door: crops in, grammar-checked reads out, one model call per batch of lines."""

    def __init__(self, recognizer: TextRecognizer | None = None, model_path: Path | None = None,
                 threads: int | None = None, *,
                 province: ProvinceClassifier | Literal["installed"] | None = "installed",
                 plate_pad: tuple[float, float] = PLATE_PAD) -> None:
        """`province`: the classifier of Chinese province characters (None: the recogniser reads them alone);
        `plate_pad`: how far plate crops extend past the plate's box, as shares of its sides (where the province
        cell lies in the crop)."""
        self.recognizer = recognizer or TextRecognizer(model_path, threads)
        self.province = ProvinceClassifier.installed(threads) if province == "installed" else province
        self.plate_pad = plate_pad
        self.rejected = 0

    def _checked(self, crops: Sequence[object]) -> list[np.ndarray | None]:
        out: list[np.ndarray | None] = []
        for crop in crops:
            try:
                out.append(check_crop(crop))
            except CropError as err:
                self.rejected += 1
                log.warning("OCR crop rejected: %s", err)
                out.append(None)
        return out

    def evidence(self, crops: Sequence[object], *, plates: bool = False) -> list[Evidence | None]:
        """Character evidence per crop (lines of a two-line plate joined), None for a rejected crop."""
        checked = self._checked(crops)
        lines: list[np.ndarray] = []
        owners: list[int] = []
        for i, crop in enumerate(checked):
            if crop is None:
                continue
            for line in plate_lines(crop) if plates else [identifier_line(crop)]:
                lines.append(line)
                owners.append(i)
        read = self.recognizer.recognize(lines)
        joined: list[Evidence | None] = [None] * len(checked)
        for owner, ev in zip(owners, read, strict=True):
            current = joined[owner]
            joined[owner] = ev if current is None else current + ev
        return self._provinces(checked, joined) if plates else joined

    def _provinces(self, crops: Sequence[np.ndarray | None], joined: list[Evidence | None]) -> list[Evidence | None]:
        """Plates whose first character reads as a province get the province classifier's say on which one."""
        if self.province is None:
            return joined
        chosen = [(i, crop, ev) for i, (crop, ev) in enumerate(zip(crops, joined, strict=True))
                  if crop is not None and ev is not None and self.province.starts_with_province(ev)]
        probs = self.province.probabilities([glyph_window(crop, self.plate_pad) for _, crop, _ in chosen])
        out = list(joined)
        for (i, _, ev), row in zip(chosen, probs, strict=True):
            out[i] = self.province.refine(ev, row)
        return out

    def read_plates(self, crops: Sequence[object]) -> list[PlateRead]:
        """Plates (VN, CN or `unknown`); a rejected crop reads as empty text."""
        return [read_plate(ev) if ev is not None else EMPTY_PLATE for ev in self.evidence(crops, plates=True)]

    def read_container_numbers(self, crops: Sequence[object]) -> list[ContainerNumberRead | None]:
        """ISO 6346 numbers from crops holding a whole number, horizontal or vertical."""
        return [read_container_number(ev) if ev is not None else None for ev in self.evidence(crops)]

    def read_size_types(self, crops: Sequence[object]) -> list[SizeTypeRead | None]:
        """Size-type codes (22G1, 45G1 ...)."""
        return [read_size_type(ev) if ev is not None else None for ev in self.evidence(crops)]

    def read_split_numbers(self, pieces: Sequence[Sequence[object]]) -> list[ContainerNumberRead | None]:
        """Numbers painted in pieces (owner code on one panel, serial on the next): each item lists its crops in
        reading order; their characters are joined before decoding."""
        flat = [crop for group in pieces for crop in group]
        evidence = self.evidence(flat)
        out: list[ContainerNumberRead | None] = []
        at = 0
        for group in pieces:
            parts = evidence[at:at + len(group)]
            at += len(group)
            if not parts or any(p is None for p in parts):
                out.append(None)
                continue
            joined = parts[0]
            for part in parts[1:]:
                joined = joined + part if joined is not None and part is not None else None
            out.append(read_container_number(joined) if joined is not None else None)
        return out
