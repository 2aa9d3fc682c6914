"""Seal state per container door of one frame: the detector's door handles and seal boxes, grouped by container.

Handles are grouped by the detected container they lie in (a rear door pair per container); a handle in no
container is a door of its own. A container's door end has `DOOR_HANDLES` locking handles and a bolt seal goes
through exactly one of them, so the door's likelihood ratio (sealed : unsealed) is the **mean of its handles'
ratios**, where a handle the detector missed counts 1 (no evidence either way). Missing the one sealed handle
therefore weakens the `absent` evidence instead of turning the door `absent`, and one unsure handle no longer makes
the whole door `unknown`. The classifier was trained with balanced classes, so its P/(1-P) is that ratio.

A detected `seal` box near a handle multiplies that handle's ratio by the box score's odds over the odds of
`SEAL_BOX_NEUTRAL` (weak boxes near the detector's threshold, where its false seals sit, add nothing). A seal box
near no handle is a door of its own, with its other handles unseen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vision.detections import Detections, box_ioa, class_index
from vision.seals.classifier import SealClassifier, SealState, state_of
from vision.seals.features import crop_handle

#: Share of a seal box that must lie in a handle's grown region for the seal to belong to that handle.
SEAL_NEAR = 0.5
#: Locking handles on one container door end (four bars); the seal is on one of them.
DOOR_HANDLES = 4
#: A detected seal box with this score (or less) is no evidence; above it, evidence grows with the score's odds.
SEAL_BOX_NEUTRAL = 0.2
#: Bound on one handle's likelihood ratio (P 0.98): no single crop is certain.
MAX_RATIO = 50.0

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class DoorRead:
    """One container door seen in one frame: its state and P(sealed)."""

    state: SealState
    box: Box
    p_sealed: float


def read_doors(frame: np.ndarray, dets: Detections, classifier: SealClassifier,
               seal_near: float = SEAL_NEAR) -> list[DoorRead]:
    """The doors of one BGR frame: one batched classifier call over all its handle crops."""
    handles = dets[dets.class_id == class_index("door_handle")]
    seals = dets[dets.class_id == class_index("seal")]
    p = classifier.probabilities([crop_handle(frame, box) for box in handles.xyxy]) if len(handles) else np.zeros(0)
    ratios = np.array([_ratio(float(v)) for v in p], np.float64)
    regions = np.array([grown(box) for box in handles.xyxy], np.float32).reshape(-1, 4)
    near = (box_ioa(seals.xyxy, regions) >= seal_near) if len(seals) else np.zeros((0, len(handles)), bool)
    for s, j in zip(*near.nonzero(), strict=True):
        ratios[j] = min(MAX_RATIO, ratios[j] * seal_box_ratio(float(seals.confidence[s])))
    out = [_door(ratios[group], union(handles.xyxy[group]), classifier) for group in door_groups(handles, dets)]
    for s in np.flatnonzero(~near.any(axis=1)):
        out.append(_door(np.array([seal_box_ratio(float(seals.confidence[s]))]), _box(seals.xyxy[s]), classifier))
    return out


def door_p_sealed(ratios: Sequence[float] | np.ndarray, slots: int = DOOR_HANDLES) -> float:
    """P(door sealed) from its seen handles' likelihood ratios: their mean over the door's handle slots, the
    unseen slots counting 1 (more handles than slots: a duplicate box, averaged over what was seen)."""
    values = np.asarray(ratios, np.float64)
    ratio = (values.sum() + max(0, slots - len(values))) / max(slots, len(values), 1)
    return float(ratio / (1.0 + ratio))


def seal_box_ratio(score: float) -> float:
    """The likelihood ratio a detected seal box of this score adds (1 at or below `SEAL_BOX_NEUTRAL`)."""
    score = min(max(score, 0.0), 0.999)
    return float(min(MAX_RATIO, max(1.0, _odds(score) / _odds(SEAL_BOX_NEUTRAL))))


def _door(ratios: np.ndarray, box: Box, classifier: SealClassifier) -> DoorRead:
    p = door_p_sealed(ratios)
    return DoorRead(state_of(p, classifier.low, classifier.high), box, p)


def _ratio(p: float) -> float:
    """A handle's likelihood ratio from the classifier's P(sealed); 1 for a crop it could not classify."""
    if not np.isfinite(p):
        return 1.0
    return float(min(MAX_RATIO, max(1.0 / MAX_RATIO, _odds(p))))


def _odds(p: float) -> float:
    return p / max(1.0 - p, 1e-6)


def door_groups(handles: Detections, dets: Detections) -> list[list[int]]:
    """Handle rows grouped by the detected container they lie in; a handle in no container is alone."""
    containers = dets[dets.class_id == class_index("container")]
    if not len(handles):
        return []
    if not len(containers):
        return [[j] for j in range(len(handles))]
    inside = box_ioa(handles.xyxy, containers.xyxy)
    owner = np.where(inside.max(axis=1) >= 0.5, inside.argmax(axis=1), -1 - np.arange(len(handles)))
    groups: dict[int, list[int]] = {}
    for j, key in enumerate(owner.tolist()):
        groups.setdefault(key, []).append(j)
    return list(groups.values())


def grown(box: np.ndarray) -> Box:
    """A handle box grown the way the seal crop grows it: the seal hangs below the catch."""
    x0, y0, x1, y1 = (float(v) for v in box)
    w, h = x1 - x0, y1 - y0
    size = max(w, h)
    return (x0 - 0.5 * w, y0 - 0.5 * h, x1 + 0.5 * w, y1 + 1.5 * size)


def union(boxes: np.ndarray) -> Box:
    return _box(np.concatenate([boxes[:, :2].min(axis=0), boxes[:, 2:].max(axis=0)]))


def _box(box: np.ndarray) -> Box:
    x0, y0, x1, y1 = (float(v) for v in box)
    return (x0, y0, x1, y1)
