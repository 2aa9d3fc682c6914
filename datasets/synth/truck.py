"""Truck sprites: the front, rear, both sides and the roof of one passage's tractor, trailer and cargo.

Local frame of the truck: x forward with the front bumper at x = 0 (the truck extends to x = -length), y to the
left, z up, metres. Each face is drawn once per passage at a fixed resolution (pixels per metre) and placed on the
truck's bounding box; the cameras see it through `cameras.Camera.plane_homography`.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from datasets.synth import conditions, containers
from datasets.synth.glyphs import paint, text_ink
from datasets.synth.plates import PlateSpec, render_plate
from datasets.synth.specs import CONTAINER_WIDTH_M, TRUCK_WIDTH_M, ContainerSpec, TruckSpec
from datasets.synth.sprites import Canvas, Rect, Sprite, finish
from datasets.synth.textures import Color, darker, jitter_color, noise, tint, weathered

FACES = ("front", "rear", "left", "right", "top")
#: Pixels per metre of each face: plates and door markings need more than the long sides.
FACE_PPM = {"front": 300.0, "rear": 300.0, "left": 150.0, "right": 150.0, "top": 150.0}
CAB_LENGTH_M = 2.35
CARGO_START_M = 3.5
TYRE = (28, 28, 30)


def build_face(spec: TruckSpec, face: str) -> Sprite:
    """Draw one face of the truck (deterministic for the spec) with its labels and truck-borne conditions, and
    place it on the truck's box."""
    rng = np.random.default_rng([spec.seed, FACES.index(face)])
    builders: dict[str, Callable[[TruckSpec, np.random.Generator], Canvas]] = {
        "front": _front, "rear": _rear, "left": _side_left, "right": _side_right, "top": _top,
    }
    canvas = builders[face](spec, rng)
    opaque = canvas.opaque_rect()
    canvas.add("vehicle", "vehicle", canvas.outline(), None)
    conditions.weather_sprite(canvas, spec.conditions, rng, face)
    width, length, height = TRUCK_WIDTH_M, spec.length_m, spec.height_m
    step = 1.0 / FACE_PPM[face]
    placement = {
        "front": ((0, -width / 2, height), (0, step, 0), (0, 0, -step), (1, 0, 0)),
        "rear": ((-length, width / 2, height), (0, -step, 0), (0, 0, -step), (-1, 0, 0)),
        "left": ((0, width / 2, height), (-step, 0, 0), (0, 0, -step), (0, 1, 0)),
        "right": ((-length, -width / 2, height), (step, 0, 0), (0, 0, -step), (0, -1, 0)),
        "top": ((0, width / 2, height), (0, -step, 0), (-step, 0, 0), (0, 0, 1)),
    }[face]
    origin, e_u, e_v, normal = (np.asarray(v, dtype=np.float64) for v in placement)
    return finish(canvas, face, origin, e_u, e_v, normal, opaque)


def face_frames(spec: TruckSpec) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Centre and outward normal of each face in truck coordinates, known before any sprite is drawn."""
    width, length, height = TRUCK_WIDTH_M, spec.length_m, spec.height_m
    frames = {
        "front": ((0.0, 0.0, height / 2), (1, 0, 0)), "rear": ((-length, 0.0, height / 2), (-1, 0, 0)),
        "left": ((-length / 2, width / 2, height / 2), (0, 1, 0)),
        "right": ((-length / 2, -width / 2, height / 2), (0, -1, 0)),
        "top": ((-length / 2, 0.0, height), (0, 0, 1)),
    }
    return {name: (np.asarray(c, dtype=np.float64), np.asarray(n, dtype=np.float64)) for name, (c, n) in
            frames.items()}


# --- shared pieces -------------------------------------------------------------------------------------------------

class _Frame:
    """Converts truck metres to a face's pixels: lateral or longitudinal position to u, height to v."""

    def __init__(self, canvas: Canvas, height_m: float, u_of: Callable[[float], float]) -> None:
        self.canvas, self.height_m, self.u_of = canvas, height_m, u_of

    def v(self, z: float) -> float:
        return (self.height_m - z) * self.canvas.ppm

    def rect(self, a: float, b: float, z0: float, z1: float) -> Rect:
        u0, u1 = sorted((self.u_of(a), self.u_of(b)))
        return (u0, self.v(max(z0, z1)), u1, self.v(min(z0, z1)))


def _shaded(rng: np.random.Generator, color: Color, w: int, h: int, *, gloss: float = 0.12,
            wear: float = 0.2) -> np.ndarray:
    """Painted body panel: vertical light falloff, faint noise, some grime."""
    ramp = np.linspace(1.0 + gloss, 1.0 - gloss, max(h, 1), dtype=np.float32)[:, None, None]
    base = tint((max(h, 1), max(w, 1)), color) * ramp
    base *= (0.96 + 0.08 * noise(rng, max(h, 1), max(w, 1), 6))[..., None]
    return weathered(rng, base, wear)


def _glass(rng: np.random.Generator, w: int, h: int, night: bool = False) -> np.ndarray:
    """Windscreen: dark cabin behind a sky reflection band."""
    y = np.linspace(0, 1, max(h, 1), dtype=np.float32)[:, None]
    x = np.linspace(0, 1, max(w, 1), dtype=np.float32)[None, :]
    band = np.clip(1 - np.abs((x * 0.6 + y) - float(rng.uniform(0.4, 0.9))) * 5, 0, 1) * 0.5
    base = np.asarray((62, 52, 44), np.float32) + np.asarray((130, 110, 90), np.float32) * (0.55 - 0.4 * y)[..., None]
    out = base * (0.7 + 0.3 * noise(rng, max(h, 1), max(w, 1), 5))[..., None]
    return np.asarray(out + band[..., None] * np.asarray((120, 110, 100), np.float32), np.float32)


def _plate(canvas: Canvas, spec: PlateSpec, cx: float, top: float, rng: np.random.Generator, role: str) -> None:
    """Mount a plate (with its dark holder) centred at cx, its top at `top`; label it."""
    w_mm, h_mm = spec.size_mm()
    w, h = round(w_mm / 1000 * canvas.ppm), round(h_mm / 1000 * canvas.ppm)
    x0, y0 = round(cx - w / 2), round(top)
    pad = max(1, round(0.012 * canvas.ppm))
    canvas.fill((x0 - pad, y0 - pad, x0 + w + pad, y0 + h + pad), (30, 30, 32))
    canvas.put((x0, y0, x0 + w, y0 + h), render_plate(spec, w, h, rng))
    canvas.add("plate", f"plate:{role}", (x0, y0, x0 + w, y0 + h), spec.text, role=role, lines=float(spec.lines),
               color=spec.color, format=spec.format)


def _wheel_side(canvas: Canvas, cx: float, cy: float, radius: float, rng: np.random.Generator) -> None:
    """A wheel seen from the side: tyre, steel rim, hub and nuts."""
    r = round(radius)
    centre = (round(cx), round(cy))
    cv2.circle(canvas.image, centre, r, (*TYRE, 255), -1, cv2.LINE_AA)
    cv2.circle(canvas.image, centre, round(r * 0.96), (40, 40, 42, 255), max(1, r // 25), cv2.LINE_AA)
    rim = jitter_color(rng, (170, 170, 165), 6)
    cv2.circle(canvas.image, centre, round(r * 0.6), (*rim, 255), -1, cv2.LINE_AA)
    cv2.circle(canvas.image, centre, round(r * 0.52), (*(int(c * 0.75) for c in rim), 255), max(1, r // 20))
    cv2.circle(canvas.image, centre, round(r * 0.22), (70, 70, 72, 255), -1, cv2.LINE_AA)
    for k in range(8):
        angle = k * np.pi / 4 + float(rng.uniform(0, np.pi / 4))
        p = (round(cx + np.cos(angle) * r * 0.33), round(cy + np.sin(angle) * r * 0.33))
        cv2.circle(canvas.image, p, max(1, r // 18), (200, 200, 196, 255), -1)


def _axles(spec: TruckSpec) -> tuple[list[float], list[float]]:
    """Axle positions (local x) of the tractor and of the trailer (or the rigid truck's rear axles)."""
    length = spec.length_m
    if spec.kind == "rigid_box":
        return [-1.3], [-length + 2.4, -length + 3.7]
    tractor = [-1.25, -4.55, -5.85]
    if spec.kind == "container_20":
        return tractor, [-length + 1.3, -length + 2.6]
    return tractor, [-length + 1.3, -length + 2.6, -length + 3.9]


def _cargo_spans(spec: TruckSpec) -> list[tuple[ContainerSpec, float, float]]:
    """(container, front x, rear x) for each container, front first."""
    spans = []
    x = -CARGO_START_M
    for box in spec.containers:
        spans.append((box, x, x - box.length_m))
        x -= box.length_m + 0.08
    return spans


# --- front ---------------------------------------------------------------------------------------------------------

def _front(spec: TruckSpec, rng: np.random.Generator) -> Canvas:
    width, height, ppm = TRUCK_WIDTH_M, spec.height_m, FACE_PPM["front"]
    canvas = Canvas.blank(width, height, ppm)
    f = _Frame(canvas, height, lambda y: (y + width / 2) * ppm)
    hc = spec.cab_height_m
    half = CONTAINER_WIDTH_M / 2
    if spec.containers:
        box = spec.containers[0]
        top = spec.deck_m + box.height_m
        containers.draw_front_end(canvas, f.rect(-half, half, spec.deck_m, top), box, rng)
        if top - hc > 0.12:
            canvas.add("container", f"container:{box.position}", f.rect(-half, half, hc, top), box.number)
    elif spec.kind == "rigid_box":
        x0, y0, x1, y1 = (round(v) for v in f.rect(-1.24, 1.24, spec.deck_m, spec.height_m - 0.02))
        canvas.put((x0, y0, x1, y1), _shaded(rng, spec.box_color, x1 - x0, y1 - y0, wear=0.35))
    body = f.rect(-width / 2 + 0.02, width / 2 - 0.02, 0.45, hc)
    bx0, by0, bx1, by1 = (round(v) for v in body)
    canvas.put(body, _shaded(rng, spec.cab_color, bx1 - bx0, by1 - by0))
    corner = round(0.12 * ppm)
    canvas.image[by0:by0 + corner, bx0:bx0 + corner // 2, 3] = 0
    canvas.image[by0:by0 + corner, bx1 - corner // 2:bx1, 3] = 0
    visor = f.rect(-1.1, 1.1, hc - 0.3, hc - 0.12)
    canvas.fill(visor, darker(spec.cab_color, 0.5))
    for k in range(5):
        y = -0.6 + k * 0.3
        canvas.fill(f.rect(y - 0.05, y + 0.05, hc - 0.1, hc - 0.05), (0, 140, 255))
    glass = f.rect(-1.08, 1.08, hc - 1.45, hc - 0.32)
    gx0, gy0, gx1, gy1 = (round(v) for v in glass)
    canvas.put(glass, _glass(rng, gx1 - gx0, gy1 - gy0))
    centre = round(f.u_of(0))
    cv2.line(canvas.image, (centre, gy0), (centre, gy1), (40, 40, 40, 255), max(1, round(ppm / 100)))
    for side in (-1, 1):
        wiper = (round(f.u_of(side * 0.55)), gy1 - 3), (round(f.u_of(side * 0.15)), gy1 - round(0.35 * ppm))
        cv2.line(canvas.image, wiper[0], wiper[1], (20, 20, 20, 255), max(1, round(0.012 * ppm)))
        canvas.fill(f.rect(side * 1.2 - 0.05, side * 1.2 + 0.05, hc - 1.5, hc - 0.6), (25, 25, 25))
    grille = f.rect(-0.62, 0.62, 1.0, hc - 1.55)
    canvas.fill(grille, jitter_color(rng, (45, 45, 48), 10))
    gx0, gy0, gx1, gy1 = (round(v) for v in grille)
    bar = jitter_color(rng, (150, 150, 150), 40)
    for y in range(gy0 + 6, gy1 - 4, max(4, round(0.07 * ppm))):
        cv2.line(canvas.image, (gx0 + 4, y), (gx1 - 4, y), (*bar, 255), max(1, round(0.015 * ppm)))
    cv2.ellipse(canvas.image, (round(f.u_of(0)), gy0 + round(0.08 * ppm)), (round(0.12 * ppm), round(0.05 * ppm)),
                0, 0, 360, (200, 200, 205, 255), -1, cv2.LINE_AA)
    for side in (-1, 1):
        lamp = f.rect(side * 0.7, side * 1.18, 0.82, 1.02)
        canvas.fill(lamp, (120, 120, 118))
        lx0, ly0, lx1, ly1 = lamp
        canvas.fill((lx0 + 4, ly0 + 4, (lx0 + lx1) / 2, ly1 - 4), (235, 235, 230))
        canvas.fill(((lx0 + lx1) / 2 + 2, ly0 + 4, lx1 - 4, ly1 - 4), (40, 150, 235))
        canvas.lights.append(((lx0 + lx1) / 2, (ly0 + ly1) / 2, (lx1 - lx0) * 0.9, (240, 245, 255)))
    bumper_color = jitter_color(rng, (50, 50, 52), 12) if rng.random() < 0.6 else spec.cab_color
    canvas.put(f.rect(-width / 2 + 0.01, width / 2 - 0.01, 0.42, 0.8),
               _shaded(rng, bumper_color, round(width * ppm), round(0.38 * ppm), gloss=0.05))
    canvas.fill(f.rect(-width / 2 + 0.01, width / 2 - 0.01, 0.0, 0.42), (22, 22, 24), 235)
    for side in (-1, 1):
        canvas.fill(f.rect(side * 0.95, side * 1.25, 0.0, 0.55), TYRE)
    _plate(canvas, spec.tractor_plate, f.u_of(float(rng.uniform(-0.08, 0.08))), f.v(0.72), rng, "tractor")
    return canvas


# --- rear ----------------------------------------------------------------------------------------------------------

def _rear(spec: TruckSpec, rng: np.random.Generator) -> Canvas:
    width, height, ppm = TRUCK_WIDTH_M, spec.height_m, FACE_PPM["rear"]
    canvas = Canvas.blank(width, height, ppm)
    f = _Frame(canvas, height, lambda y: (width / 2 - y) * ppm)
    half = CONTAINER_WIDTH_M / 2
    deck = spec.deck_m
    if spec.kind == "empty_chassis":
        cab = f.rect(-1.2, 1.2, 1.15, spec.cab_height_m)
        x0, y0, x1, y1 = (round(v) for v in cab)
        canvas.put(cab, _shaded(rng, darker(spec.cab_color, 0.8), x1 - x0, y1 - y0))
        canvas.fill(f.rect(-0.4, 0.4, spec.cab_height_m - 0.9, spec.cab_height_m - 0.5), (50, 45, 40))
        for y, color in ((-0.3, (30, 30, 200)), (0.3, (200, 60, 30))):
            cv2.line(canvas.image, (round(f.u_of(y)), round(f.v(1.6))), (round(f.u_of(y * 0.3)), round(f.v(1.15))),
                     (*color, 255), max(1, round(0.02 * ppm)))
    elif spec.kind == "rigid_box":
        box = f.rect(-1.24, 1.24, deck, height - 0.02)
        x0, y0, x1, y1 = (round(v) for v in box)
        canvas.put(box, _shaded(rng, spec.box_color, x1 - x0, y1 - y0, wear=0.4))
        mid = round(f.u_of(0))
        cv2.line(canvas.image, (mid, y0 + 4), (mid, y1 - 4), (60, 60, 60, 255), max(1, round(0.01 * ppm)))
        for y in (-0.9, -0.3, 0.3, 0.9):
            canvas.fill(f.rect(y - 0.017, y + 0.017, deck + 0.1, height - 0.1), containers.STEEL)
    else:
        last = spec.containers[-1]
        containers.draw_door_end(canvas, f.rect(-half, half, deck, deck + last.height_m), last, rng)
    chassis = jitter_color(rng, spec.chassis_color, 10)
    canvas.fill(f.rect(-1.22, 1.22, deck - 0.28, deck), chassis)
    canvas.fill(f.rect(-1.24, 1.24, 0.45, deck - 0.28), (20, 20, 22), 150)
    for side in (-1, 1):
        canvas.fill(f.rect(side * 0.78, side * 1.24, 0.0, 1.02), TYRE)
        canvas.fill(f.rect(side * 0.8, side * 1.2, 0.12, 0.72), (12, 12, 12))
        lamp = f.rect(side * 0.62, side * 1.2, 0.84, 1.02)
        canvas.fill(lamp, (60, 60, 60))
        lx0, ly0, lx1, ly1 = lamp
        third = (lx1 - lx0) / 3
        for k, color in enumerate(((30, 30, 200), (30, 140, 240), (230, 230, 230))):
            canvas.fill((lx0 + k * third + 2, ly0 + 3, lx0 + (k + 1) * third - 2, ly1 - 3), color)
        canvas.lights.append((lx0 + third / 2, (ly0 + ly1) / 2, third * 1.5, (40, 40, 255)))
    guard = f.rect(-1.1, 1.1, 0.46, 0.6)
    gx0, gy0, gx1, gy1 = (round(v) for v in guard)
    bar = np.empty((gy1 - gy0, gx1 - gx0, 4), np.uint8)
    bar[:] = (230, 230, 230, 255)
    stripe = max(4, round(0.1 * ppm))
    for x in range(-stripe * 2, gx1 - gx0, stripe * 2):
        h = gy1 - gy0
        pts = np.array([[x, h], [x + stripe, h], [x + stripe + h, 0], [x + h, 0]])
        cv2.fillConvexPoly(bar, pts, (30, 30, 200, 255))
    canvas.image[gy0:gy1, gx0:gx1] = bar
    plate = spec.trailer_plate
    role = "trailer"
    if plate is None:
        plate = PlateSpec(spec.tractor_plate.text, spec.tractor_plate.format, spec.tractor_plate.color,
                          1 if spec.tractor_plate.color == "blue" else 2)
        role = "tractor"
    _plate(canvas, plate, f.u_of(float(rng.uniform(-0.35, 0.35))), f.v(1.04), rng, role)
    return canvas


# --- sides ---------------------------------------------------------------------------------------------------------

def _side_left(spec: TruckSpec, rng: np.random.Generator) -> Canvas:
    return _side(spec, rng, "left")


def _side_right(spec: TruckSpec, rng: np.random.Generator) -> Canvas:
    return _side(spec, rng, "right")


def _side(spec: TruckSpec, rng: np.random.Generator, face: str) -> Canvas:
    length, height, ppm = spec.length_m, spec.height_m, FACE_PPM[face]
    canvas = Canvas.blank(length, height, ppm)
    f = _Frame(canvas, height, (lambda x: -x * ppm) if face == "left" else (lambda x: (length + x) * ppm))
    deck = spec.deck_m
    tractor_axles, trailer_axles = _axles(spec)
    chassis = jitter_color(rng, spec.chassis_color, 10)
    if spec.kind == "rigid_box":
        canvas.fill(f.rect(-length + 0.3, -0.4, 0.75, deck), chassis)
        box = f.rect(-length, -CAB_LENGTH_M - 0.15, deck, height - 0.02)
        x0, y0, x1, y1 = (round(v) for v in box)
        canvas.put(box, _shaded(rng, spec.box_color, x1 - x0, y1 - y0, wear=0.35))
        name = text_ink(spec.company, "DejaVuSans-Bold.ttf", 0.35 * ppm)
        if name.shape[1] < (x1 - x0) * 0.8:
            paint(canvas.image, name, (x0 + x1 - name.shape[1]) // 2, (y0 + y1) // 2 - name.shape[0],
                             jitter_color(rng, (40, 60, 160), 60))
    else:
        canvas.fill(f.rect(-6.4, -0.3, 0.72, 1.05), chassis)
        canvas.fill(f.rect(-length, -3.3, deck - 0.3, deck), chassis)
        leg = -5.3
        canvas.fill(f.rect(leg - 0.07, leg + 0.07, 0.25, deck - 0.3), (70, 70, 72))
        canvas.fill(f.rect(leg - 0.15, leg + 0.15, 0.15, 0.25), (50, 50, 52))
        if rng.random() < 0.5:
            for z in (0.5, 0.78):
                canvas.fill(f.rect(trailer_axles[-1] + 0.7, leg - 0.3, z, z + 0.06), (150, 150, 150))
        for axle in trailer_axles:
            canvas.fill(f.rect(axle - 0.62, axle + 0.62, 1.02, 1.08), (20, 20, 20))
        for cargo, x_front, x_rear in _cargo_spans(spec):
            rect = f.rect(x_rear, x_front, deck, deck + cargo.height_m)
            containers.draw_side(canvas, rect, cargo, rng, face=face, doors_at_right=face == "left")
        if spec.kind == "empty_chassis":
            for x in np.arange(-length + 0.5, -3.5, 1.5):
                canvas.fill(f.rect(x - 0.06, x + 0.06, deck, deck + 0.08), (60, 60, 60))
    tank = f.rect(-3.45, -2.45, 0.5, 1.0)
    tx0, ty0, tx1, ty1 = (round(v) for v in tank)
    ramp = np.linspace(1.25, 0.7, max(ty1 - ty0, 1), dtype=np.float32)[:, None, None]
    canvas.put(tank, tint((max(ty1 - ty0, 1), max(tx1 - tx0, 1)), (160, 160, 158)) * ramp)
    _cab_side(canvas, f, spec, rng)
    for axle in tractor_axles + trailer_axles:
        radius = 0.52 if axle in tractor_axles else 0.5
        _wheel_side(canvas, f.u_of(axle), f.v(radius), radius * ppm, rng)
    return canvas


def _cab_side(canvas: Canvas, f: _Frame, spec: TruckSpec, rng: np.random.Generator) -> None:
    ppm = canvas.ppm
    hc = spec.cab_height_m
    body = f.rect(-CAB_LENGTH_M, 0.0, 0.55, hc)
    x0, y0, x1, y1 = (round(v) for v in body)
    canvas.put(body, _shaded(rng, spec.cab_color, x1 - x0, y1 - y0))
    front_u = f.u_of(0.0)
    corner = round(0.25 * ppm)
    tip = (x0, y0) if abs(front_u - x0) < abs(front_u - x1) else (x1, y0)
    direction = 1 if tip[0] == x0 else -1
    pts = np.array([tip, (tip[0] + direction * corner, tip[1]), (tip[0], tip[1] + corner)])
    cv2.fillConvexPoly(canvas.image, pts, (0, 0, 0, 0))
    window = f.rect(-1.45, -0.32, hc - 1.25, hc - 0.42)
    wx0, wy0, wx1, wy1 = (round(v) for v in window)
    canvas.put(window, _glass(rng, wx1 - wx0, wy1 - wy0))
    door = f.rect(-1.55, -0.22, 0.62, hc - 0.35)
    dx0, dy0, dx1, dy1 = (round(v) for v in door)
    cv2.rectangle(canvas.image, (dx0, dy0), (dx1, dy1), (*(int(c * 0.55) for c in spec.cab_color), 255),
                  max(1, round(0.012 * ppm)))
    canvas.fill(f.rect(-1.45, -0.35, 0.4, 0.62), (40, 40, 42))
    canvas.fill(f.rect(-0.35, 0.0, 0.4, 0.8), (50, 50, 52))
    mirror = f.rect(-0.25, -0.05, hc - 1.4, hc - 0.8)
    canvas.fill(mirror, (25, 25, 25))
    canvas.fill(f.rect(-2.3, -1.7, hc - 0.9, hc - 0.6), darker(spec.cab_color, 0.6))


# --- roof ----------------------------------------------------------------------------------------------------------

def _top(spec: TruckSpec, rng: np.random.Generator) -> Canvas:
    width, length, ppm = TRUCK_WIDTH_M, spec.length_m, FACE_PPM["top"]
    canvas = Canvas.blank(width, length, ppm)

    def rect(y0: float, y1: float, x_front: float, x_rear: float) -> Rect:
        u0, u1 = sorted(((width / 2 - y0) * ppm, (width / 2 - y1) * ppm))
        return (u0, -x_front * ppm, u1, -x_rear * ppm)

    chassis = jitter_color(rng, spec.chassis_color, 10)
    for y in (-0.45, 0.45):
        canvas.fill(rect(y - 0.08, y + 0.08, -0.5, -min(length - 0.2, 6.4)), chassis)
    cx = round(width / 2 * ppm)
    cv2.circle(canvas.image, (cx, round(4.6 * ppm)), round(0.5 * ppm), (55, 55, 58, 255), -1, cv2.LINE_AA)
    if spec.kind == "rigid_box":
        box = rect(-1.24, 1.24, -CAB_LENGTH_M - 0.15, -length)
        x0, y0, x1, y1 = (round(v) for v in box)
        canvas.put(box, _shaded(rng, spec.box_color, x1 - x0, y1 - y0, gloss=0.0, wear=0.5) * 1.05)
    elif spec.kind == "empty_chassis":
        for y in (-0.5, 0.5):
            canvas.fill(rect(y - 0.1, y + 0.1, -3.3, -length), chassis)
        for x in np.arange(-3.6, -length, -1.2):
            canvas.fill(rect(-1.2, 1.2, x, x - 0.12), chassis)
    for cargo, x_front, x_rear in _cargo_spans(spec):
        containers.draw_roof(canvas, rect(-CONTAINER_WIDTH_M / 2, CONTAINER_WIDTH_M / 2, x_front, x_rear), cargo,
                             rng, face="top")
    roof = rect(-1.2, 1.2, -0.05, -CAB_LENGTH_M)
    x0, y0, x1, y1 = (round(v) for v in roof)
    canvas.put(roof, _shaded(rng, spec.cab_color, x1 - x0, y1 - y0, gloss=0.0) * 1.08)
    canvas.fill(rect(-0.35, 0.35, -0.9, -1.5), darker(spec.cab_color, 0.7))
    for k in range(5):
        y = -0.6 + k * 0.3
        canvas.fill(rect(y - 0.05, y + 0.05, -0.08, -0.16), (0, 140, 255))
    return canvas
