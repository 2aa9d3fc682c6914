"""What happens in the lane: Poisson arrivals, each truck's motion, its plates and cargo, and its declaration.

Trucks arrive as a Poisson process and pass one at a time (a truck waits until the one before has left the
cameras). A share of the passages carries a labelled mismatch between what the truck shows and what was declared:
`wrong_container`, `missing_seal` (declared, but no seal on the door), `wrong_seal_number` or `unknown_truck` (no
declaration at all).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from typing import Literal

import msgspec
import numpy as np

from datasets.recording import (
    ContainerTruth,
    Declaration,
    DeclaredContainer,
    Mismatch,
    PassageTruth,
    PlateTruth,
    SealTruth,
)
from datasets.synth.conditions import sample_conditions
from datasets.synth.fonts import MARKING_FONTS
from datasets.synth.identifiers import (
    random_cn_plate,
    random_container_number,
    random_seal_number,
    random_size_type,
    random_vn_plate,
    size_type_length_ft,
)
from datasets.synth.plates import PlateColor, PlateSpec
from datasets.synth.specs import ContainerPosition, ContainerSpec, TruckKind, TruckSpec
from datasets.synth.textures import Color, jitter_color

#: The truck's front bumper when a passage starts (just behind the rear camera) and its rear when it ends.
X_START_M = -26.0
X_END_REAR_M = 6.0
MISMATCHES: tuple[Mismatch, ...] = ("wrong_container", "missing_seal", "unknown_truck", "wrong_seal_number")

_KINDS: tuple[TruckKind, ...] = ("container_40", "container_2x20", "container_20", "empty_chassis", "rigid_box")
_KIND_WEIGHTS = (0.46, 0.2, 0.13, 0.1, 0.11)
_CONTAINER_COLORS: tuple[Color, ...] = (
    (40, 40, 150), (35, 45, 120), (150, 100, 30), (170, 120, 40), (40, 105, 40), (90, 90, 90), (200, 200, 200),
    (30, 95, 185), (120, 50, 125), (25, 60, 110), (60, 150, 200), (195, 130, 30), (140, 140, 135), (230, 230, 225),
)
_CAB_COLORS: tuple[Color, ...] = (
    (235, 235, 235), (40, 40, 180), (170, 80, 20), (30, 170, 230), (40, 120, 40), (200, 200, 200), (30, 30, 30),
    (20, 100, 220), (150, 150, 150), (60, 60, 140), (210, 210, 190),
)
_SEAL_COLORS: tuple[Color, ...] = ((20, 200, 240), (40, 40, 220), (200, 120, 30), (40, 160, 40), (235, 235, 235),
                                   (20, 120, 240))
_BRANDS = ("ORIENTLINK", "MEKONG LINE", "SILKWAY", "TRANSASIA", "PACIFICA", "NAM VIET", "BLUE HARBOUR", "KINGSEA",
           "RED RIVER", "GOLDEN GATE", "SEAWAYS", "LOTUS")
_COMPANIES = ("VIET TRANS", "LANG SON LOGISTICS", "HUU NGHI EXPRESS", "NAM NING CARGO", "DONG DANG", "TAN CANG",
              "KY LUA TRADING", "BAC SON FREIGHT")
_VN_DRIVERS = ("Nguyễn Văn An", "Trần Minh Đức", "Lê Quang Huy", "Hoàng Văn Nam", "Phạm Thị Lan", "Vũ Đình Khoa",
               "Đặng Văn Tùng", "Bùi Quốc Bảo")
_CN_DRIVERS = ("李伟", "王强", "张军", "刘洋", "陈杰", "黄海", "周涛", "吴斌")
#: A plate or number as the truth names it, (class, role, text): plates by their role (a box truck's rear plate
#: repeats the tractor's), container numbers by the number alone (the role is empty).
TextId = tuple[str, str, str]


@dataclass(frozen=True)
class Motion:
    """Front-bumper position over passage time, sampled every `dt` seconds."""

    times: np.ndarray
    x_front: np.ndarray

    @property
    def duration_s(self) -> float:
        return float(self.times[-1])

    def at(self, t: float) -> float:
        return float(np.interp(t, self.times, self.x_front))


@dataclass(frozen=True)
class PlannedPassage:
    index: int
    spec: TruckSpec
    motion: Motion
    truth: PassageTruth
    declaration: Declaration | None

    @property
    def t_enter(self) -> float:
        return self.truth.t_enter

    @property
    def t_exit(self) -> float:
        return self.truth.t_exit


def plan(*, duration_s: float, trucks_per_hour: float, seed: int, lane_id: str, direction: Literal["in", "out"],
         mismatch_share: float, conditions_share: float, start_utc: float) -> list[PlannedPassage]:
    """All passages that fit in the recording, with their truth and declarations (no text marked hidden yet: what
    the cameras show decides that, `with_hidden`)."""
    rng = np.random.default_rng([seed, 7])
    drafts: list[tuple[float, TruckSpec, Motion]] = []
    t_free = 0.0
    mean_gap = 3600.0 / trucks_per_hour if trucks_per_hour > 0 else float("inf")
    t_arrival = float(rng.uniform(0.5, 3.0))  # recordings start as the first truck approaches
    while True:
        t_arrival += float(rng.exponential(mean_gap)) if drafts else 0.0
        start = max(t_arrival, t_free)
        spec = _truck(rng, direction, conditions_share)
        motion = _motion(rng, spec.length_m)
        if start + motion.duration_s > duration_s:
            break
        drafts.append((start, spec, motion))
        t_free = start + motion.duration_s + float(rng.uniform(0.5, 2.5))
    kinds = _assign_mismatches(rng, [d[1] for d in drafts], mismatch_share)
    passages = []
    for index, ((start, spec, motion), mismatch) in enumerate(zip(drafts, kinds, strict=True)):
        final, declared = _apply_mismatch(rng, spec, mismatch)
        passage_id = f"{lane_id}-{seed}-{index:05d}"
        declaration = None if mismatch == "unknown_truck" else _declaration(
            rng, final, declared, passage_id, start, start_utc, direction)
        truth = _passage_truth(final, passage_id, lane_id, direction, start, start + motion.duration_s,
                               declaration, mismatch)
        passages.append(PlannedPassage(index, final, motion, truth, declaration))
    return passages


def with_hidden(truth: PassageTruth, shown: Collection[TextId]) -> PassageTruth:
    """The truth with each plate and number marked hidden that no camera shows whole and uncovered (`shown`: the
    texts some frame does show so). Occlusion may cover every copy in view while a copy on a face no camera faces
    stays clean, so what the frames show decides, not what was painted. Only `occlusion` covers text: other passages
    come back as they are, whatever their framing."""
    if "occlusion" not in truth.conditions:
        return truth

    def plate(p: PlateTruth, role: str) -> PlateTruth:
        return msgspec.structs.replace(p, hidden=("plate", role, p.text) not in shown)

    containers = [msgspec.structs.replace(c, number_hidden=("container_number", "", c.number) not in shown)
                  for c in truth.containers]
    trailer = plate(truth.trailer_plate, "trailer") if truth.trailer_plate else None
    return msgspec.structs.replace(truth, tractor_plate=plate(truth.tractor_plate, "tractor"), trailer_plate=trailer,
                                   containers=containers)


# --- trucks --------------------------------------------------------------------------------------------------------

def _truck(rng: np.random.Generator, direction: str, conditions_share: float) -> TruckSpec:
    kind = _KINDS[int(rng.choice(len(_KINDS), p=_KIND_WEIGHTS))]
    chinese = rng.random() < 0.45
    if kind == "rigid_box":
        blue = chinese and rng.random() < 0.5
        color: PlateColor = "blue" if blue else ("yellow" if chinese or rng.random() < 0.6 else "white")
        tractor = PlateSpec(_plate_text(rng, chinese, False), "cn" if chinese else "vn", color, 1)
        trailer = None
    else:
        tractor = PlateSpec(_plate_text(rng, chinese, False), "cn" if chinese else "vn",
                            "yellow" if chinese or rng.random() < 0.85 else "white", 1)
        trailer_cn = chinese if rng.random() < 0.9 else not chinese
        trailer = PlateSpec(_plate_text(rng, trailer_cn, True), "cn" if trailer_cn else "vn",
                            "yellow" if trailer_cn or rng.random() < 0.8 else "white", 2)
    empty_share = 0.15 if direction == "in" else 0.5
    boxes: tuple[ContainerSpec, ...] = ()
    if kind == "container_40":
        code = random_size_type(rng, 45 if rng.random() < 0.04 else 40)
        boxes = (_container(rng, code, "single", empty_share),)
    elif kind == "container_20":
        boxes = (_container(rng, random_size_type(rng, 20), "single", empty_share),)
    elif kind == "container_2x20":
        boxes = tuple(_container(rng, random_size_type(rng, 20), pos, empty_share) for pos in ("front", "rear"))
    conditions = sample_conditions(rng, conditions_share)
    if "perspective" in conditions:
        lateral = float(rng.uniform(0.3, 0.7)) * float(rng.choice([-1.0, 1.0]))
        yaw = np.radians(float(rng.uniform(3.0, 7.0))) * float(rng.choice([-1.0, 1.0]))
    else:
        lateral, yaw = float(rng.normal(0, 0.12)), float(np.radians(rng.normal(0, 0.6)))
    return TruckSpec(
        kind=kind, tractor_plate=tractor, trailer_plate=trailer, containers=boxes,
        cab_color=jitter_color(rng, _CAB_COLORS[int(rng.integers(len(_CAB_COLORS)))], 18),
        cab_height_m=float(rng.uniform(3.0, 3.9)),
        chassis_color=jitter_color(rng, ((35, 35, 38), (30, 30, 110), (90, 60, 30))[int(rng.integers(3))], 8),
        box_color=jitter_color(rng, (225, 225, 222), 20), company=_COMPANIES[int(rng.integers(len(_COMPANIES)))],
        conditions=conditions, seed=int(rng.integers(0, 2**31)), lateral_m=lateral, yaw_rad=float(yaw),
    )


def _plate_text(rng: np.random.Generator, chinese: bool, trailer: bool) -> str:
    return random_cn_plate(rng, trailer=trailer) if chinese else random_vn_plate(rng, trailer=trailer)


def _container(rng: np.random.Generator, size_type: str, position: ContainerPosition,
               empty_share: float) -> ContainerSpec:
    color = jitter_color(rng, _CONTAINER_COLORS[int(rng.integers(len(_CONTAINER_COLORS)))], 16)
    light = sum(color) / 3 > 150
    loaded = rng.random() >= empty_share
    length = size_type_length_ft(size_type)
    return ContainerSpec(
        number=random_container_number(rng), size_type=size_type,
        length_ft=20 if length == 20 else (45 if length == 45 else 40), position=position,
        vertical=rng.random() < 0.3, seal_present=loaded, seal_number=random_seal_number(rng) if loaded else None,
        color=color, marking_color=(25, 25, 25) if light else jitter_color(rng, (240, 240, 240), 10),
        font=MARKING_FONTS[int(rng.integers(len(MARKING_FONTS)))],
        brand=_BRANDS[int(rng.integers(len(_BRANDS)))] if rng.random() < 0.6 else None,
        wear=float(rng.beta(1.5, 2.5)), roof_marking=rng.random() < 0.6,
        seal_color=_SEAL_COLORS[int(rng.integers(len(_SEAL_COLORS)))],
    )


def _motion(rng: np.random.Generator, length_m: float) -> Motion:
    """Approach, brake to a stop at the barrier (or roll slowly through), then pull away."""
    dt = 0.05
    v = float(rng.uniform(3.5, 6.5))
    stops = rng.random() < 0.55
    v_slow = 0.0 if stops else float(rng.uniform(1.5, 3.0))
    brake = float(rng.uniform(0.9, 1.6))
    accel = float(rng.uniform(1.0, 1.6))
    v_max = float(rng.uniform(4.0, 7.0))
    stop_x = float(rng.uniform(-1.2, 0.2))
    dwell = float(rng.uniform(0.5, 2.5)) if stops else 0.0
    x, t, waited = X_START_M, 0.0, 0.0
    times, xs = [0.0], [x]
    phase = "approach"
    while x - length_m < X_END_REAR_M:
        if phase == "approach" and (v * v - v_slow * v_slow) / (2 * brake) >= stop_x - x:
            phase = "brake"
        if phase == "brake":
            v = max(v_slow, v - brake * dt)
            if v <= v_slow + 1e-9:
                phase = "dwell" if stops else "leave"
        elif phase == "dwell":
            waited += dt
            if waited >= dwell:
                phase = "leave"
        elif phase == "leave":
            v = min(v_max, v + accel * dt)
        x += v * dt
        t += dt
        times.append(t)
        xs.append(x)
    return Motion(np.round(np.asarray(times), 6), np.asarray(xs))


# --- declarations and mismatches ----------------------------------------------------------------------------------

def _assign_mismatches(rng: np.random.Generator, specs: list[TruckSpec], share: float) -> list[Mismatch]:
    """Exactly round(share * n) passages get a mismatch, each of a kind that applies to that truck."""
    kinds: list[Mismatch] = ["none"] * len(specs)
    count = min(len(specs), round(max(0.0, min(1.0, share)) * len(specs)))
    for index in sorted(int(i) for i in rng.choice(len(specs), size=count, replace=False)):
        options: list[Mismatch] = list(MISMATCHES) if specs[index].containers else ["unknown_truck"]
        kinds[index] = options[int(rng.integers(len(options)))]
    return kinds


def _apply_mismatch(rng: np.random.Generator, spec: TruckSpec,
                    mismatch: Mismatch) -> tuple[TruckSpec, list[DeclaredContainer]]:
    """The truck as it really is and the containers as declared."""
    boxes = list(spec.containers)
    declared = [DeclaredContainer(number=b.number, seal_number=b.seal_number) for b in boxes]
    if not boxes or mismatch in ("none", "unknown_truck"):
        return spec, declared
    i = int(rng.integers(len(boxes)))
    box = boxes[i]
    if mismatch == "wrong_container":
        declared[i] = DeclaredContainer(number=_other_number(rng, box.number), seal_number=box.seal_number)
    elif mismatch == "missing_seal":
        declared[i] = DeclaredContainer(number=box.number, seal_number=box.seal_number or random_seal_number(rng))
        boxes[i] = replace(box, seal_present=False, seal_number=None)
    elif mismatch == "wrong_seal_number":
        if not box.seal_present:
            box = boxes[i] = replace(box, seal_present=True, seal_number=random_seal_number(rng))
        wrong = random_seal_number(rng)
        while wrong == box.seal_number:
            wrong = random_seal_number(rng)
        declared[i] = DeclaredContainer(number=box.number, seal_number=wrong)
    return replace(spec, containers=tuple(boxes)), declared


def _other_number(rng: np.random.Generator, number: str) -> str:
    other = random_container_number(rng)
    while other == number:
        other = random_container_number(rng)
    return other


def _declaration(rng: np.random.Generator, spec: TruckSpec, containers: list[DeclaredContainer], passage_id: str,
                 start: float, start_utc: float, direction: str) -> Declaration:
    arrival = start_utc + start
    chinese = spec.tractor_plate.format == "cn"
    drivers = _CN_DRIVERS if chinese else _VN_DRIVERS
    export = direction == "in"
    return Declaration(
        declaration_id=f"DEC-{passage_id}",
        customs_declaration_no=("30" if export else "10") + "".join(str(int(d)) for d in rng.integers(0, 10, 10)),
        tractor_plate=spec.tractor_plate.text,
        trailer_plate=spec.trailer_plate.text if spec.trailer_plate else None,
        driver=drivers[int(rng.integers(len(drivers)))],
        containers=containers,
        channel=("green", "yellow", "red")[int(rng.choice(3, p=[0.7, 0.2, 0.1]))],
        valid_from_utc=round(arrival - float(rng.uniform(3600, 8 * 3600)), 3),
        valid_until_utc=round(arrival + float(rng.uniform(4 * 3600, 24 * 3600)), 3),
        direction="export" if export else "import",
    )


def _plate_truth(plate: PlateSpec) -> PlateTruth:
    return PlateTruth(text=plate.text, format=plate.format, color=plate.color, lines=plate.lines)


def _passage_truth(spec: TruckSpec, passage_id: str, lane_id: str, direction: Literal["in", "out"], start: float,
                   end: float, declaration: Declaration | None, mismatch: Mismatch) -> PassageTruth:
    containers = [
        ContainerTruth(number=b.number, size_type=b.size_type, length_ft=b.length_ft, position=b.position,
                       vertical=b.vertical, seal=SealTruth(present=b.seal_present, number=b.seal_number))
        for b in spec.containers
    ]
    return PassageTruth(
        passage_id=passage_id, lane_id=lane_id, direction=direction, t_enter=round(start, 3), t_exit=round(end, 3),
        tractor_plate=_plate_truth(spec.tractor_plate),
        trailer_plate=_plate_truth(spec.trailer_plate) if spec.trailer_plate else None,
        containers=containers, conditions=list(spec.conditions),
        declaration_id=declaration.declaration_id if declaration else None, mismatch=mismatch,
    )
