"""Drawing the yard through a true camera: a ground texture warped once per camera, then shaded cuboids per frame.

The ground (asphalt, concrete pads, lane markings, slot outlines) is painted once as a top-down texture in site
metres; each camera's background is that texture seen through the camera (a remap built from each pixel's ray, so
lens distortion is exact). Objects are cuboids projected with `cv2.projectPoints` and filled far-to-near
(painter's order), each visible face shaded by a sun from high up, so top faces are the brightest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import shapely

from datasets.synth.textures import noise
from datasets.yard_synth.cameras import YardCamera
from datasets.yard_synth.geometry import axis_of
from datasets.yard_synth.scene import YardObject, cuboid_corners
from yard.layout import YardLayout

TEXTURE_PX_PER_M = 8.0
SKY = np.array([205, 190, 170], np.float32)
_ZONE_SHADE = {"truck_queue": 92, "transfer_bay": 150, "buffer_stack": 140, "igv_lane": 78, "igv_parking": 110,
               "igv_charging": 110, "border_corridor": 100, "holding": 120}
#: Faces of a cuboid from `cuboid_corners`: top, then the four sides; and each face's outward normal index.
_FACES = np.array([[4, 5, 6, 7], [0, 1, 5, 4], [1, 2, 6, 5], [2, 3, 7, 6], [3, 0, 4, 7]])


@dataclass(frozen=True)
class Lighting:
    """Sun direction (unit, pointing to the sun) and the ambient share; drawn once per recording."""

    sun: np.ndarray
    ambient: float

    @classmethod
    def draw(cls, rng: np.random.Generator) -> Lighting:
        elevation = np.radians(rng.uniform(55.0, 75.0))
        azimuth = rng.uniform(0, 2 * np.pi)
        sun = np.array([np.cos(elevation) * np.cos(azimuth), np.cos(elevation) * np.sin(azimuth), np.sin(elevation)])
        return cls(sun, float(rng.uniform(0.35, 0.45)))


def ground_texture(layout: YardLayout, seed: int) -> tuple[np.ndarray, float]:
    """The yard seen from straight above: BGR image, row 0 at y = 0, `TEXTURE_PX_PER_M` pixels per metre."""
    scale = TEXTURE_PX_PER_M
    width, height = (int(np.ceil(v * scale)) for v in layout.size_m)
    rng = np.random.default_rng([seed, 31])
    base = 96.0 + 28.0 * (noise(rng, height, width, 6) - 0.5) + 10.0 * (noise(rng, height, width, 2) - 0.5)
    shade = np.full((height, width), 0.0, np.float32)
    for zone in layout.zones:
        cv2.fillPoly(shade, [_texture_px(zone.polygon, scale)], float(_ZONE_SHADE.get(zone.kind, 100)) - 96.0)
    grey = np.clip(base + shade, 0, 255).astype(np.uint8)
    image = cv2.merge([grey, grey, np.clip(grey.astype(np.int16) + 3, 0, 255).astype(np.uint8)])
    for zone in layout.zones:
        _mark_zone(image, zone.kind, zone.polygon, zone.direction, scale)
    for slot in layout.slots:
        cv2.polylines(image, [_texture_px(slot.polygon, scale)], True, (225, 225, 225), 1, cv2.LINE_AA)
    return image, scale


def _texture_px(polygon: shapely.Polygon, scale: float) -> np.ndarray:
    return np.round(np.asarray(polygon.exterior.coords)[:-1] * scale).astype(np.int32)


def _mark_zone(image: np.ndarray, kind: str, polygon: shapely.Polygon, direction: tuple[float, float] | None,
               scale: float) -> None:
    """Lane edges (white for trucks, yellow for IGVs), direction arrows, and outlines of the other pads."""
    if kind in ("truck_queue", "igv_lane"):
        color = (230, 230, 230) if kind == "truck_queue" else (40, 200, 230)
        cv2.polylines(image, [_texture_px(polygon, scale)], True, color, max(1, int(0.15 * scale)), cv2.LINE_AA)
        axis = axis_of(polygon, direction)
        for s in np.arange(axis.s_min + 10.0, axis.s_max - 5.0, 25.0):
            tail = np.asarray(axis.point(float(s))) * scale
            tip = np.asarray(axis.point(float(s) + 4.0)) * scale
            cv2.arrowedLine(image, tuple(int(v) for v in tail), tuple(int(v) for v in tip), color,
                            max(1, int(0.25 * scale)), cv2.LINE_AA, tipLength=0.4)
    else:
        cv2.polylines(image, [_texture_px(polygon, scale)], True, (200, 200, 190), max(1, int(0.1 * scale)),
                      cv2.LINE_AA)


def background(camera: YardCamera, texture: np.ndarray, scale: float) -> np.ndarray:
    """The empty yard through the camera: every pixel's ray meets the ground (or the sky, above the horizon)."""
    width, height = camera.size
    step = 4
    us, vs = np.meshgrid(np.arange(0, width + step, step, dtype=np.float64),
                         np.arange(0, height + step, step, dtype=np.float64))
    rays = camera.pixel_rays(np.column_stack([us.ravel(), vs.ravel()]))
    down = rays[:, 2] < -1e-6
    t = np.where(down, -camera.C[2] / np.where(down, rays[:, 2], -1.0), np.nan)
    ground = camera.C[:2] + rays[:, :2] * t[:, None]
    coarse_x = np.where(down, ground[:, 0] * scale, -1).reshape(us.shape).astype(np.float32)
    coarse_y = np.where(down, ground[:, 1] * scale, -1).reshape(us.shape).astype(np.float32)
    map_x = cv2.resize(coarse_x, (width + step, height + step), interpolation=cv2.INTER_LINEAR)[:height, :width]
    map_y = cv2.resize(coarse_y, (width + step, height + step), interpolation=cv2.INTER_LINEAR)[:height, :width]
    image = cv2.remap(texture, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    sky = cv2.resize((~down).reshape(us.shape).astype(np.uint8), (width + step, height + step),
                     interpolation=cv2.INTER_NEAREST)[:height, :width].astype(bool)
    image[sky] = SKY.astype(np.uint8)
    return image


def draw_objects(frame: np.ndarray, camera: YardCamera, objects: Sequence[YardObject], lighting: Lighting) -> None:
    """Fill every object's visible cuboid faces into `frame`, far to near, shaded by the sun."""
    if not objects:
        return
    corners = np.concatenate([cuboid_corners(obj) for obj in objects])            # (P, 8, 3)
    colors = np.array([part.color for obj in objects for part in obj.parts], np.float32)
    pixels, depth = camera.project(corners.reshape(-1, 3))
    pixels = pixels.reshape(-1, 8, 2)
    depth = depth.reshape(-1, 8)
    centres = corners.mean(axis=1)
    face_centres = corners[:, _FACES].mean(axis=2)                                  # (P, 5, 3)
    normals = face_centres - centres[:, None, :]
    normals[:, 0] = (0.0, 0.0, 1.0)
    normals[:, 1:, 2] = 0.0
    normals /= np.linalg.norm(normals, axis=2, keepdims=True)
    visible = np.einsum("pfk,pfk->pf", normals, camera.C - face_centres) > 0
    shade = lighting.ambient + (1 - lighting.ambient) * np.clip(normals @ lighting.sun, 0, None)   # (P, 5)
    order = np.argsort(-np.linalg.norm(centres - camera.C, axis=1), kind="stable")
    width, height = camera.size
    drawable = np.isfinite(pixels).all(axis=(1, 2)) & (depth.min(axis=1) >= 1.0)
    fixed = np.round(np.nan_to_num(pixels, posinf=0.0, neginf=0.0).clip(-1e5, 1e5) * 16).astype(np.int64)
    for p in order:
        if not drawable[p] or not _on_screen(pixels[p], width, height):
            continue
        for f in np.flatnonzero(visible[p]):
            polygon = fixed[p, _FACES[f]].astype(np.int32)
            color = tuple(float(c) for c in np.clip(colors[p] * shade[p, f], 0, 255))
            cv2.fillConvexPoly(frame, polygon, color, cv2.LINE_8, 4)
            edge = tuple(float(c) * 0.55 for c in color)
            cv2.polylines(frame, [polygon], True, edge, 1, cv2.LINE_8, 4)


def _on_screen(pixels: np.ndarray, width: int, height: int) -> bool:
    return bool(pixels[:, 0].max() >= 0 and pixels[:, 0].min() < width and pixels[:, 1].max() >= 0
                and pixels[:, 1].min() < height)


class FrameNoise:
    """Sensor noise cut from a precomputed field and a slow global light change (clouds), both seeded."""

    def __init__(self, size: tuple[int, int], seed: int) -> None:
        width, height = size
        rng = np.random.default_rng([seed, 41])
        self._field = rng.normal(0, 2.5, (height + 64, width + 64, 3)).astype(np.float32)
        self._phase = rng.uniform(0, 2 * np.pi, 2)

    def apply(self, frame: np.ndarray, t: float, rng: np.random.Generator) -> np.ndarray:
        height, width = frame.shape[:2]
        gain = 1.0 + 0.05 * np.sin(2 * np.pi * t / 41.0 + self._phase[0]) + 0.02 * np.sin(2 * np.pi * t / 9.0
                                                                                            + self._phase[1])
        y, x = (int(v) for v in rng.integers(0, 64, 2))
        out = frame.astype(np.float32) * gain + self._field[y:y + height, x:x + width]
        return np.asarray(np.clip(out, 0, 255), dtype=np.uint8)
