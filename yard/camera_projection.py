"""From a yard camera's image detections to objects on the ground (`GroundDetections`).

The detector (`vision.yard_detector`) gives faces: rotated rectangles of image regions, grouped into blobs (faces
that touch). This module places them with the camera's fitted calibration; it takes plain arrays so that `yard`
needs nothing from `vision`.

Top view (looking down): a face is mapped to the horizontal plane at the height of the object it may be the top of
(`pixels_to_plane`), and the object's kind follows from its footprint there: a blob the size of a truck (tractor and
trailer, seen as several faces) is one truck, an IGV-sized blob without a container on it is an IGV, and otherwise
every container-sized face is a container. Side faces and slivers have no container footprint and are dropped.
Stacked containers stand higher than the container height used for the mapping, so their tops land a little away
from the camera's nadir (about 0.3 m per extra tier for a camera 300 m up, 40 m off nadir): inside a 2.5 m slot.

Oblique view (looking along the truck queues): each blob's lowest image point is where the nearest vehicle meets
the ground; the blob's highest point, mapped at truck height, is the far end of the farthest one. Vehicles touching
in the image are counted from that extent along the view.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np
import shapely

from calibration.files import CameraCalibration
from calibration.projection import pixels_to_ground, pixels_to_plane
from yard.ground_detections import KIND_CONTAINER, KIND_IGV, KIND_TRUCK, GroundDetections

View = Literal["top", "oblique"]


@dataclass(frozen=True)
class ProjectionSettings:
    container_height_m: float = 2.6     # top of a one-tier container (its tier is unknown from above)
    truck_height_m: float = 4.0
    igv_height_m: float = 1.5
    container_length_m: tuple[float, float] = (5.0, 13.6)
    container_width_m: tuple[float, float] = (1.2, 3.3)  # a top face partly hidden by a taller stack in front
    truck_length_m: tuple[float, float] = (15.0, 22.5)
    truck_width_m: tuple[float, float] = (1.8, 3.6)
    igv_length_m: tuple[float, float] = (13.6, 16.5)
    igv_width_m: tuple[float, float] = (2.6, 3.8)
    truck_pitch_m: float = 21.6         # a queued truck's length and the gap to the next one
    truck_length_nominal_m: float = 18.6
    queue_merge_gap_m: float = 1.5      # faces closer along a lane are one vehicle (queued trucks keep ~3 m)
    min_queued_m: float = 2.0           # a shorter group of faces in a queue lane is not a vehicle (a cab is 2.5)
    container_tops_m: tuple[float, ...] = (2.59, 4.1, 5.18, 7.77, 10.36)
    """Heights a container's top may stand at (tiers 1–4 of a stack; on a truck or IGV): with a `SlotSnap`, each
    container face is placed at every one and the placement nearest a slot centre is kept."""


class SlotSnap:
    """The layout's slot centres, for telling a container's tier from where its top lands.

    Seen from above, a stack's top container is displaced away from the camera's foot in proportion to its height,
    about 0.3 m per tier at the edge of a high camera's view: enough to put a 4-tier stack in the next row when
    placed at one fixed height. Of the tier heights, the one that puts the face nearest a slot centre is right.
    """

    def __init__(self, centres: np.ndarray) -> None:
        points = np.asarray(centres, dtype=np.float64).reshape(-1, 2)
        if not np.isfinite(points).all():
            raise ValueError("slot centres must be finite")
        self._tree = shapely.STRtree(shapely.points(points))

    def distance(self, points: np.ndarray) -> np.ndarray:
        """(M,) distance from each point (M, 2) to its nearest slot centre; inf for a point that is not finite."""
        points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        distance = np.full(len(points), np.inf)
        finite = np.flatnonzero(np.isfinite(points).all(axis=1))
        if len(finite) and len(self._tree.geometries):
            (index, _), found = self._tree.query_nearest(shapely.points(points[finite]), return_distance=True,
                                                         all_matches=False)
            distance[finite[index]] = found
        return distance


def project_detections(calibration: CameraCalibration, view: View, rects_px: np.ndarray, blobs: np.ndarray,
                       confidence: np.ndarray, settings: ProjectionSettings = ProjectionSettings(),
                       snap: SlotSnap | None = None, lanes: shapely.Geometry | None = None) -> GroundDetections:
    """Ground objects from a camera's faces: `rects_px` (N, 4, 2) rotated rectangles, `blobs` (N,) blob ids.

    `snap` places container tops at their likely tier. `lanes` (the truck-queue lanes) are watched for trucks
    only: faces there are grouped per lane (trucks side by side touch in the image but are two vehicles) and counted
    along the lane.
    """
    rects = np.asarray(rects_px, dtype=np.float64).reshape(-1, 4, 2)
    blob_ids = np.asarray(blobs).reshape(-1)
    scores = np.asarray(confidence, dtype=np.float32).reshape(-1)
    if not len(rects) == len(blob_ids) == len(scores):
        raise ValueError(f"rects_px, blobs and confidence must have the same length, got {len(rects)}, "
                         f"{len(blob_ids)} and {len(scores)}")
    if len(rects) == 0:
        return GroundDetections.empty(calibration.camera_id)
    if view == "top":
        if lanes is None:
            return _top_view(calibration, rects, blob_ids, scores, settings, snap)
        lane_list = list(getattr(lanes, "geoms", [lanes]))
        lane = _lane_of(calibration, rects, lane_list, settings.truck_height_m)
        off = lane == 0
        parts = [_top_view(calibration, rects[off], blob_ids[off], scores[off], settings, snap),
                 _queued_trucks(calibration, rects[~off], lane[~off], lane_list, scores[~off], settings)]
        return GroundDetections.concat(parts)
    if view == "oblique":
        return _oblique_view(calibration, rects, blob_ids, scores, settings)
    raise ValueError(f"view must be 'top' or 'oblique', got {view!r}")


def _lane_of(calibration: CameraCalibration, rects: np.ndarray, lanes: list[shapely.Polygon], height_m: float
             ) -> np.ndarray:
    """Per face, 1 + the index of the lane holding its centre (placed at truck height), or 0 outside every lane."""
    parts = lanes
    centres = pixels_to_plane(calibration, rects.mean(axis=1), height_m)
    lane = np.zeros(len(rects), np.int64)
    finite = np.flatnonzero(np.isfinite(centres).all(axis=1))
    for index, polygon in enumerate(parts, start=1):
        lane[finite[shapely.contains_xy(polygon, centres[finite, 0], centres[finite, 1])]] = index
    return lane


def _queued_trucks(calibration: CameraCalibration, rects: np.ndarray, lane: np.ndarray, lanes: list[shapely.Polygon],
                   scores: np.ndarray, s: ProjectionSettings) -> GroundDetections:
    """Trucks in the queue lanes, seen from above, counted along each lane.

    The faces of a lane are laid on the lane's axis as intervals; intervals closer than `queue_merge_gap_m` are one
    vehicle's parts (cab, chassis, container), and each merged run is as many trucks as its length holds at the
    queue's pitch. A grey container on grey asphalt may not stand out, but its truck's cab does, so a run as short
    as `min_queued_m` still counts as one truck.
    """
    ground = pixels_to_plane(calibration, rects.reshape(-1, 2), s.truck_height_m).reshape(-1, 4, 2)
    xy: list[np.ndarray] = []
    conf: list[float] = []
    for index in np.unique(lane):
        faces = np.flatnonzero((lane == index) & np.isfinite(ground).all(axis=(1, 2)))
        if len(faces) == 0:
            continue
        origin, axis = _lane_axis(lanes[index - 1])
        along = (ground[faces] - origin) @ axis                                     # (F, 4)
        lateral = float(np.median((ground[faces].mean(axis=1) - origin) @ np.array([-axis[1], axis[0]])))
        for a, b, best in _runs(along.min(axis=1), along.max(axis=1), scores[faces], s.queue_merge_gap_m):
            if b - a < s.min_queued_m:
                continue
            count = max(1, round((b - a + s.truck_pitch_m - s.truck_length_nominal_m) / s.truck_pitch_m))
            for k in range(count):
                t = min(a + s.truck_length_nominal_m / 2 + k * s.truck_pitch_m, b)
                xy.append(origin + axis * t + np.array([-axis[1], axis[0]]) * lateral)
                conf.append(best)
    if not xy:
        return GroundDetections.empty(calibration.camera_id)
    n = len(xy)
    return GroundDetections(np.array(xy), np.full(n, KIND_TRUCK, np.int8), np.array(conf, np.float32),
                            np.tile([s.truck_length_nominal_m, 2.5], (n, 1)), calibration.camera_id)


def _runs(starts: np.ndarray, ends: np.ndarray, scores: np.ndarray, gap: float) -> list[tuple[float, float, float]]:
    """Intervals merged where they overlap or lie within `gap`: (start, end, best score) per run."""
    order = np.argsort(starts)
    runs: list[tuple[float, float, float]] = []
    for i in order:
        if runs and starts[i] <= runs[-1][1] + gap:
            a, b, best = runs[-1]
            runs[-1] = (a, max(b, float(ends[i])), max(best, float(scores[i])))
        else:
            runs.append((float(starts[i]), float(ends[i]), float(scores[i])))
    return runs


def _lane_axis(polygon: shapely.Polygon) -> tuple[np.ndarray, np.ndarray]:
    """A point on the lane and the unit vector along its length."""
    coords = np.asarray(shapely.minimum_rotated_rectangle(polygon).exterior.coords)[:4]
    sides = np.diff(np.vstack([coords, coords[:1]]), axis=0)
    longest = sides[np.argmax(np.linalg.norm(sides, axis=1))]
    axis = longest / np.linalg.norm(longest)
    centre = np.asarray(polygon.centroid.coords[0])
    return centre, axis


def _footprint(calibration: CameraCalibration, corners_px: np.ndarray, height_m: float
               ) -> tuple[np.ndarray, np.ndarray]:
    """Centres (N, 2) and (length, width) (N, 2) of quads (N, K, 2) of pixels mapped to the plane z = height."""
    n, k = corners_px.shape[:2]
    ground = pixels_to_plane(calibration, corners_px.reshape(-1, 2), height_m).reshape(n, k, 2)
    if k == 4:
        return _quad_footprint(ground)
    centres = np.full((n, 2), np.nan)
    sizes = np.full((n, 2), np.nan)
    for i in range(n):
        points = ground[i][np.isfinite(ground[i]).all(axis=1)]
        if len(points) < 3:
            continue
        (cx, cy), (a, b), _ = cv2.minAreaRect(points.astype(np.float32))
        centres[i] = (cx, cy)
        sizes[i] = (max(a, b), min(a, b))
    return centres, sizes


def _quad_footprint(ground: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centre and (length, width) of ground quads (N, 4, 2) in corner order, all at once: a rectangle in the image
    maps to a near-rectangle on the ground, whose side lengths are the means of opposite sides."""
    sides = np.linalg.norm(np.roll(ground, -1, axis=1) - ground, axis=2)       # (N, 4): 01, 12, 23, 30
    a = (sides[:, 0] + sides[:, 2]) / 2
    b = (sides[:, 1] + sides[:, 3]) / 2
    sizes = np.stack([np.maximum(a, b), np.minimum(a, b)], axis=1)
    return ground.mean(axis=1), sizes


def _within(sizes: np.ndarray, length: tuple[float, float], width: tuple[float, float]) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return np.asarray((sizes[:, 0] >= length[0]) & (sizes[:, 0] <= length[1])
                          & (sizes[:, 1] >= width[0]) & (sizes[:, 1] <= width[1]))


def _top_view(calibration: CameraCalibration, rects: np.ndarray, blobs: np.ndarray, scores: np.ndarray,
              s: ProjectionSettings, snap: SlotSnap | None) -> GroundDetections:
    face_xy, face_size = _footprint(calibration, rects, s.container_height_m)
    if snap is not None:
        face_xy = _snapped(calibration, rects, face_xy, s.container_tops_m, snap)
    container_face = _within(face_size, s.container_length_m, s.container_width_m)
    unique, inverse = np.unique(blobs, return_inverse=True)
    blob_corners = [rects[inverse == b].reshape(-1, 2) for b in range(len(unique))]
    width = max(len(c) for c in blob_corners)
    padded = np.stack([np.vstack([c, np.repeat(c[:1], width - len(c), axis=0)]) for c in blob_corners])
    truck_xy, truck_size = _footprint(calibration, padded, s.truck_height_m)
    igv_xy, igv_size = _footprint(calibration, padded, s.igv_height_m)
    has_container = np.bincount(inverse, weights=container_face, minlength=len(unique)) > 0
    is_truck = _within(truck_size, s.truck_length_m, s.truck_width_m)
    is_igv = ~is_truck & ~has_container & _within(igv_size, s.igv_length_m, s.igv_width_m)
    blob_score = np.array([scores[inverse == b].max() for b in range(len(unique))], np.float32)
    vehicle = is_truck | is_igv
    containers = container_face & ~vehicle[inverse]
    xy = np.vstack([truck_xy[is_truck], igv_xy[is_igv], face_xy[containers]])
    kinds = np.concatenate([np.full(int(is_truck.sum()), KIND_TRUCK), np.full(int(is_igv.sum()), KIND_IGV),
                            np.full(int(containers.sum()), KIND_CONTAINER)]).astype(np.int8)
    conf = np.concatenate([blob_score[is_truck], blob_score[is_igv], scores[containers]])
    size = np.vstack([truck_size[is_truck], igv_size[is_igv], face_size[containers]])
    return GroundDetections(xy, kinds, conf.astype(np.float32), size, calibration.camera_id)


def _snapped(calibration: CameraCalibration, rects: np.ndarray, fallback: np.ndarray, tops_m: tuple[float, ...],
             snap: SlotSnap) -> np.ndarray:
    """Each face's centre placed at the top height (of `tops_m`) that lands it nearest a slot centre."""
    centres = rects.mean(axis=1)                                              # (N, 2) pixels
    n, k = len(centres), len(tops_m)
    heights = np.repeat(np.asarray(tops_m, dtype=np.float64)[None, :], n, axis=0).ravel()
    candidates = pixels_to_plane(calibration, np.repeat(centres, k, axis=0), heights).reshape(n, k, 2)
    distance = snap.distance(candidates.reshape(-1, 2)).reshape(n, k)
    best = np.argmin(distance, axis=1)
    chosen = candidates[np.arange(n), best]
    return np.where(np.isfinite(distance[np.arange(n), best])[:, None], chosen, fallback)


def _oblique_view(calibration: CameraCalibration, rects: np.ndarray, blobs: np.ndarray, scores: np.ndarray,
                  s: ProjectionSettings) -> GroundDetections:
    xy: list[np.ndarray] = []
    conf: list[float] = []
    for blob in np.unique(blobs):
        corners = rects[blobs == blob].reshape(-1, 2)
        bottom = corners[np.argmax(corners[:, 1])]
        top = corners[np.argmin(corners[:, 1])]
        near = pixels_to_ground(calibration, bottom[None])[0]
        far = pixels_to_plane(calibration, top[None], s.truck_height_m)[0]
        if not (np.isfinite(near).all() and np.isfinite(far).all()):
            continue
        extent = float(np.linalg.norm(far - near))
        if extent < 0.5 * s.truck_length_nominal_m:
            continue
        direction = (far - near) / extent
        count = max(1, round((extent + s.truck_pitch_m - s.truck_length_nominal_m) / s.truck_pitch_m))
        for k in range(count):
            xy.append(near + direction * (s.truck_length_nominal_m / 2 + k * s.truck_pitch_m))
            conf.append(float(scores[blobs == blob].max()))
    if not xy:
        return GroundDetections.empty(calibration.camera_id)
    n = len(xy)
    return GroundDetections(np.array(xy), np.full(n, KIND_TRUCK, np.int8), np.array(conf, np.float32),
                            np.tile([s.truck_length_nominal_m, 2.5], (n, 1)), calibration.camera_id)
