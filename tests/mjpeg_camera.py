"""A real HTTP MJPEG camera served from a thread, for the stream source's tests and benchmark."""

from __future__ import annotations

import contextlib
import http.server
import socket
import threading
import time
from collections.abc import Callable

import cv2
import numpy as np

BOUNDARY = b"frame"


class MjpegCamera:
    """A tiny multipart/x-mixed-replace JPEG camera on 127.0.0.1 that can stall, stop (dropping its clients) and
    start again on the same port. Frame n is `picture(n)` (JPEG bytes); by default a 64×48 grey of brightness
    n % 200, so a reader can tell fresh frames from old. `fps` None: as fast as the client reads."""

    def __init__(self, fps: float | None = 50.0, picture: Callable[[int], bytes] | None = None) -> None:
        self.port = 0
        self.period = 1.0 / fps if fps else 0.0
        self.picture = picture or grey
        self.cut_every = 0
        """Every this many parts, send only the first half of the JPEG (a camera's encoder cut short); 0: never."""
        self.stalled = threading.Event()
        self.served = 0
        self._server: http.server.ThreadingHTTPServer | None = None
        self._clients: set[socket.socket] = set()
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/cam.mjpg"

    def start(self) -> None:
        camera = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                camera.serve(self)

            def log_message(self, *args: object) -> None:
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def stop(self) -> None:
        """Stop listening and cut every client, as a camera that reboots does."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        with self._lock:
            for client in self._clients:
                with contextlib.suppress(OSError):
                    client.shutdown(socket.SHUT_RDWR)
            self._clients.clear()

    def serve(self, handler: http.server.BaseHTTPRequestHandler) -> None:
        with self._lock:
            self._clients.add(handler.connection)
        handler.send_response(200)
        handler.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY.decode()}")
        handler.end_headers()
        try:
            while True:
                if not self.stalled.is_set():
                    handler.wfile.write(self._part())
                if self.period or self.stalled.is_set():
                    time.sleep(self.period or 0.01)
        except OSError:
            return  # the client left or we cut it

    def _part(self) -> bytes:
        self.served += 1
        data = self.picture(self.served)
        if self.cut_every and self.served % self.cut_every == 0:
            data = data[:len(data) // 2]
        head = b"--%s\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % (BOUNDARY, len(data))
        return head + data + b"\r\n"


def grey(n: int) -> bytes:
    """A 64×48 JPEG of brightness n % 200."""
    _ok, jpeg = cv2.imencode(".jpg", np.full((48, 64, 3), n % 200, np.uint8))
    return jpeg.tobytes()
