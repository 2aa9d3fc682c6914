"""One camera frame: the truck's visible faces warped onto the lane, and the truth boxes of what they show.

Faces of the truck's bounding box are culled by their normal (a convex box shows no face twice), clipped at the
camera's near plane, warped from the right resolution level of their sprite with one `cv2.warpPerspective` into
the region they cover, and blended with premultiplied alpha. Truth boxes are the same sprite-space corners sent
through the same homography, then clipped to the frame.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np

from datasets.recording import ObjectTruth
from datasets.synth.cameras import Camera, apply_homography, clip_polygon_depth
from datasets.synth.sprites import Element, Sprite, rect_quad

MIN_SIDE_PX = 4.0
LARGE_CLASSES = ("vehicle", "container")
GRAZING_COS = 0.06
_TO_CV = np.array([[1, 0, -0.5], [0, 1, -0.5], [0, 0, 1]], dtype=np.float64)
_FROM_CV = np.array([[1, 0, 0.5], [0, 1, 0.5], [0, 0, 1]], dtype=np.float64)


@dataclass(frozen=True)
class Pose:
    """Where the truck is: its front bumper's x, its lateral offset and heading (radians) in the lane."""

    x_front: float
    lateral: float = 0.0
    yaw: float = 0.0

    def rotation(self) -> np.ndarray:
        c, s = np.cos(self.yaw), np.sin(self.yaw)
        return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])

    def to_world(self, points: np.ndarray) -> np.ndarray:
        return np.asarray(points @ self.rotation().T + np.array([self.x_front, self.lateral, 0.0]))


@dataclass
class ViewResult:
    objects: list[ObjectTruth] = field(default_factory=list)
    vehicle_box: tuple[int, int, int, int] | None = None
    lights: list[tuple[float, float, float, tuple[int, int, int]]] = field(default_factory=list)


def visible_faces(camera: Camera, pose: Pose, faces: dict[str, tuple[np.ndarray, np.ndarray]]) -> list[str]:
    """Faces whose outer side faces the camera (origin and normal given in truck coordinates)."""
    rotation = pose.rotation()
    names = []
    for name, (centre, normal) in faces.items():
        centre_w = pose.to_world(centre[None])[0]
        to_cam = camera.C - centre_w
        cos = float(to_cam @ (rotation @ normal)) / max(float(np.linalg.norm(to_cam)), 1e-9)
        if cos > GRAZING_COS:
            names.append(name)
    return names


def render_view(frame: np.ndarray, camera: Camera, pose: Pose, faces: list[str], sprite: Callable[[str], Sprite],
                passage_id: str) -> ViewResult:
    """Draw the given faces into the frame (in place) and collect the truth boxes of their elements."""
    rotation = pose.rotation()
    boxes: dict[str, tuple[np.ndarray, bool, Element]] = {}
    result = ViewResult()
    for name in faces:
        face = sprite(name)
        origin = pose.to_world(face.origin[None])[0]
        e_u, e_v = rotation @ face.e_u, rotation @ face.e_v
        hom = camera.plane_homography(origin, e_u, e_v)
        depth = camera.depth_along(origin, e_u, e_v)
        if not _draw_face(frame, face, hom, depth):
            continue
        for element in face.elements:
            poly = clip_polygon_depth(element.polygon, depth)
            if len(poly) < 3:
                continue
            pts = apply_homography(hom, poly)
            lo, hi = pts.min(axis=0), pts.max(axis=0)
            cut = len(poly) != len(element.polygon) or not np.array_equal(poly, element.polygon)
            known = boxes.get(element.key)
            if known is not None:
                lo, hi = np.minimum(lo, known[0][:2]), np.maximum(hi, known[0][2:])
                cut = cut or known[1]
            boxes[element.key] = (np.concatenate([lo, hi]), cut, element)
        for x, y, radius, color in face.lights:
            pt = apply_homography(hom, np.array([[x, y]]))[0]
            scale = np.linalg.norm(apply_homography(hom, np.array([[x + radius, y]]))[0] - pt)
            result.lights.append((float(pt[0]), float(pt[1]), float(scale), color))
    for box, cut, element in boxes.values():
        truth = _truth(box, cut, element, camera, passage_id)
        if truth is not None:
            result.objects.append(truth)
            if truth.cls == "vehicle":
                x0, y0, x1, y1 = truth.box
                result.vehicle_box = (int(x0), int(y0), int(np.ceil(x1)), int(np.ceil(y1)))
    result.objects.sort(key=lambda o: (o.cls, o.box))
    return result


def _area(lo: np.ndarray, hi: np.ndarray) -> float:
    return float(max(0.0, hi[0] - lo[0]) * max(0.0, hi[1] - lo[1]))


def _truth(box: np.ndarray, cut: bool, element: Element, camera: Camera, passage_id: str) -> ObjectTruth | None:
    """Clip to the frame and keep what is big enough and mostly inside (large objects may be cut)."""
    x0, y0 = max(0.0, box[0]), max(0.0, box[1])
    x1, y1 = min(float(camera.width), box[2]), min(float(camera.height), box[3])
    if x1 - x0 < MIN_SIDE_PX or y1 - y0 < MIN_SIDE_PX:
        return None
    whole = _area(box[:2], box[2:])
    visible = (x1 - x0) * (y1 - y0) / max(whole, 1e-9)
    attrs = dict(element.attrs)
    if element.cls in LARGE_CLASSES:
        if visible < 0.3 and (x1 - x0) * (y1 - y0) < 0.05 * camera.width * camera.height:
            return None
    elif visible < 0.5:
        return None
    if visible < 0.99 or cut:
        attrs["truncated"] = True
    box_out = (round(float(x0), 2), round(float(y0), 2), round(float(x1), 2), round(float(y1), 2))
    return ObjectTruth(cls=element.cls, box=box_out, text=element.text, passage_id=passage_id, attrs=attrs)


def _draw_face(frame: np.ndarray, face: Sprite, hom: np.ndarray, depth: np.ndarray) -> bool:
    """Warp the face's covered region into the frame; False when nothing of it lands in the frame."""
    x0, y0, x1, y1 = face.opaque
    if x1 <= x0 or y1 <= y0:
        return False
    poly = clip_polygon_depth(rect_quad(face.opaque), depth)
    if len(poly) < 3:
        return False
    clipped = len(poly) != 4 or not np.allclose(poly, rect_quad(face.opaque))
    pts = apply_homography(hom, poly)
    height, width = frame.shape[:2]
    rx0, ry0 = max(0, int(np.floor(pts[:, 0].min()))), max(0, int(np.floor(pts[:, 1].min())))
    rx1, ry1 = min(width, int(np.ceil(pts[:, 0].max()))), min(height, int(np.ceil(pts[:, 1].max())))
    if rx1 - rx0 < 1 or ry1 - ry0 < 1:
        return False
    scale = np.sqrt(max(_poly_area(pts), 1e-9) / max(_poly_area(poly), 1e-9))
    level = int(np.clip(np.floor(np.log2(1.0 / max(scale, 1e-6))), 0, len(face.levels) - 1))
    k = float(2 ** level)
    hom_level = hom @ np.diag([k, k, 1.0])
    hom_cv = _TO_CV @ np.array([[1, 0, -rx0], [0, 1, -ry0], [0, 0, 1]], dtype=np.float64) @ hom_level @ _FROM_CV
    warped = cv2.warpPerspective(face.levels[level], hom_cv, (rx1 - rx0, ry1 - ry0), flags=cv2.INTER_LINEAR,
                                 borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0, 0))
    alpha = warped[..., 3]
    if clipped:
        mask = np.zeros_like(alpha)
        cv2.fillConvexPoly(mask, np.round(pts - [rx0 + 0.5, ry0 + 0.5]).astype(np.int32), 255)
        alpha = cv2.bitwise_and(alpha, mask)
        warped = cv2.bitwise_and(warped, cv2.merge([mask, mask, mask, mask]))
    inverse = cv2.merge([255 - alpha] * 3)
    region = frame[ry0:ry1, rx0:rx1]
    cv2.multiply(region, inverse, region, scale=1.0 / 255.0)
    cv2.add(region, cv2.cvtColor(warped, cv2.COLOR_BGRA2BGR), region)
    return True


def _poly_area(pts: np.ndarray) -> float:
    x, y = pts[:, 0], pts[:, 1]
    return 0.5 * abs(float(x @ np.roll(y, 1) - y @ np.roll(x, 1)))
