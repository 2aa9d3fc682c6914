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
* `settled`: every truck in the camera's view is tracked (a vehicle box with no confirmed track is a truck just
  come into view) and has had its plates and numbers read enough, and no door is in view. The detector then only
  keeps the trucks tracked, and looks at most `settled_detect_hz` (1.5) times a second: 6-8 % fewer detector runs
  on six 10-minute recordings, the same passages, and one more plate read right on two of them. The first form
  counted a truck with no confirmed track yet as read; looks 0.67 s apart then never confirmed the track of a
  truck's rear coming into the rear camera, and its passage split (seed 9407; `benchmarks/RESULTS.md`).
* `steady`: anything else; the `max_detect_hz` cap.

A frame that came as JPEG bytes (`Frame.encoded`: a recording's frames) is not decoded to be judged: a `skip`
needs only its time, and its thumbnail comes from a 1/8-scale decode, which keeps only the mean of each 8x8 block
(1.3 ms against 2.8 ms for the whole 1280x720 frame, in the pipeline on the 2-core VM). Every frame of such a
camera, the detected ones too, gives its thumbnail that way, so thumbnails are always compared with thumbnails made
alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np
import numpy.typing as npt

from datasets.sources import Frame

Decision = Literal["detect", "reuse", "skip"]
Pace = Literal["reading", "searching", "steady", "settled"]
Picture = Frame | npt.NDArray[np.uint8]
"""What the gate judges: a frame (its bytes are enough when it came encoded), or an image."""
JPEG_SCALE = 8
"""The 1/8 scale decode (each 8x8 block's mean) that an encoded frame's thumbnail comes from."""


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
    settled_detect_hz: float = 1.5
    """The detector looks at most this often at a camera with nothing left to read (0: no slower pace); a looser
    value than `max_detect_hz` does not lift that cap."""
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
        self._last_thumb: tuple[str, int, npt.NDArray[np.int16] | None] | None = None  # by `decide`, for `detected`
        self.counts = {"detect": 0, "reuse": 0, "skip": 0}

    def decide(self, camera: str, picture: Picture, t_s: float, *, pace: Pace = "steady") -> Decision:
        """`pace`: what the camera's last look showed (`Pace`), which sets the rate cap."""
        self._last_thumb = None
        decision = self._decide(camera, picture, t_s, self.config.min_interval_s(pace))
        self.counts[decision] += 1
        return decision

    def detected(self, camera: str, picture: Picture, t_s: float) -> None:
        """The detector has just seen `picture`: it is the camera's new reference (its thumbnail, if `decide` has
        just made it, is not made twice). A picture with no thumbnail (bytes the decoder refuses) is none."""
        last, self._last_thumb = self._last_thumb, None
        same = last is not None and last[0] == camera and last[1] == id(picture)
        thumb = last[2] if last is not None and same else picture_thumbnail(picture, self.config.cell_px)
        if thumb is None:
            self._refs.pop(camera, None)
        else:
            self._refs[camera] = _Reference(thumb, t_s)

    def forget(self, camera: str) -> None:
        """The camera's last answer is no longer valid (a frame was lost or refused): detect next time."""
        self._refs.pop(camera, None)
        self._last_thumb = None

    def _decide(self, camera: str, picture: Picture, t_s: float, min_interval_s: float) -> Decision:
        ref = self._refs.get(camera)
        if not self.config.enabled or ref is None:
            return "detect"
        since = t_s - ref.t_s
        if 0 <= since < min_interval_s:
            return "skip"
        if not since < self.config.max_reuse_s:
            return "detect"
        thumb = picture_thumbnail(picture, self.config.cell_px)
        self._last_thumb = (camera, id(picture), thumb)
        if thumb is None or thumb.shape != ref.thumb.shape:
            return "detect"  # (no thumbnail: the detector's decode will say what is wrong with the frame)
        change = int(np.abs(thumb - ref.thumb).max()) if thumb.size else 0
        return "detect" if change > self.config.change_level else "reuse"


def picture_thumbnail(picture: Picture, cell_px: int) -> npt.NDArray[np.int16] | None:
    """A frame's thumbnail from its bytes at 1/8 scale where it came encoded (and cells are that coarse), else from
    its pixels; None if its bytes do not decode."""
    if isinstance(picture, Frame):
        if picture.encoded is not None and cell_px >= JPEG_SCALE:
            small = cv2.imdecode(np.frombuffer(picture.encoded, np.uint8), cv2.IMREAD_REDUCED_COLOR_8)
            return None if small is None else thumbnail(np.asarray(small, np.uint8), cell_px, scale=JPEG_SCALE)
        image = picture.image
        return None if image is None else thumbnail(image, cell_px)
    return thumbnail(picture, cell_px)


def thumbnail(image: npt.NDArray[np.uint8], cell_px: int, *, scale: int = 1) -> npt.NDArray[np.int16]:
    """Cell means of every channel (area averaging), as int16 so that differences do not wrap; `scale`: the image
    is the frame shrunk that many times (`cell_px` counts the frame's pixels)."""
    h, w = image.shape[:2]
    size = (max(1, w * scale // cell_px), max(1, h * scale // cell_px))
    small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    return np.asarray(small, np.int16)
