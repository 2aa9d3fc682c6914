"""A live camera stream (RTSP, or HTTP MJPEG) that survives drops: it reconnects with backoff and reports outages.

Iteration never raises for a dropped or unreachable stream. Each failed read or failed reconnect comes out as an
error `Frame` (counted as missing), so the consumer keeps control during an outage (to age its tracks, to report
the camera offline) instead of blocking inside the source.

An HTTP stream of JPEG pictures (MJPEG) is read raw: each frame is handed over as its checked JPEG bytes and decoded
only when used, as a recording's are, because the lane pipeline never looks at the pixels of most frames and the
lane reader's mailbox drops frames a busy pipeline cannot take. RTSP streams (H.264, H.265, and the rare RTSP
MJPEG, whose raw packets were never tried here) are decoded by FFmpeg.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import cv2
import numpy as np

from datasets.sources import MAX_IMAGE_PIXELS, BaseSource, Frame, ImageFileError, SourceError, checked_size

log = logging.getLogger(__name__)

STREAM_SCHEMES = frozenset({"rtsp", "rtsps", "http", "https"})
_MJPEG = int.from_bytes(b"MJPG", "little")


class Backoff:
    """Reconnect delays: base, 2·base, 4·base … capped at `maximum`; `reset()` once frames flow again."""

    def __init__(self, base: float = 1.0, maximum: float = 32.0) -> None:
        if not 0 < base <= maximum:
            raise ValueError(f"backoff needs 0 < base <= maximum, got base={base}, maximum={maximum}")
        self.base = base
        self.maximum = maximum
        self._next = base

    def next(self) -> float:
        delay = self._next
        self._next = min(self._next * 2, self.maximum)
        return delay

    def reset(self) -> None:
        self._next = self.base


def redact_url(url: str) -> str:
    """The URL without its password, for logs and error messages (camera URLs often carry credentials)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


class StreamSource(BaseSource):
    """A network camera read through OpenCV's FFmpeg backend, with open/read timeouts and reconnection.

    It connects on first iteration. When a read fails or times out, it releases the capture and reconnects after
    `backoff_base_s`, doubling up to `backoff_max_s`. It stops when closed, or when an outage has lasted
    `give_up_after_s` (None: never). `close()` from another thread waits for a read or open in progress, which
    the timeouts bound.
    """

    def __init__(self, url: str, camera: str, *, open_timeout_s: float = 5.0, read_timeout_s: float = 5.0,
                 backoff_base_s: float = 1.0, backoff_max_s: float = 32.0, give_up_after_s: float | None = None,
                 max_pixels: int = MAX_IMAGE_PIXELS) -> None:
        super().__init__(camera)
        parts = urlsplit(url)
        if parts.scheme not in STREAM_SCHEMES or not parts.hostname:
            raise SourceError(f"{redact_url(url)}: not a stream URL (expected {', '.join(sorted(STREAM_SCHEMES))}"
                              " with a host)")
        self.url = url
        self.name = redact_url(url)
        self.open_timeout_s = open_timeout_s
        self.read_timeout_s = read_timeout_s
        self.backoff = Backoff(backoff_base_s, backoff_max_s)
        self.give_up_after_s = give_up_after_s
        self.max_pixels = max_pixels
        self._http = parts.scheme in ("http", "https")
        self._capture: cv2.VideoCapture | None = None
        self._raw = False
        """The open capture hands over encoded JPEG pictures (an MJPEG stream), not decoded ones."""
        self._lock = threading.Lock()
        self._opened_at = time.monotonic()

    def __iter__(self) -> Iterator[Frame]:
        index = 0
        delay = 0.0
        connected_before = False
        outage_since = time.monotonic()
        try:
            while not self.closed:
                if delay and self._closed.wait(delay):
                    return
                if self._capture is None:
                    error = self._connect()
                    if error is not None:
                        if self.closed:
                            return
                        if self._gave_up(outage_since):
                            yield self._error(index, f"{error}; giving up after {self.give_up_after_s} s")
                            return
                        delay = self.backoff.next()
                        yield self._error(index, f"{error}; retrying in {delay:g} s")
                        index += 1
                        continue
                    if connected_before:
                        self.stats.reconnects += 1
                        log.info("camera %s: reconnected to %s", self.camera, self.name)
                    connected_before = True
                frame = self._read(index)
                if frame is None:
                    if self.closed:
                        return
                    self._release()
                    outage_since = time.monotonic()
                    delay = self.backoff.next()
                    yield self._error(index, f"{self.name}: stream dropped (read failed or timed out); "
                                             f"reconnecting in {delay:g} s")
                elif frame.ok:
                    delay = 0.0
                    self.backoff.reset()
                    yield frame
                else:
                    yield frame
                index += 1
        finally:
            self.close()

    def close(self) -> None:
        super().close()
        self._release()

    def _connect(self) -> str | None:
        """Open the capture; the reason on failure."""
        params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, int(self.open_timeout_s * 1000),
                  cv2.CAP_PROP_READ_TIMEOUT_MSEC, int(self.read_timeout_s * 1000)]
        with self._lock:
            if self.closed:
                return "closed"
            capture = cv2.VideoCapture(self.url, cv2.CAP_FFMPEG, params)
            if not capture.isOpened():
                capture.release()
                return f"{self.name}: cannot open stream"
            self._capture = capture
            self._raw = (self._http and int(capture.get(cv2.CAP_PROP_FOURCC)) == _MJPEG
                         and capture.set(cv2.CAP_PROP_FORMAT, -1))
        return None

    def _read(self, index: int) -> Frame | None:
        """The next frame, an error frame for an oversized or broken one, or None when the stream is gone."""
        with self._lock:
            if self._capture is None:
                return None
            ok, image = self._capture.read()
            raw = self._raw
        t, ts_utc = time.monotonic() - self._opened_at, time.time()
        if not ok or image is None:
            return None
        if raw:
            return self._encoded(index, t, ts_utc, image.tobytes())
        height, width = image.shape[:2]
        if width * height > self.max_pixels:
            return self._bad(index, t, ts_utc, f"{self.name}: {width}x{height} frame is larger than the "
                                               f"{self.max_pixels}-pixel limit", missing=False)
        return self._good(index, t, ts_utc, np.asarray(image))

    def _encoded(self, index: int, t: float, ts_utc: float, data: bytes) -> Frame:
        """A frame of JPEG bytes whose header, size and end marker pass, else an error frame (corrupt)."""
        try:
            checked_size(data, f"{self.name} frame {index}", max_pixels=self.max_pixels)
        except ImageFileError as exc:
            return self._bad(index, t, ts_utc, str(exc), missing=False)
        return self._good(index, t, ts_utc, None, encoded=data)

    def _error(self, index: int, error: str) -> Frame:
        return self._bad(index, time.monotonic() - self._opened_at, time.time(), error, missing=True)

    def _gave_up(self, outage_since: float) -> bool:
        return self.give_up_after_s is not None and time.monotonic() - outage_since >= self.give_up_after_s

    def _release(self) -> None:
        with self._lock:
            if self._capture is not None:
                self._capture.release()
                self._capture = None
