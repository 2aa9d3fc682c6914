"""Container numbers found anywhere in an image: text lines → batched OCR → ISO 6346 grammar over line chains.

Used where the gate detector gives no container number that validates (on real photographs it rarely does). The
text detector returns lines; the largest `max_lines` are read in one batch; `line_groups.reading_chains` proposes
the ways consecutive lines may form one identifier (owner code and serial on one row or stacked, a column broken in
two, a check digit apart); the grammar and the check digit choose. A chain that reads as a number whose check
digit was missed is read once more with its last line grown past its end, where a boxed check digit usually is.
Size-type codes are read from the lines next to each number.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from vision.grammar import ContainerNumberRead, Evidence, SizeTypeRead, read_container_number, read_size_type
from vision.ocr.line_groups import extended, is_straight, is_vertical, reading_chains, text_size, union
from vision.ocr.reader import TextReader
from vision.ocr.text_detector import STRIDE, TextDetector, TextLines, check_image, input_size

log = logging.getLogger(__name__)

NUMBER_LENGTHS = range(10, 14)  # characters a chain may hold: 11, the check digit missing, or two spurious
PITCH = 0.75  # a character's advance along a row or column, in text sizes (a row's height, a column's width)


@dataclass(frozen=True)
class FinderConfig:
    """How many lines are read per image, how far apart pieces and size-type codes may be."""

    scales: tuple[int, ...] = (960, 1280)  # text detector input sides, tried in turn while no number validates
    max_lines: int = 16  # largest lines read per image: bounds the recogniser's work
    max_pieces: int = 3  # owner code, serial, check digit
    size_type_gap: float = 3.5  # between number and size-type boxes, in the number's character sizes
    max_retries: int = 8  # chains read again from grown crops
    reach: float = 1.6  # how far a crop is grown, in characters

    def __post_init__(self) -> None:
        if self.max_lines < 1 or self.max_pieces < 1 or not self.scales:
            raise ValueError("max_lines and max_pieces must be at least 1, and scales not empty")
        if any(side < STRIDE or side % STRIDE for side in self.scales):
            raise ValueError(f"scales must be positive multiples of {STRIDE}, got {self.scales}")


@dataclass(frozen=True)
class FoundNumber:
    """One container number: the read, its box (xyxy, image pixels), the size-type code next to it, the lines
    it was read from (indices into the `TextLines`), and whether it is painted vertically."""

    read: ContainerNumberRead
    box: tuple[float, float, float, float]
    size_type: SizeTypeRead | None
    lines: tuple[int, ...]
    vertical: bool


@dataclass(frozen=True)
class FinderResult:
    """Numbers best first (validated ones, then at most one that did not validate), the lines, stage times."""

    numbers: list[FoundNumber]
    lines: TextLines
    timings_ms: dict[str, float] = field(default_factory=dict)


def _crop(image: np.ndarray, box: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    x0, y0 = max(0, int(box[0])), max(0, int(box[1]))
    x1, y1 = min(w, int(np.ceil(box[2]))), min(h, int(np.ceil(box[3])))
    return image[y0:y1, x0:x1]


def _join(parts: Sequence[Evidence | None]) -> Evidence | None:
    if any(p is None for p in parts):
        return None
    joined = parts[0]
    for part in parts[1:]:
        joined = joined + part if joined is not None and part is not None else None
    return joined


def looks_like_number(evidence: Evidence) -> bool:
    """A cheap test before the decoder: 10 to 13 characters, letters at the start, digits at the end, as the
    model read them. Rows of weights ("30.480 KGS") could otherwise be bent into a valid number through the
    confusable pairs (8→B, 2→Z, 0→D), and the decoder's search over dropped characters is the costly step."""
    if len(evidence) not in NUMBER_LENGTHS:
        return False
    text = evidence.best_text()
    return sum(ch.isalpha() for ch in text[:6]) >= 3 and sum(ch.isdigit() for ch in text[-8:]) >= 5


def looks_like_piece(evidence: Evidence) -> bool:
    """Part of a number: an owner code (three letters and U, J or Z) or at least five digits."""
    text = evidence.best_text()
    owner = any(text[i:i + 3].isalpha() and text[i + 3] in "UJZ" for i in range(max(0, len(text) - 3)))
    return 4 <= len(text) <= 13 and (owner or sum(ch.isdigit() for ch in text) >= 5)


def _box_gap(a: np.ndarray, b: np.ndarray) -> float:
    """Distance between two boxes (0 when they overlap)."""
    dx = max(0.0, float(max(a[0], b[0]) - min(a[2], b[2])))
    dy = max(0.0, float(max(a[1], b[1]) - min(a[3], b[3])))
    return float(np.hypot(dx, dy))


class NumberFinder:
    """Text detector and OCR composed to find container numbers in a whole image."""

    def __init__(self, detector: TextDetector, reader: TextReader, config: FinderConfig | None = None) -> None:
        self.detector, self.reader = detector, reader
        self.config = config or FinderConfig()
        self.looks: Counter[int] = Counter()  # text detector passes run, by input side: the cost actually paid

    def find(self, image: object) -> FinderResult:
        """Numbers in a BGR image, looking again at the next of `config.scales` while none validates (raises
        `TextDetectionError` for an image the detector cannot take)."""
        image = check_image(image)
        timings: dict[str, float] = {}
        result = FinderResult([], TextLines.empty())
        sizes = {input_size(image.shape[0], image.shape[1], side): side for side in reversed(self.config.scales)}
        for side in sorted(sizes.values()):  # a small image gives one input size for several scales: one pass
            lines = self.detector.detect(image, max_side=side)
            self.looks[side] += 1
            result = self.find_in_lines(image, lines)
            timings["detect"] = timings.get("detect", 0.0) + round(lines.elapsed_ms, 1)
            for key, value in result.timings_ms.items():
                timings[key] = round(timings.get(key, 0.0) + value, 1)
            timings["passes"] = timings.get("passes", 0.0) + 1
            if any(found.read.check_digit_ok for found in result.numbers):
                break
        return FinderResult(result.numbers, result.lines, timings)

    def find_in_lines(self, image: np.ndarray, lines: TextLines) -> FinderResult:
        """Numbers among already detected lines (the largest `max_lines` of them are read)."""
        start = time.monotonic()
        xyxy = lines.xyxy[:self.config.max_lines]
        evidence = self.reader.evidence([_crop(image, box) for box in xyxy])
        read_ms = 1000.0 * (time.monotonic() - start)
        start = time.monotonic()
        candidates, retry = self._decode_chains(xyxy, evidence)
        decode_ms = 1000.0 * (time.monotonic() - start)
        start = time.monotonic()
        candidates += self._retry_grown(image, xyxy, evidence, retry)
        tail_ms = 1000.0 * (time.monotonic() - start)
        numbers = [self._with_size_type(found, [c for c in candidates if c.read.number == found.read.number],
                                        xyxy, evidence) for found in _choose(candidates)]
        timings = {"read": round(read_ms, 1), "decode": round(decode_ms, 1), "retry": round(tail_ms, 1),
                   "lines_read": float(len(xyxy))}
        return FinderResult(numbers, lines, timings)

    def _decode_chains(self, xyxy: np.ndarray, evidence: list[Evidence | None],
                       ) -> tuple[list[FoundNumber], list[tuple[int, ...]]]:
        """Numbers of every chain that reads as one; chains worth reading again (a number whose check digit did
        not validate, or a piece of one), most promising first."""
        found: list[FoundNumber] = []
        retry: list[tuple[float, tuple[int, ...]]] = []
        for chain in reading_chains(xyxy, self.config.max_pieces):
            joined = _join([evidence[i] for i in chain])
            if joined is None:
                continue
            read = read_container_number(joined) if looks_like_number(joined) else None
            if read is not None:
                found.append(_found(read, xyxy, chain))
            if read is not None and not read.check_digit_ok:
                retry.append((2.0 + read.confidence, chain))
            elif read is None and looks_like_piece(joined):
                retry.append((text_size(xyxy[chain[0]]) / 1e4, chain))
        read_well = {i for f in found if f.read.check_digit_ok for i in f.lines}
        retry = sorted((item for item in retry if read_well.isdisjoint(item[1])), key=lambda item: -item[0])
        return found, [chain for _, chain in retry[:self.config.max_retries]]

    def _retry_grown(self, image: np.ndarray, xyxy: np.ndarray, evidence: list[Evidence | None],
                     chains: list[tuple[int, ...]]) -> list[FoundNumber]:
        """The chains read again from grown crops (one batch): a straight chain as one crop around all its
        pieces, grown at both ends (a missed first letter or boxed check digit); a stacked chain with its last
        line grown past its end."""
        h, w = image.shape[:2]
        plans: list[tuple[tuple[int, ...], list[int], np.ndarray]] = []
        for chain in chains:
            if is_straight(xyxy, chain):
                head, tail = self._reach(_join([evidence[i] for i in chain]))
                box = extended(union(xyxy, chain), w, h, head=head, tail=tail, vertical=is_vertical(xyxy[chain[0]]))
                plans.append((chain, [], box))
            else:
                _, tail = self._reach(_join([evidence[i] for i in chain]))
                plans.append((chain, list(chain[:-1]), extended(xyxy[chain[-1]], w, h, tail=tail)))
        grown = self.reader.evidence([_crop(image, box) for _, _, box in plans])
        found = []
        for (chain, kept, _), ev in zip(plans, grown, strict=True):
            joined = _join([evidence[i] for i in kept] + [ev])
            if joined is None or not looks_like_number(joined):
                continue
            read = read_container_number(joined)
            if read is not None and read.check_digit_ok:
                found.append(_found(read, xyxy, chain))
        return found

    def _reach(self, joined: Evidence | None) -> tuple[float, float]:
        """How far to grow a straight chain before and after, in text sizes: past both ends by `reach`, and by
        the characters it lacks on the side they are missing (digits only: the owner code is before it)."""
        text = joined.best_text() if joined is not None else ""
        missing = PITCH * (max(0, 11 - len(text)) + 1)
        if text[:1].isdigit():
            return self.config.reach + missing, self.config.reach
        if sum(ch.isdigit() for ch in text) < 6:
            return self.config.reach, self.config.reach + missing
        return self.config.reach, self.config.reach

    def _with_size_type(self, found: FoundNumber, same: list[FoundNumber], xyxy: np.ndarray,
                        evidence: list[Evidence | None]) -> FoundNumber:
        """The known size-type code read from the line nearest the number, within `size_type_gap` sizes; beside
        any place the same number was read (a top view shows it on the roof and, with the code, on the door)."""
        best: tuple[float, SizeTypeRead] | None = None
        for place in [found, *same]:
            box = np.array(place.box, np.float32)
            size = text_size(xyxy[place.lines[0]])
            for i, ev in enumerate(evidence):
                if i in place.lines or ev is None or len(ev) < 4 or len(ev) > 6:
                    continue
                gap = _box_gap(box, xyxy[i]) / size
                if gap > self.config.size_type_gap or (best is not None and gap >= best[0]):
                    continue
                code = read_size_type(ev)
                if code is not None and code.known:
                    best = (gap, code)
        if best is None:
            return found
        return FoundNumber(found.read, found.box, best[1], found.lines, found.vertical)


def _found(read: ContainerNumberRead, xyxy: np.ndarray, chain: tuple[int, ...]) -> FoundNumber:
    """A number and the box around the detected lines it was read from (not the grown crops)."""
    box = union(xyxy, chain)
    return FoundNumber(read, (float(box[0]), float(box[1]), float(box[2]), float(box[3])), None, chain,
                       is_vertical(xyxy[chain[0]]))


def _choose(candidates: list[FoundNumber]) -> list[FoundNumber]:
    """Validated numbers, most confident first, one per number, none sharing a line with a better one; when
    none validated, the most confident read alone (flagged by its `check_digit_ok`)."""
    ordered = sorted(candidates, key=lambda f: (f.read.check_digit_ok, f.read.confidence), reverse=True)
    if ordered and not ordered[0].read.check_digit_ok:
        return ordered[:1]
    chosen: list[FoundNumber] = []
    used: set[int] = set()
    for cand in ordered:
        if not cand.read.check_digit_ok:
            break
        if any(c.read.number == cand.read.number for c in chosen) or used.intersection(cand.lines):
            continue
        chosen.append(cand)
        used.update(cand.lines)
    return chosen
