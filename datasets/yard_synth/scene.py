"""What stands in the synthetic yard at one instant: objects as stacks of oriented cuboids on the site frame.

Site frame as in the yard layout: metres, x along the freight road towards China, y across it, z up. An object's
`xy` is the centre of its ground footprint, `heading` the direction of its length (radians from +x).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

ObjectKind = Literal["truck", "container", "igv"]
Color = tuple[int, int, int]  # BGR

CONTAINER_HEIGHT_M = 2.59
CONTAINER_WIDTH_M = 2.44
CONTAINER_LENGTH_M = {20: 6.06, 40: 12.19}
TRAILER_DECK_M = 1.45
TRACTOR_LENGTH_M = 6.0
TRAILER_LENGTH_M = 12.6
TRUCK_WIDTH_M = 2.5
TRUCK_LENGTH_M = TRACTOR_LENGTH_M + TRAILER_LENGTH_M
IGV_LENGTH_M, IGV_WIDTH_M, IGV_HEIGHT_M = 14.8, 3.0, 1.5

#: Container paint (BGR): the usual liveries, several strongly coloured, one dark grey and one white.
CONTAINER_COLORS: tuple[Color, ...] = (
    (150, 95, 30), (40, 45, 170), (50, 120, 40), (30, 110, 210), (88, 92, 96), (225, 225, 220),
    (40, 70, 120), (30, 170, 200), (110, 60, 120), (120, 120, 40),
)
TRACTOR_COLORS: tuple[Color, ...] = ((200, 200, 200), (40, 40, 170), (170, 110, 40), (60, 150, 230), (60, 60, 60))
TRAILER_COLOR: Color = (55, 55, 60)
IGV_COLOR: Color = (40, 190, 230)


@dataclass(frozen=True)
class Cuboid:
    """One box of an object: offset along/across the object's heading, size, bottom and top elevation, paint."""

    along_m: float
    across_m: float
    length_m: float
    width_m: float
    z0_m: float
    z1_m: float
    color: Color


@dataclass(frozen=True)
class YardObject:
    """A truck, a container or an IGV as it stands at one instant."""

    id: str
    kind: ObjectKind
    xy: tuple[float, float]
    heading: float
    length_m: float
    width_m: float
    base_m: float          # elevation of its bottom: 0, or the top of the container below it in a stack
    height_m: float        # its own height (a stacked container is 2.59 m high, standing on `base_m`)
    container: str | None  # the container it is or carries
    parts: tuple[Cuboid, ...]

    @property
    def top_m(self) -> float:
        return self.base_m + self.height_m


def container_object(object_id: str, number: str, xy: tuple[float, float], heading: float, length_ft: int,
                     tier: int, color: Color) -> YardObject:
    """A container standing in a stack, `tier` counted from 1 at the ground."""
    length = CONTAINER_LENGTH_M[length_ft]
    base = (tier - 1) * CONTAINER_HEIGHT_M
    box = Cuboid(0.0, 0.0, length, CONTAINER_WIDTH_M, base, base + CONTAINER_HEIGHT_M, color)
    return YardObject(object_id, "container", xy, heading, length, CONTAINER_WIDTH_M, base, CONTAINER_HEIGHT_M,
                      number, (box,))


def truck_object(object_id: str, xy: tuple[float, float], heading: float, cab_color: Color,
                 container: str | None, container_color: Color) -> YardObject:
    """A tractor with a flatbed trailer, optionally carrying one 40 ft container; `xy` is the whole truck's centre."""
    cab_along = TRUCK_LENGTH_M / 2 - TRACTOR_LENGTH_M / 2
    trailer_along = -TRUCK_LENGTH_M / 2 + TRAILER_LENGTH_M / 2
    parts = [
        Cuboid(cab_along + 1.2, 0.0, 2.4, TRUCK_WIDTH_M, 1.0, 3.7, cab_color),
        Cuboid(cab_along - 1.2, 0.0, 3.6, TRUCK_WIDTH_M - 0.3, 0.5, 1.3, TRAILER_COLOR),
        Cuboid(trailer_along, 0.0, TRAILER_LENGTH_M, TRUCK_WIDTH_M, 0.9, TRAILER_DECK_M, TRAILER_COLOR),
    ]
    top = 3.7
    if container is not None:
        length = CONTAINER_LENGTH_M[40]
        parts.append(Cuboid(trailer_along, 0.0, length, CONTAINER_WIDTH_M, TRAILER_DECK_M,
                            TRAILER_DECK_M + CONTAINER_HEIGHT_M, container_color))
        top = TRAILER_DECK_M + CONTAINER_HEIGHT_M
    return YardObject(object_id, "truck", xy, heading, TRUCK_LENGTH_M, TRUCK_WIDTH_M, 0.0, top, container,
                      tuple(parts))


def igv_object(object_id: str, xy: tuple[float, float], heading: float, container: str | None,
               container_color: Color) -> YardObject:
    """An IGV: a low flat platform, optionally carrying one 40 ft container."""
    parts = [Cuboid(0.0, 0.0, IGV_LENGTH_M, IGV_WIDTH_M, 0.25, IGV_HEIGHT_M, IGV_COLOR)]
    top = IGV_HEIGHT_M
    if container is not None:
        parts.append(Cuboid(0.0, 0.0, CONTAINER_LENGTH_M[40], CONTAINER_WIDTH_M, IGV_HEIGHT_M,
                            IGV_HEIGHT_M + CONTAINER_HEIGHT_M, container_color))
        top = IGV_HEIGHT_M + CONTAINER_HEIGHT_M
    return YardObject(object_id, "igv", xy, heading, IGV_LENGTH_M, IGV_WIDTH_M, 0.0, top, container, tuple(parts))


def cuboid_corners(obj: YardObject) -> np.ndarray:
    """(P, 8, 3) world corners of every part: bottom face 0-3 then top face 4-7, counter-clockwise from above."""
    c, s = np.cos(obj.heading), np.sin(obj.heading)
    along = np.array([c, s])
    across = np.array([-s, c])
    signs = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], dtype=np.float64)
    out = np.empty((len(obj.parts), 8, 3))
    for i, part in enumerate(obj.parts):
        centre = np.asarray(obj.xy) + part.along_m * along + part.across_m * across
        ground = (centre + (signs[:, :1] * part.length_m / 2) * along + (signs[:, 1:] * part.width_m / 2) * across)
        out[i, :4, :2] = ground
        out[i, 4:, :2] = ground
        out[i, :4, 2] = part.z0_m
        out[i, 4:, 2] = part.z1_m
    return out
