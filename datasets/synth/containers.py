"""Container faces drawn to scale: the door end (bars, handles, bolt seal, markings), the sides, roof and front.

Each function paints into a `Canvas` inside a pixel rect and records the labelled elements (container, number,
size type, door handles, seal) with their exact painted boxes.
"""

from __future__ import annotations

import cv2
import numpy as np

from datasets.synth.glyphs import boxed, hconcat, paint, stacked_ink, text_ink
from datasets.synth.identifiers import split_container_number
from datasets.synth.specs import ContainerSpec
from datasets.synth.sprites import Canvas, Rect
from datasets.synth.textures import corrugation, darker, jitter_color, tint, weathered

STEEL = (150, 150, 146)
DARK = (38, 38, 40)


def _panel(rng: np.random.Generator, spec: ContainerSpec, w: int, h: int, pitch: float, vertical: bool,
           depth: float = 0.22) -> np.ndarray:
    base = tint((h, w), spec.color)
    shade = corrugation(w, h, pitch, vertical=vertical, depth=depth)
    return weathered(rng, base * shade[..., None], spec.wear)


def _number_block(spec: ContainerSpec, cap: float, *, with_size: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """Ink of `MSKU 360516 [1]` on one line, and of the size-type code (painted under it)."""
    owner, serial, check = split_container_number(spec.number)
    tracking = 0.08 if spec.font.startswith("DejaVuSansMono") else 0.12
    parts = [text_ink(owner, spec.font, cap, tracking=tracking), text_ink(serial, spec.font, cap, tracking=tracking),
             boxed(text_ink(check, spec.font, cap))]
    gap = round(cap * 0.55)
    number = hconcat(parts, [gap, round(cap * 0.35)], align="centre")
    size = text_ink(spec.size_type, spec.font, cap, tracking=tracking) if with_size else None
    return number, size


def _marking(canvas: Canvas, spec: ContainerSpec, face: str, x: float, y: float, cap: float, *,
             anchor_right: bool, with_size: bool = True) -> None:
    """Paint the horizontal number (and size type below) with its top corner at (x, y) and label both."""
    number, size = _number_block(spec, cap, with_size=with_size)
    left = round(x - number.shape[1]) if anchor_right else round(x)
    box = paint(canvas.image, number, left, round(y), spec.marking_color)
    canvas.add("container_number", f"{face}:number:{spec.position}", box, spec.number, vertical=False, face=face)
    if size is not None:
        size_left = round(x - size.shape[1]) if anchor_right else left + round(number.shape[1] * 0.38)
        box = paint(canvas.image, size, size_left, round(y + number.shape[0] + cap * 0.45), spec.marking_color)
        canvas.add("size_type", f"{face}:size:{spec.position}", box, spec.size_type, vertical=False, face=face)


def _vertical_marking(canvas: Canvas, spec: ContainerSpec, face: str, x: float, y: float, cap: float,
                      toward_left: bool) -> None:
    """The number one character under another, and the size type in its own column beside it."""
    owner, serial, check = split_container_number(spec.number)
    column = stacked_ink(owner + serial, spec.font, cap)
    digit = boxed(text_ink(check, spec.font, cap))
    step = round(cap * 0.4)
    height = column.shape[0] + step + digit.shape[0]
    width = max(column.shape[1], digit.shape[1])
    ink = np.zeros((height, width), np.uint8)
    ink[:column.shape[0], (width - column.shape[1]) // 2:(width - column.shape[1]) // 2 + column.shape[1]] = column
    ink[height - digit.shape[0]:, (width - digit.shape[1]) // 2:(width - digit.shape[1]) // 2 + digit.shape[1]] = digit
    sizes = stacked_ink(spec.size_type, spec.font, cap)
    gap = round(cap * 2.2)
    size_x = x - gap - sizes.shape[1] if toward_left else x + width + gap
    box = paint(canvas.image, ink, round(x), round(y), spec.marking_color)
    canvas.add("container_number", f"{face}:number:{spec.position}", box, spec.number, vertical=True, face=face)
    box = paint(canvas.image, sizes, round(size_x), round(y), spec.marking_color)
    canvas.add("size_type", f"{face}:size:{spec.position}", box, spec.size_type, vertical=True, face=face)


def draw_side(canvas: Canvas, rect: Rect, spec: ContainerSpec, rng: np.random.Generator, *, face: str,
              doors_at_right: bool) -> None:
    """A long side: vertical corrugation, rails, corner posts and castings, the number near the door end."""
    x0, y0, x1, y1 = (round(v) for v in rect)
    w, h = x1 - x0, y1 - y0
    ppm = canvas.ppm
    canvas.put((x0, y0, x1, y1), _panel(rng, spec, w, h, pitch=0.278 * ppm, vertical=True))
    frame = darker(spec.color, 0.72)
    rail, post = max(2, round(0.09 * ppm)), max(2, round(0.11 * ppm))
    canvas.fill((x0, y0, x1, y0 + rail), frame)
    canvas.fill((x0, y1 - rail * 1.4, x1, y1), frame)
    for px0 in (x0, x1 - post):
        canvas.fill((px0, y0, px0 + post, y1), frame)
        for py0 in (y0, y1 - round(0.118 * ppm)):
            _casting(canvas, px0, py0, post)
    if spec.brand and rng.random() < 0.8:
        cap = 0.42 * ppm * float(rng.uniform(0.8, 1.2))
        brand = text_ink(spec.brand, "DejaVuSans-Bold.ttf", cap, tracking=0.1)
        if brand.shape[1] < w * 0.6:
            paint(canvas.image, brand, x0 + (w - brand.shape[1]) // 2, y0 + round(h * 0.3), spec.marking_color, 0.9)
    cap = float(rng.uniform(0.1, 0.14)) * ppm
    inset = float(rng.uniform(0.35, 0.7)) * ppm
    top = y0 + float(rng.uniform(0.22, 0.4)) * ppm
    if spec.vertical:
        x = x1 - inset - cap if doors_at_right else x0 + inset
        _vertical_marking(canvas, spec, face, x, top, cap, toward_left=doors_at_right)
    else:
        x = x1 - inset if doors_at_right else x0 + inset
        _marking(canvas, spec, face, x, top, cap, anchor_right=doors_at_right)
    canvas.add("container", f"container:{spec.position}", (x0, y0, x1, y1), spec.number)


def _casting(canvas: Canvas, x: float, y: float, size: int) -> None:
    canvas.fill((x, y, x + size, y + round(size * 1.05)), (60, 62, 66))
    cx, cy = round(x + size / 2), round(y + size * 0.52)
    cv2.ellipse(canvas.image, (cx, cy), (max(1, size // 4), max(1, size // 6)), 0, 0, 360, (15, 15, 15, 255), -1)


def draw_roof(canvas: Canvas, rect: Rect, spec: ContainerSpec, rng: np.random.Generator, *, face: str) -> None:
    """The roof seen from above (front of the truck at the top): transverse corrugation, number at the door end."""
    x0, y0, x1, y1 = (round(v) for v in rect)
    w, h = x1 - x0, y1 - y0
    ppm = canvas.ppm
    panel = _panel(rng, spec, w, h, pitch=0.32 * ppm, vertical=False, depth=0.1) * 1.08
    canvas.put((x0, y0, x1, y1), panel)
    post = max(2, round(0.11 * ppm))
    frame = darker(spec.color, 0.8)
    canvas.fill((x0, y0, x0 + post // 2, y1), frame)
    canvas.fill((x1 - post // 2, y0, x1, y1), frame)
    for cx in (x0, x1 - post):
        for cy in (y0, y1 - post):
            _casting(canvas, cx, cy, post)
    if spec.roof_marking:
        cap = float(rng.uniform(0.08, 0.11)) * ppm
        number, _ = _number_block(spec, cap, with_size=False)
        if number.shape[1] < w - 2 * post:
            left = x0 + (w - number.shape[1]) // 2 + int(rng.integers(-post, post + 1))
            box = paint(canvas.image, number, left, round(y1 - 0.3 * ppm - number.shape[0]), spec.marking_color)
            canvas.add("container_number", f"{face}:number:{spec.position}", box, spec.number,
                       vertical=False, face=face)
    canvas.add("container", f"container:{spec.position}", (x0, y0, x1, y1), spec.number)


def draw_front_end(canvas: Canvas, rect: Rect, spec: ContainerSpec, rng: np.random.Generator) -> None:
    """The blind front end (towards the cab): corrugated panel in its frame."""
    x0, y0, x1, y1 = (round(v) for v in rect)
    canvas.put((x0, y0, x1, y1), _panel(rng, spec, x1 - x0, y1 - y0, pitch=0.25 * canvas.ppm, vertical=True))
    post = max(2, round(0.11 * canvas.ppm))
    frame = darker(spec.color, 0.7)
    canvas.fill((x0, y0, x1, y0 + post), frame)
    for px0 in (x0, x1 - post):
        canvas.fill((px0, y0, px0 + post, y1), frame)
        _casting(canvas, px0, y0, post)


def draw_door_end(canvas: Canvas, rect: Rect, spec: ContainerSpec, rng: np.random.Generator) -> None:
    """The rear doors: two leaves, four locking bars with handles, the bolt seal on the right door, markings."""
    x0, y0, x1, y1 = (round(v) for v in rect)
    h = y1 - y0
    ppm = canvas.ppm
    frame = darker(spec.color, 0.62)
    canvas.fill((x0, y0, x1, y1), frame)
    post, header = max(2, round(0.12 * ppm)), max(2, round(0.16 * ppm))
    sill = max(2, round(0.12 * ppm))
    door_l, door_r = x0 + post, x1 - post
    mid = (door_l + door_r) // 2
    for dx0, dx1 in ((door_l, mid - 1), (mid + 1, door_r)):
        panel = _panel(rng, spec, dx1 - dx0, y1 - sill - y0 - header, pitch=0.3 * ppm, vertical=False, depth=0.14)
        canvas.put((dx0, y0 + header, dx1, y1 - sill), panel)
    for px0 in (x0, x1 - post):
        _casting(canvas, px0, y0, post)
        _casting(canvas, px0, y1 - round(post * 1.05), post)
    if spec.brand and rng.random() < 0.6:
        cap = 0.1 * ppm
        brand = text_ink(spec.brand, "DejaVuSans-Bold.ttf", cap)
        if brand.shape[1] < (mid - door_l) * 0.8:
            by = y0 + round(h * 0.3)
            bx = door_l + (mid - door_l - brand.shape[1]) // 2
            canvas.fill((bx - cap * 0.4, by - cap * 0.5, bx + brand.shape[1] + cap * 0.4, by + cap * 1.5),
                        jitter_color(rng, (235, 235, 235), 20))
            paint(canvas.image, brand, bx, by, (120, 60, 20))
    bar_w = max(2, round(0.034 * ppm))
    leaf = mid - door_l
    bars = [door_l + round(leaf * f) for f in (0.24, 0.74)] + [mid + round(leaf * f) for f in (0.26, 0.76)]
    handle_y = y0 + round(h * float(rng.uniform(0.58, 0.66)))
    sealed_bar = 2  # the right door's inner bar
    for i, bx in enumerate(bars):
        cv2.rectangle(canvas.image, (bx - bar_w // 2, y0 + header // 3), (bx + bar_w // 2, y1 - sill // 3),
                      (*STEEL, 255), -1)
        cv2.line(canvas.image, (bx + bar_w // 2, y0 + header), (bx + bar_w // 2, y1 - sill), (95, 95, 95, 255), 1)
        for gy in (y0 + round(h * 0.2), y0 + round(h * 0.85)):
            canvas.fill((bx - bar_w, gy, bx + bar_w, gy + bar_w), (110, 110, 108))
        sealed = spec.seal_present and i == sealed_bar
        _handle(canvas, spec, rng, bx, handle_y + (i % 2) * round(0.06 * ppm), bar_w, sealed, i)
    cap = float(rng.uniform(0.085, 0.11)) * ppm
    _marking(canvas, spec, "rear", door_r - round(0.14 * ppm), y0 + header + round(0.14 * ppm), cap,
             anchor_right=True)
    small = 0.032 * ppm
    lines = ["MAX.GROSS  30.480 KGS", "TARE  2.210 KGS", "NET  28.270 KGS", "CU.CAP.  33.2 CU.M."]
    yy = y0 + round(h * 0.42)
    for line in lines:
        ink = text_ink(line, "DejaVuSansCondensed.ttf", small)
        if ink.shape[1] < door_r - mid - 0.3 * ppm:
            paint(canvas.image, ink, mid + round(0.12 * ppm), yy, spec.marking_color, 0.85)
        yy += round(small * 2.6)
    canvas.add("container", f"container:{spec.position}", (x0, y0, x1, y1), spec.number)


def _handle(canvas: Canvas, spec: ContainerSpec, rng: np.random.Generator, bar_x: int, y: int, bar_w: int,
            sealed: bool, index: int) -> None:
    """A locking handle: hub on the bar, lever towards the door gap, retainer catch; the seal through the catch."""
    ppm = canvas.ppm
    lever = round(0.17 * ppm)
    thick = max(2, round(0.03 * ppm))
    direction = 1 if index in (0, 2) else -1
    end = bar_x + direction * lever
    hub = (bar_x - bar_w, y - thick, bar_x + bar_w, y + thick * 2)
    canvas.fill(hub, (120, 120, 118))
    cv2.line(canvas.image, (bar_x, y), (end, y + thick // 2), (*STEEL, 255), thick)
    catch = (min(end, end + direction * thick * 2) - thick, y - thick * 2, max(end, end + direction * thick * 2) +
             thick, y + thick * 2)
    canvas.fill(catch, (88, 90, 92))
    x_lo, x_hi = sorted((hub[0], catch[0]))[0], max(hub[2], catch[2])
    box = (x_lo, min(hub[1], catch[1]), x_hi, max(hub[3], catch[3]))
    canvas.add("door_handle", f"handle:{spec.position}:{index}", box, None, sealed=sealed)
    if not sealed:
        return
    body_w, body_h = max(2, round(0.03 * ppm)), max(3, round(0.075 * ppm))
    cx = (catch[0] + catch[2]) // 2
    head = (cx - body_w // 2, catch[1] - round(0.02 * ppm), cx + body_w // 2 + 1, catch[1] + 1)
    canvas.fill(head, (180, 180, 176))
    body = (cx - body_w // 2 - 1, catch[3], cx + body_w // 2 + 2, catch[3] + body_h)
    canvas.fill(body, spec.seal_color)
    cv2.line(canvas.image, (body[0] + 1, body[1] + 1), (body[0] + 1, body[3] - 2),
             (*jitter_color(rng, (250, 250, 250), 5), 255), 1)
    seal_box = (head[0] - 1, head[1], body[2], body[3])
    canvas.add("seal", f"seal:{spec.position}", seal_box, spec.seal_number)
