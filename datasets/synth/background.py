"""The empty lane as each camera sees it: road with markings, kerbs, poles and bollards, yard and sky behind.

Built once per camera (and per ambient: day or night, dry or wet) through the same camera model that draws the
trucks. Props stand outside the truck's path on the side away from the camera, so they never hide a labelled object.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from datasets.synth.cameras import Camera, apply_homography, clip_polygon_depth
from datasets.synth.textures import fractal, jitter_color, noise, tint

LANE_HALF_M = 1.9
PROP_Y_M = 4.3


def render_background(camera: Camera, seed: int, *, night: bool = False, wet: bool = False) -> np.ndarray:
    """A BGR uint8 frame of the empty lane."""
    frame = _sky(camera, np.random.default_rng(seed))
    for plane in _backdrops(seed):
        _draw_plane(frame, camera, *plane)
    _draw_plane(frame, camera, *_ground_texture(seed, wet))
    _props(frame, camera)
    if night:
        dark = frame.astype(np.float32) * np.asarray((0.26, 0.22, 0.2), np.float32)
        frame = np.clip(dark + 4, 0, 255).astype(np.uint8)
        _floodlights(frame, camera)
    return frame


def _sky(camera: Camera, rng: np.random.Generator) -> np.ndarray:
    h, w = camera.height, camera.width
    top = np.asarray(jitter_color(rng, (215, 190, 160), 20), np.float32)
    low = np.asarray((235, 232, 228), np.float32)
    t = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    sky = top * (1 - t) + low * t
    sky = sky + (noise(rng, h, w, 7)[..., None] - 0.5) * 25
    return np.broadcast_to(np.clip(sky, 0, 255), (h, w, 3)).astype(np.uint8).copy()


def _draw_plane(frame: np.ndarray, camera: Camera, texture: np.ndarray, origin: np.ndarray, e_u: np.ndarray,
                e_v: np.ndarray) -> None:
    """Warp a textured world rectangle into the frame, keeping only the part in front of the camera."""
    h_tex, w_tex = texture.shape[:2]
    depth = camera.depth_along(origin, e_u, e_v)
    corners = np.array([[0, 0], [w_tex, 0], [w_tex, h_tex], [0, h_tex]], np.float64)
    poly = clip_polygon_depth(corners, depth, near=0.5)
    if len(poly) < 3:
        return
    hom = camera.plane_homography(origin, e_u, e_v)
    pts = apply_homography(hom, poly)
    mask = np.zeros((camera.height, camera.width), np.uint8)
    cv2.fillPoly(mask, [np.round(pts - 0.5).astype(np.int32)], 255)
    shift = np.array([[1, 0, -0.5], [0, 1, -0.5], [0, 0, 1]]) @ hom @ np.array([[1, 0, 0.5], [0, 1, 0.5], [0, 0, 1]])
    warped = cv2.warpPerspective(texture, shift, (camera.width, camera.height), flags=cv2.INTER_LINEAR,
                                 borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0, 0))
    alpha = (warped[..., 3].astype(np.float32) * mask.astype(np.float32) / (255.0 * 255.0))[..., None]
    frame[:] = (frame * (1 - alpha) + warped[..., :3] * alpha).astype(np.uint8)


@lru_cache(maxsize=4)
def _ground_texture(seed: int, wet: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Asphalt with lane lines, stop line and kerbs: x from -70 to 40 m, y from -14 to 14 m, 25 px/m."""
    rng = np.random.default_rng([seed, 1])
    ppm = 25.0
    x_min, x_max, y_half = -70.0, 40.0, 14.0
    w, h = int((x_max - x_min) * ppm), int(2 * y_half * ppm)
    base = tint((h, w), jitter_color(rng, (92, 94, 96), 8))
    grain = fractal(rng, h, w)
    asphalt = base * (0.82 + 0.3 * grain[..., None])
    asphalt += (rng.random((h, w), dtype=np.float32)[..., None] - 0.5) * 18
    image = np.clip(asphalt, 0, 255).astype(np.uint8)

    def to_px(x: float, y: float) -> tuple[int, int]:
        return int((x - x_min) * ppm), int((y_half - y) * ppm)

    paint = (215, 218, 220)
    for y in (-LANE_HALF_M, LANE_HALF_M):
        cv2.line(image, to_px(x_min, y), to_px(x_max, y), paint, int(0.15 * ppm))
    for y in (-LANE_HALF_M - 3.6, LANE_HALF_M + 3.6):
        for x in np.arange(x_min, x_max, 6.0):
            cv2.line(image, to_px(x, y), to_px(x + 3, y), paint, int(0.12 * ppm))
    cv2.rectangle(image, to_px(0.6, LANE_HALF_M), to_px(1.0, -LANE_HALF_M), paint, -1)
    for y0, y1 in ((3.6, 5.0), (-5.0, -3.6)):
        cv2.rectangle(image, to_px(-35, y0), to_px(12, y1), (150, 152, 150), -1)
        for x in np.arange(-35, 12, 1.0):
            cv2.rectangle(image, to_px(x, y0), to_px(x + 0.5, y0 + 0.25), (20, 20, 20), -1)
            cv2.rectangle(image, to_px(x + 0.5, y0), to_px(x + 1.0, y0 + 0.25), (30, 200, 235), -1)
    stains = np.clip((noise(rng, h, w, 6) - 0.6) * 2.0, 0, 0.5)
    image = (image * (1 - stains[..., None] * 0.5)).astype(np.uint8)
    if wet:
        image = np.asarray(cv2.convertScaleAbs(image, alpha=0.7, beta=0), np.uint8)
    texture = np.dstack([image, np.full((h, w), 255, np.uint8)])
    step = 1.0 / ppm
    return (texture, np.array([x_min, y_half, 0.0]), np.array([step, 0.0, 0.0]), np.array([0.0, -step, 0.0]))


@lru_cache(maxsize=2)
def _backdrops(seed: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Container stacks and sheds on vertical planes around the lane, far enough to hide nothing."""
    rng = np.random.default_rng([seed, 2])
    planes = []
    for origin, e_u, length in (
        ((-90.0, 30.0, 14.0), (1.0, 0.0, 0.0), 150.0),   # left side, seen from the right
        ((60.0, -30.0, 14.0), (-1.0, 0.0, 0.0), 150.0),  # right side
        ((45.0, 30.0, 14.0), (0.0, -1.0, 0.0), 60.0),    # ahead
        ((-90.0, -30.0, 14.0), (0.0, 1.0, 0.0), 60.0),   # behind
    ):
        ppm = 8.0
        texture = _yard_texture(rng, int(length * ppm), int(14 * ppm), ppm)
        step = 1.0 / ppm
        planes.append((texture, np.asarray(origin), np.asarray(e_u) * step, np.array([0.0, 0.0, -step])))
    return planes


_BOX_COLORS = ((40, 40, 160), (150, 90, 30), (40, 110, 40), (60, 60, 60), (200, 200, 200), (30, 100, 190),
               (120, 50, 120), (20, 60, 120))


def _yard_texture(rng: np.random.Generator, w: int, h: int, ppm: float) -> np.ndarray:
    """Stacks of containers and a few sheds against the sky (transparent above)."""
    texture = np.zeros((h, w, 4), np.uint8)
    x = 0
    while x < w:
        kind = rng.random()
        if kind < 0.65:
            width = int(6.1 * ppm if rng.random() < 0.5 else 12.2 * ppm)
            for level in range(int(rng.integers(1, 5))):
                y1 = h - int(level * 2.6 * ppm)
                y0 = y1 - int(2.6 * ppm)
                color = jitter_color(rng, _BOX_COLORS[int(rng.integers(len(_BOX_COLORS)))], 20)
                cv2.rectangle(texture, (x, y0), (x + width - 2, y1 - 1), (*color, 255), -1)
                for rib in range(x + 2, x + width - 2, 3):
                    cv2.line(texture, (rib, y0), (rib, y1 - 1), (*(int(c * 0.8) for c in color), 255), 1)
            x += width + int(rng.integers(0, 3))
        elif kind < 0.85:
            width = int(rng.uniform(15, 30) * ppm)
            y0 = h - int(rng.uniform(6, 12) * ppm)
            cv2.rectangle(texture, (x, y0), (x + width, h - 1), (*jitter_color(rng, (170, 170, 165), 20), 255), -1)
            for wx in range(x + 6, x + width - 6, 12):
                cv2.rectangle(texture, (wx, y0 + 8), (wx + 5, y0 + 12), (90, 80, 70, 255), -1)
            x += width
        else:
            x += int(rng.uniform(3, 12) * ppm)
    return texture


def _props(frame: np.ndarray, camera: Camera) -> None:
    """Poles and striped bollards beside the lane, on the side of the lane away from the camera."""
    for side in (-1.0, 1.0):
        y = side * PROP_Y_M
        if camera.C[1] * side > PROP_Y_M - 0.2:
            continue  # this side lies between the camera and the truck
        items = [(x, "pole") for x in (-26.0, -9.0, 2.0, 14.0)] + [(x, "bollard") for x in (-20.0, -4.0, 6.0)]
        items.sort(key=lambda item: -float(np.hypot(item[0] - camera.C[0], y - camera.C[1])))
        for x, kind in items:
            if kind == "pole":
                _cylinder(frame, camera, x, y, 0.0, 6.5, 0.14, [(0.0, 6.5, (235, 235, 235))])
            else:
                bands = [(z, z + 0.2, (20, 20, 20) if k % 2 else (30, 195, 235)) for k, z in
                         enumerate(np.arange(0.0, 0.8, 0.2))]
                _cylinder(frame, camera, x, y, 0.0, 0.8, 0.3, bands)


def _cylinder(frame: np.ndarray, camera: Camera, x: float, y: float, z0: float, z1: float, radius: float,
              bands: list[tuple[float, float, tuple[int, int, int]]]) -> None:
    """An upright cylinder as a camera-facing quad per colour band."""
    to_cam = camera.C[:2] - np.array([x, y])
    side = np.array([-to_cam[1], to_cam[0]]) / max(float(np.linalg.norm(to_cam)), 1e-6) * radius
    for b0, b1, color in bands:
        pts3 = np.array([[x - side[0], y - side[1], b0], [x + side[0], y + side[1], b0],
                         [x + side[0], y + side[1], b1], [x - side[0], y - side[1], b1]])
        pix, depth = camera.project(pts3)
        if np.any(depth < 0.5):
            continue
        cv2.fillConvexPoly(frame, np.round(pix - 0.5).astype(np.int32), color, cv2.LINE_AA)


def _floodlights(frame: np.ndarray, camera: Camera) -> None:
    """Pools of light on the road under the portal lamps."""
    centres = np.array([[-9.0, 0.0, 0.0], [1.0, 0.0, 0.0], [-18.0, 0.0, 0.0]])
    pix, depth = camera.project(centres)
    h, w = frame.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    light = np.zeros((h, w), np.float32)
    for (px, py), d in zip(pix, depth, strict=True):
        if d <= 0.5:
            continue
        radius = camera.K[0, 0] * 2.5 / d
        light += np.exp(-((xs - px) ** 2 + (ys - py) ** 2) / (2 * radius * radius)) * 38
    frame[:] = np.clip(frame + light[..., None] * np.asarray((0.7, 0.85, 1.0), np.float32), 0, 255).astype(np.uint8)

