"""What the readers hand to fusion: one camera frame's tracked vehicles and reads (text already decoded)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from vision.detections import Detections
from vision.tracking import EndedTrack

Box = tuple[float, float, float, float]
PlateFormat = Literal["vn", "cn", "unknown"]
PlateRole = Literal["tractor", "trailer", "unknown"]
Position = Literal["single", "front", "rear", "unknown"]
SealState = Literal["present", "absent", "unknown"]


@dataclass(frozen=True, slots=True)
class PlateObservation:
    text: str
    confidence: float
    box: Box
    format: PlateFormat = "unknown"
    role: PlateRole = "unknown"


@dataclass(frozen=True, slots=True)
class ContainerObservation:
    """A container-number read. `position` is a hint from geometry (which container of two), if the reader knows.

    `check_digit_read` is the reader's own word on whether the check digit was read (and validated) rather than
    computed or forced by the grammar; ``None`` when the reader does not say. `partial`: `number` is what was
    read of a number that fits no ISO 6346 template (part of it hidden), kept for `number_assembly`.
    """

    number: str
    confidence: float
    box: Box
    size_type: str | None = None
    position: Position = "unknown"
    check_digit_read: bool | None = None
    partial: bool = False


@dataclass(frozen=True, slots=True)
class SealObservation:
    """A seal (or its absence) on a container door; `container_number` or `position` link it to a container."""

    state: SealState
    confidence: float
    box: Box
    number: str | None = None
    container_number: str | None = None
    position: Position = "unknown"


Observation = PlateObservation | ContainerObservation | SealObservation


@dataclass(frozen=True, slots=True)
class Sighting:
    """Where and when a read was made: the evidence behind it."""

    camera: str
    frame: int
    t_s: float
    ts_utc: float
    box: Box


@dataclass(frozen=True)
class CameraFrame:
    """One camera's frame as fusion sees it.

    `t_s` is the lane's media clock in seconds (shared by the lane's cameras), `ts_utc` the frame's UTC stamp.
    `vehicles` is the tracker's output for this camera (rows with ``tracker_id >= 0`` count); `ended` the
    tracker's `pop_ended()`. `image` is needed only to save evidence crops.
    """

    camera: str
    frame: int
    t_s: float
    ts_utc: float
    vehicles: Detections = field(default_factory=Detections.empty)
    ended: Sequence[EndedTrack] = ()
    plates: Sequence[PlateObservation] = ()
    containers: Sequence[ContainerObservation] = ()
    seals: Sequence[SealObservation] = ()
    image: npt.NDArray[np.uint8] | None = None

    def reads(self) -> list[Observation]:
        return [*self.plates, *self.containers, *self.seals]
