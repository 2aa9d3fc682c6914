"""What one passage looks like: the truck, its plates and containers, and the conditions it is seen under.

Specs are plain frozen values drawn by the scenario; sprites are drawn from them, so the same spec always gives
the same pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from datasets.synth.plates import PlateSpec
from datasets.synth.textures import Color

TruckKind = Literal["container_40", "container_2x20", "container_20", "empty_chassis", "rigid_box"]
ContainerPosition = Literal["single", "front", "rear"]

CONTAINER_WIDTH_M = 2.438
CONTAINER_LENGTH_M = {20: 6.058, 40: 12.192, 45: 13.716}
TRUCK_WIDTH_M = 2.5


@dataclass(frozen=True)
class ContainerSpec:
    number: str
    size_type: str
    length_ft: Literal[20, 40, 45]
    position: ContainerPosition
    vertical: bool
    seal_present: bool
    seal_number: str | None
    color: Color
    marking_color: Color
    font: str
    brand: str | None
    wear: float
    roof_marking: bool
    seal_color: Color

    @property
    def height_m(self) -> float:
        return 2.896 if self.size_type[1] == "5" else 2.591

    @property
    def length_m(self) -> float:
        return CONTAINER_LENGTH_M[self.length_ft]


@dataclass(frozen=True)
class TruckSpec:
    kind: TruckKind
    tractor_plate: PlateSpec
    trailer_plate: PlateSpec | None
    containers: tuple[ContainerSpec, ...]
    cab_color: Color
    cab_height_m: float
    chassis_color: Color
    box_color: Color
    company: str
    conditions: tuple[str, ...]
    seed: int
    lateral_m: float = 0.0
    yaw_rad: float = 0.0

    @property
    def length_m(self) -> float:
        """Bumper to rear end."""
        if self.kind == "rigid_box":
            return 9.4
        if self.kind == "container_20":
            return 3.5 + CONTAINER_LENGTH_M[20] + 0.45
        if self.kind == "empty_chassis":
            return 16.0
        cargo = sum(c.length_m for c in self.containers) + 0.08 * (len(self.containers) - 1)
        return 3.5 + cargo + 0.25

    @property
    def deck_m(self) -> float:
        """Height of the container floor above the road."""
        return 1.12 if self.kind == "rigid_box" else 1.3

    @property
    def height_m(self) -> float:
        cargo = max((c.height_m for c in self.containers), default=0.0)
        if self.kind == "rigid_box":
            cargo = 2.5
        return round(max(self.cab_height_m, self.deck_m + cargo) + 0.02, 3)
