"""What the control-room browser tests share: Debian's Chromium driven by Playwright, the API served by uvicorn on a
free loopback port, a real CurveZMQ bus on both sides of the API, and screenshots kept for people to look at.

Not a conftest: only the browser tests import it, so the other API tests never pay for a browser.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, Playwright, ViewportSize, sync_playwright

from bus.curve import Security, generate_keys, load_keypair, load_public
from bus.messages import Heartbeat, Message
from bus.pubsub import Publisher, Subscriber
from tests.ports import free_port

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SCREEN: ViewportSize = {"width": 1920, "height": 1080}
REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "var" / "screenshots"
"""Git-ignored (``/var/`` in .gitignore): the screenshots of the last run, for people to look at."""
DEV_PASSWORD = "smartgate-dev"
LOOPBACK = "127.0.0.1"
T = TypeVar("T")


def wait_until(condition: Callable[[], T], timeout_s: float, what: str, every_s: float = 0.05) -> T:
    """Poll until ``condition()`` is truthy and return it; fail the test saying what did not happen."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s:g} s waiting for {what}")
        time.sleep(every_s)


# ---- the browser -----------------------------------------------------------------------------------------------------

@contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's Chromium, headless, through Playwright (never a browser Playwright downloads itself)."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium package (the project's system setup does)")
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            yield browser
        finally:
            browser.close()


def launch(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


class PageErrors:
    """JavaScript errors and Content-Security-Policy violations a page reports; a test ends by asserting none."""

    def __init__(self, page: Page) -> None:
        self.errors: list[str] = []
        page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))
        page.on("console", self._console)

    def _console(self, message: Any) -> None:
        text = message.text
        if message.type == "error" and ("Content Security Policy" in text or "Refused to" in text):
            self.errors.append(f"CSP: {text}")


def save_screenshot(page: Page, name: str, tmp_dir: Path) -> Path:
    """Save a screenshot in the test's tmp dir and copy it to var/screenshots (git-ignored) for people."""
    path = tmp_dir / f"{name}.png"
    page.screenshot(path=str(path))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, SCREENSHOTS / path.name)
    return path


def sign_in(page: Page, base_url: str, user: str, password: str = DEV_PASSWORD) -> None:
    page.goto(base_url + "/")
    page.get_by_test_id("login-user").fill(user)
    page.get_by_test_id("login-pass").fill(password)
    page.get_by_test_id("login-submit").click()


def page_status(page: Page) -> str:
    return str(page.evaluate("window.smartgate.status()"))


def latency(page: Page) -> dict[str, Any]:
    """The page's own figures: {count, p50, p99} in ms from a bus message's ts_utc to the frame showing it."""
    summary: dict[str, Any] = page.evaluate("window.smartgate.latency()")
    return summary


# ---- the API server --------------------------------------------------------------------------------------------------

class ApiServer:
    """An ASGI app served by uvicorn in a thread on a loopback port; restartable on the same port with a new app
    (the page's stream then drops and must reconnect)."""

    def __init__(self, make_app: Callable[[], Any], port: int | None = None) -> None:
        self.make_app = make_app
        self.port = port or free_port()
        self.app: Any = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def start(self, timeout_s: float = 20.0) -> None:
        self.app = self.make_app()
        config = uvicorn.Config(self.app, host=LOOPBACK, port=self.port, log_level="warning", lifespan="on",
                                ws_ping_interval=None, timeout_graceful_shutdown=2)
        server = uvicorn.Server(config)
        self._server = server
        self._thread = threading.Thread(target=server.run, name=f"uvicorn-{self.port}", daemon=True)
        self._thread.start()
        wait_until(lambda: server.started or not self._thread_alive(), timeout_s, "uvicorn to start")
        if not server.started:
            pytest.fail(f"the API server did not start on port {self.port} (see the log above)")

    def _thread_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout_s: float = 15.0) -> None:
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            self._server.force_exit = True
            self._thread.join(timeout_s)
        self._server = None
        self._thread = None

    def __enter__(self) -> ApiServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# ---- the bus on both sides of the API --------------------------------------------------------------------------------

@dataclass
class CurveBus:
    """Two CurveZMQ pub/sub links on loopback, as the API has them at a site:

    ``feed`` (the test's publisher) -> ``source`` (the API's subscriber): the events the API shows;
    ``publisher`` (the API's) -> ``heard`` (the test's subscriber): what the API publishes (operator actions, audit).
    Each binding side is a CURVE server that accepts only the other side's public key.
    """

    root: Path
    feed: Publisher = field(init=False)
    publisher: Publisher = field(init=False)
    heard: Subscriber = field(init=False)

    def __post_init__(self) -> None:
        keys, allowed_api, allowed_test = self.root / "keys", self.root / "allow-api", self.root / "allow-test"
        generate_keys(keys, ["test", "api"])
        for directory, name in ((allowed_api, "api"), (allowed_test, "test")):
            directory.mkdir()
            shutil.copy(keys / f"{name}.key", directory)
        self._lock = threading.Lock()
        test_pair, self._api_pair = load_keypair(keys, "test"), load_keypair(keys, "api")
        self._test_public = load_public(keys, "test")
        self.feed = Publisher(f"tcp://{LOOPBACK}:*", Security.curve(test_pair, authorized_dir=allowed_api))
        self.publisher = Publisher(f"tcp://{LOOPBACK}:*",
                                   Security.curve(self._api_pair, authorized_dir=allowed_test))
        self.heard = Subscriber(self.publisher.endpoint, [b""],
                                Security.curve(test_pair, server_public=load_public(keys, "api")))

    def new_source(self) -> Subscriber:
        """A new subscriber for an API instance (its bus link closes the source when the app stops)."""
        return Subscriber(self.feed.endpoint, [b""],
                          Security.curve(self._api_pair, server_public=self._test_public))

    def publish(self, message: Message) -> None:
        with self._lock:  # the test and the heartbeat thread share the socket, which is not thread-safe
            self.feed.publish(message)

    def heard_messages(self, timeout_s: float) -> list[Message]:
        """What the API published, waiting at most ``timeout_s`` for the first message."""
        out: list[Message] = []
        message = self.heard.recv(timeout_s)
        while message is not None:
            out.append(message)
            message = self.heard.recv(0.0)
        return out

    def close(self) -> None:
        """Close the sockets the test owns (each API instance's bus link closes its source)."""
        for owner in (self.feed, self.heard, self.publisher):
            owner.close()


@contextmanager
def reader_heartbeats(bus: CurveBus, lane_ids: list[str], every_s: float = 0.5) -> Iterator[None]:
    """Heartbeats of each lane's reader (``lane-<id>``), as a running lane sends them: without them the API
    rightly shows every lane stale."""
    stop = threading.Event()

    def beat() -> None:
        seq = 0
        while not stop.is_set():
            seq += 1
            for lane_id in lane_ids:
                bus.publish(Heartbeat(sender=f"lane-{lane_id}", role="lane-reader", seq=seq))
            stop.wait(every_s)

    thread = threading.Thread(target=beat, name="reader-heartbeats", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(5.0)
