"""Synthetic footage rendering rate: camera frames per second for one passage (four cameras, 960x540).

The target is an hour of one lane (4 fps, 4 cameras, ~150 trucks) in a few minutes on two cores; a passage of about
12 s is ~190 frames, of which the sprites are drawn once and every frame is warped, blended, touched by its
conditions and JPEG-encoded. `test_generate_half_a_minute` measures the whole loop including writing the files.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from datasets.synth.generator import _Lane, _settings, generate, render_passage
from datasets.synth.scenario import plan

CAMERAS = ("front", "rear", "side_left", "top")


def _lane(conditions_share: float) -> _Lane:
    passages = plan(duration_s=600, trucks_per_hour=150, seed=1, lane_id="in-1", direction="in", mismatch_share=0.2,
                    conditions_share=conditions_share, start_utc=0)
    lane = _Lane.build(_settings("in-1", "in", 600, 4, 150, 1, CAMERAS, (960, 540), 0.2, "frames",
                                 conditions_share, 0), passages)
    for cam in range(len(CAMERAS)):  # backgrounds are built once per recording, not per passage
        lane.background(cam, (False, False))
    return lane


@pytest.mark.parametrize("conditions_share", [0.0, 1.0])
@pytest.mark.benchmark(group="synth-render")
def test_render_one_passage(benchmark, conditions_share: float) -> None:
    lane = _lane(conditions_share)
    passage = next(p for p in lane.passages if p.spec.containers and (p.spec.conditions or not conditions_share))
    for ambient in ((True, False), (False, True), (True, True)):
        for cam in range(len(CAMERAS)):
            lane.background(cam, ambient)
    started = time.perf_counter()
    frames = benchmark.pedantic(render_passage, args=(lane, passage), rounds=3, iterations=1)
    count = sum(len(views) for _, views in frames)
    benchmark.extra_info["camera_frames"] = count
    benchmark.extra_info["frames_per_s"] = round(count / ((time.perf_counter() - started) / 3), 1)
    assert count > 100


@pytest.mark.benchmark(group="synth-generate")
def test_generate_half_a_minute(benchmark, tmp_path: Path) -> None:
    runs = iter(range(100))

    def run() -> None:
        generate(tmp_path / f"r{next(runs)}", duration_s=30.0, trucks_per_hour=150, seed=3, workers=2)

    started = time.perf_counter()
    benchmark.pedantic(run, rounds=1, iterations=1)
    seconds = time.perf_counter() - started
    benchmark.extra_info["camera_frames"] = 120 * 4
    benchmark.extra_info["frames_per_s"] = round(120 * 4 / seconds, 1)
