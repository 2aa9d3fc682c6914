"""Which frames need the detector: a camera whose picture has not changed since it was last looked at shows the
same objects, so the detector's last answer for that camera still holds.

A gate camera sees an empty lane most of the time (at 150 trucks an hour a lane is empty about two thirds of the
time) and a truck that stops at the barrier for seconds. Running the detector on those frames only repeats its last
answer. `FrameGate` compares a small thumbnail of each frame (cell means, `cell_px` square, every colour channel)
with the thumbnail of the last frame the detector saw on that camera. If no cell moved by more than `change_level`
grey levels the frame is `reuse`: the caller feeds the last detections to the tracker again (so tracks of a
standing truck stay alive and an empty lane stays empty, both aging by time) and reads nothing new (the pixels are
the same). Comparing with the last *detected* frame, not the previous one, means slow change adds up until it
counts. Sensor noise does not trip it: a cell mean of 256 pixels has 1/16 of the pixel noise.

`max_reuse_s` bounds how stale an answer may get: after that long the detector looks again whatever the
thumbnail says (a change smaller than `change_level`, a light fading slowly).

`max_detect_hz` caps how often the detector looks at one camera while its picture keeps changing (a truck driving
through): a frame that comes sooner than 1/`max_detect_hz` after the last detected one is `skip`, not looked at
at all (the tracker counts time in seconds, so it does not miss it). A truck at the gate moves at walking pace;
two or three looks a second per camera give each plate and number a dozen reads, and fusion needs a few. At 4
frames/s a cap of 3 Hz looks at every second changed frame; at 25 frames/s, at three a second.

The caller sets each camera's pace from what its last look showed (`Pace`):

* `reading`: the cap does not hold. The lane pipeline says so for a front camera whose last look showed a plate
  with reads not yet in agreement. A front camera has the tractor's plate in view for a few frames only, and blur,
  glare or JPEG can make each of them misread; skipping half of those frames lost the two sharpest crops of such a
  plate (seed 9403, truck 10). Once the plate reads the same twice (validated) it is settled, and the cap holds
  again. Lifting the cap for every unsettled text on every camera was tried: 22-26 % more detector runs, and more
  junk reads of container numbers that fusion then trusted (`benchmarks/RESULTS.md`).
* `searching`: the camera was `settled` and its last look lost a truck it was tracking (a missed detection). The
  next frame is looked at, whatever the cap, so that the tracker finds the truck again before `max_lost_s` ends
  its track (at 4 frames/s: 1.0 s after the last match, against 1.25 s at the steady cap).
* `settled`: every truck in the camera's view has had its plates and numbers read enough, and no door is in view.
  The detector then only keeps the trucks tracked, and could look at most `settled_detect_hz` times a second. Off
  by default: at 1.5 Hz it saved 7-15 % of the detector runs on six 10-minute recordings, but a truck seen in part
  (the rear camera with a cab in view) was missed on a sparse look, its track ended, and its passage split in two
  (seed 9407, in each of the three forms tried; `benchmarks/RESULTS.md`).
* `steady`: anything else; the `max_detect_hz` cap.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np
import numpy.typing as npt

Decision = Literal["detect", "reuse", "skip"]
Pace = Literal["reading", "searching", "steady", "settled"]


@dataclass(frozen=True, kw_only=True)
class GateConfig:
    cell_px: int = 16
    """Side of a thumbnail cell in pixels: 1280x720 gives an 80x45 thumbnail."""
    change_level: float = 10.0
    """A cell whose mean moved by more than this many grey levels (0-255) is a change."""
    max_reuse_s: float = 4.0
    """The detector looks at least this often at each camera, changed or not."""
    max_detect_hz: float = 3.0
    """The detector looks at most this often at one camera (0: no cap, every changed frame)."""
    cap_while_reading: bool = False
    """True: the cap holds also while the caller says the camera is reading (the rule before, for comparison)."""
    settled_detect_hz: float = 0.0
    """The detector looks at most this often at a camera with nothing left to read (0, the default: no slower
    pace; at 1.5 it split passages, see the module's docstring); a looser value than `max_detect_hz` does not lift
    that cap."""
    enabled: bool = True
    """Off: every frame is `detect` (the plain pipeline, for comparison)."""

    def __post_init__(self) -> None:
        if self.cell_px < 1:
            raise ValueError(f"cell_px must be >= 1, got {self.cell_px}")
        if not 0.0 <= self.change_level <= 255.0:
            raise ValueError(f"change_level must lie in [0, 255], got {self.change_level}")
        if not self.max_reuse_s >= 0.0:
            raise ValueError(f"max_reuse_s must be >= 0 seconds, got {self.max_reuse_s}")
        if not self.max_detect_hz >= 0.0:
            raise ValueError(f"max_detect_hz must be >= 0, got {self.max_detect_hz}")
        if not self.settled_detect_hz >= 0.0:
            raise ValueError(f"settled_detect_hz must be >= 0, got {self.settled_detect_hz}")

    def min_interval_s(self, pace: Pace) -> float:
        """Least seconds between two looks at one camera at this pace (0: no cap)."""
        if pace == "reading" and not self.cap_while_reading:
            return 0.0
        capped = 1.0 / self.max_detect_hz if self.max_detect_hz > 0 else 0.0
        if self.settled_detect_hz > 0 and pace == "searching":
            return 0.0
        if self.settled_detect_hz > 0 and pace == "settled":
            return max(capped, 1.0 / self.settled_detect_hz)
        return capped  # without the slower pace there was no long gap to make up for: `searching` is steady


@dataclass
class _Reference:
    thumb: npt.NDArray[np.int16]
    t_s: float


class FrameGate:
    """`decide(camera, image, t_s, pace=...)`: `detect`, `reuse` or `skip`; `detected(camera, image, t_s)` after
    the detector ran."""

    def __init__(self, config: GateConfig | None = None) -> None:
        self.config = config or GateConfig()
        self._refs: dict[str, _Reference] = {}
        self._last_thumb: tuple[str, int, npt.NDArray[np.int16]] | None = None  # made by `decide`, kept by `detected`
        self.counts = {"detect": 0, "reuse": 0, "skip": 0}

    def decide(self, camera: str, image: npt.NDArray[np.uint8], t_s: float, *, pace: Pace = "steady") -> Decision:
        """`pace`: what the camera's last look showed (`Pace`), which sets the rate cap."""
        self._last_thumb = None
        decision = self._decide(camera, image, t_s, self.config.min_interval_s(pace))
        self.counts[decision] += 1
        return decision

    def detected(self, camera: str, image: npt.NDArray[np.uint8], t_s: float) -> None:
        """The detector has just seen `image`: it is the camera's new reference (its thumbnail, if `decide` has
        just made it, is not made twice)."""
        last, self._last_thumb = self._last_thumb, None
        same = last is not None and last[0] == camera and last[1] == id(image)
        thumb = last[2] if last is not None and same else thumbnail(image, self.config.cell_px)
        self._refs[camera] = _Reference(thumb, t_s)

    def forget(self, camera: str) -> None:
        """The camera's last answer is no longer valid (a frame was lost or refused): detect next time."""
        self._refs.pop(camera, None)
        self._last_thumb = None

    def _decide(self, camera: str, image: npt.NDArray[np.uint8], t_s: float, min_interval_s: float) -> Decision:
        ref = self._refs.get(camera)
        if not self.config.enabled or ref is None:
            return "detect"
        since = t_s - ref.t_s
        if 0 <= since < min_interval_s:
            return "skip"
        if not since < self.config.max_reuse_s:
            return "detect"
        thumb = thumbnail(image, self.config.cell_px)
        self._last_thumb = (camera, id(image), thumb)
        if thumb.shape != ref.thumb.shape:
            return "detect"
        change = int(np.abs(thumb - ref.thumb).max()) if thumb.size else 0
        return "detect" if change > self.config.change_level else "reuse"


def thumbnail(image: npt.NDArray[np.uint8], cell_px: int) -> npt.NDArray[np.int16]:
    """Cell means of every channel (area averaging), as int16 so that differences do not wrap."""
    h, w = image.shape[:2]
    size = (max(1, w // cell_px), max(1, h // cell_px))
    small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    return np.asarray(small, np.int16)
