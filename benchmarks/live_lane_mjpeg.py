"""A live lane on HTTP MJPEG cameras, its CPU with frames handed over encoded against FFmpeg decoding every frame.

`python -m benchmarks.live_lane_mjpeg --recording R --seconds 75 --rounds 2` serves each camera of recording R
(its first `seconds` of JPEG frames, at the recording's rate) from a real HTTP MJPEG camera on loopback, and runs
the lane reader's parts on them as `smartgate lane` does: the camera player into the newest-frame mailbox, and
`LaneVision` with the site's pipeline. Each round runs `encoded` (as shipped) and `ffmpeg` (the capture decodes
every frame, as the stream source did before 2026-11-25) for `seconds` of wall time each, in turn. Prints the CPU
time of the process per wall second (cameras included, the same in both), frames taken and dropped, detector runs
and the passages' plates.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from bus.messages import VehiclePassage
from datasets import stream
from datasets.recording import Recording
from smartgate.services.lane_reader import CameraCounts, CameraPlayer
from smartgate.services.lane_vision import LaneVision, LatestFrames, load_pipeline
from smartgate.site import Site
from tests.mjpeg_camera import MjpegCamera
from tests.smartgate.test_site import one_lane_site

MODES = ("encoded", "ffmpeg")
MJPEG = stream._MJPEG


def cameras(recording: Path, seconds: float) -> dict[str, MjpegCamera]:
    """One started camera per recorded camera, sending its first `seconds` of frames in a loop."""
    meta = Recording.open(recording).meta
    out = {}
    for name in meta.cameras:
        frames = [path.read_bytes() for path in sorted((recording / "cameras" / name).glob("*.jpg"))]
        frames = frames[:max(1, round(seconds * meta.fps))]
        camera = MjpegCamera(fps=meta.fps, picture=looped(frames))
        camera.start()
        out[name] = camera
    return out


def looped(frames: list[bytes]) -> Callable[[int], bytes]:
    """Frame n (from 1) of a camera that plays `frames` over and over."""
    return lambda n: frames[(n - 1) % len(frames)]


def site_for(cams: dict[str, MjpegCamera], views: dict[str, str], folder: Path) -> Site:
    """The bundled site with one lane, `in-1`, of these cameras as `mjpeg` sources."""
    cameras = [{"id": f"in-1-{name}", "view": views[name], "source": {"kind": "mjpeg", "url": cam.url}}
               for name, cam in cams.items()]
    return one_lane_site(folder, cameras)


def run_lane(site: Site, mode: str, seconds: float) -> dict[str, object]:
    stream._MJPEG = MJPEG if mode == "encoded" else -1
    lane = site.lane("in-1")
    pipeline = load_pipeline(site, lane)
    passages: list[VehiclePassage] = []
    vision = LaneVision(pipeline, passages.append)
    counts = {camera.id: CameraCounts() for camera in lane.cameras}
    mailbox = LatestFrames(list(counts))
    player = CameraPlayer(lane, mailbox, counts)
    thread = threading.Thread(target=player.run, daemon=True)
    thread.start()
    cpu, began = time.process_time(), time.monotonic()
    while time.monotonic() - began < seconds:
        if (arrival := mailbox.take(0.1)) is not None:
            vision.read(arrival)
    cpu, wall = time.process_time() - cpu, time.monotonic() - began
    player.halt.set()
    thread.join(10)
    vision.finish()
    return {"mode": mode, "cores": round(cpu / wall, 3), "frames": sum(c.frames for c in counts.values()),
            "dropped": sum(mailbox.counts(k)["dropped"] for k in counts),
            "detected": pipeline.counters.get("detected", 0), "plates": [[p.text for p in x.plates] for x in passages]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recording", type=Path, required=True)
    parser.add_argument("--seconds", type=float, default=75.0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    meta = Recording.open(args.recording).meta
    cams = cameras(args.recording, args.seconds)
    try:
        with tempfile.TemporaryDirectory() as folder:
            site = site_for(cams, {name: cam.view for name, cam in meta.cameras.items()}, Path(folder))
            best: dict[str, float] = {}
            for _ in range(args.rounds):
                for mode in MODES:
                    result = run_lane(site, mode, args.seconds)
                    print(result, flush=True)
                    best[mode] = min(best.get(mode, float("inf")), float(result["cores"]))  # type: ignore[arg-type]
            print(f"best CPU cores: encoded {best['encoded']:.3f}, ffmpeg {best['ffmpeg']:.3f} "
                  f"(encoded / ffmpeg {best['encoded'] / best['ffmpeg']:.3f})")
    finally:
        for camera in cams.values():
            camera.stop()


if __name__ == "__main__":
    main()
