"""Variants of the lane pipeline on the benchmark recording, interleaved, so that a change is measured as a ratio.

`python -m benchmarks.lane_side_by_side --rounds 2` runs each variant once per round, in turn, in one process
with the models loaded once: the VM's speed drifts within minutes, and only runs side by side compare. Variants:

* `shipped`: the pipeline as it ships;
* `eager`: every frame decoded whole as it arrives (as sources did before 2026-11-25), else shipped;
* `steady`: no slower pace for settled cameras (`settled_detect_hz` 0), else shipped;
* `eager-steady`: both, the pipeline of the morning of 2026-11-25.

Prints one line per run (wall seconds, detector runs, skipped and reused frames, reads, accuracy) and the best wall
time of each variant, with its ratio to the first variant named.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

from benchmarks.lane_recording import lane_recording
from bus.messages import VehiclePassage
from datasets.recording import Recording
from datasets.sources import Frame
from vision.pipeline import LanePipeline, PipelineConfig
from vision.reader import ImageReader
from vision.replay import replay

VARIANTS = ("eager-steady", "eager", "steady", "shipped")


class EagerPipeline(LanePipeline):
    """The pipeline handed every frame decoded, whether it looks at the pixels or not."""

    def process(self, frame: Frame) -> list[VehiclePassage]:
        _ = frame.image
        return super().process(frame)


def config(variant: str) -> PipelineConfig:
    shipped = PipelineConfig()
    if "steady" in variant:
        return replace(shipped, gate=replace(shipped.gate, settled_detect_hz=0.0))
    return shipped


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    args = parser.parse_args(argv)
    recording = lane_recording()
    meta = Recording.open(recording).meta
    views = {camera: cam.view for camera, cam in meta.cameras.items()}
    reader = ImageReader.load(threads=2)
    walls: dict[str, list[float]] = {variant: [] for variant in args.variants}
    for round_ in range(args.rounds):
        for variant in args.variants:
            kind = EagerPipeline if variant.startswith("eager") else LanePipeline
            pipeline = kind(meta.lane_id, meta.direction, reader, views=views, config=config(variant))
            started = time.perf_counter()
            report = replay(recording, pipeline=pipeline)
            walls[variant].append(time.perf_counter() - started)
            c = pipeline.counters
            print(f"round {round_} {variant:>12}: {walls[variant][-1]:6.2f} s, detector {c['detected']}, skipped "
                  f"{c['skipped']}, reused {c['reused']}, reads {c['reads']}; plates {report.plate_accuracy:.2f}, "
                  f"numbers {report.container_accuracy:.2f}, seals {report.seal_accuracy:.2f}, "
                  f"{report.passages_emitted} passages for {report.passages_truth}", flush=True)
    first = min(walls[args.variants[0]])
    for variant, times in walls.items():
        print(f"{variant:>12}: best {min(times):6.2f} s ({min(times) / first:.3f} of {args.variants[0]})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
