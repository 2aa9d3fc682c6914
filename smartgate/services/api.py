"""The API service: the control room's HTTP and WebSocket server, fed by the site's bus.

``python -m smartgate.services api --site FILE [--environment development|production]`` serves the app of
`api.app.create_app` with uvicorn (httptools, uvloop, websockets, one worker) at the site's ``api`` host and port. It
subscribes to everything on the site broker (the live picture needs gate, yard and fleet alike) and publishes the
API's writes (operator actions, declarations, audit entries) there, with the site's "api" CURVE key pair. SIGTERM or
SIGINT stops it: uvicorn finishes the requests in flight, the lifespan closes the bus link, journal and user store.

``--add-user NAME --role ROLE`` creates a user in the site's API user store instead, the password read from stdin
(so it never appears in a process list or shell history): the way to make the first admin in production.
"""

from __future__ import annotations

import logging
import sys
import threading
from dataclasses import dataclass
from typing import TextIO

import uvicorn

from api.app import create_app
from api.auth import UserStore, UserStoreError
from api.settings import ApiSettings, Environment, LaneInfo
from bus.curve import missing_keypairs
from smartgate.services.runtime import Pulse
from smartgate.site import Site
from smartgate.wiring import event_publisher, event_subscriber

log = logging.getLogger(__name__)
NAME = "api"
USERS_FILE = "api-users.sqlite"
WS_MAX_BYTES = 64 * 1024
EVERYTHING = [b""]


@dataclass(frozen=True)
class ApiOptions:
    environment: Environment = "production"
    rate_per_s: float | None = None     # per-client request rate; None keeps the settings' default


def settings_for(site: Site, options: ApiOptions = ApiOptions()) -> ApiSettings:
    """The API's settings from the site file: its journal, lanes, yard layout, and a user store in data_dir."""
    extra = {} if options.rate_per_s is None else {"rate_per_s": options.rate_per_s,
                                                   "rate_burst": max(1, int(2 * options.rate_per_s))}
    return ApiSettings(
        journal_url=site.journal.url,
        users_path=site.data_dir / USERS_FILE,
        data_dir=site.data_dir,
        lanes=tuple(LaneInfo(id=lane.id, direction=lane.direction, description=lane.description)
                    for lane in site.lanes),
        yard_layout=site.yard.layout if site.yard is not None else None,
        environment=options.environment,
        site_name=site.site.name,
        **extra,  # type: ignore[arg-type]
    )


def run(site: Site, stop: threading.Event, options: ApiOptions = ApiOptions()) -> int:
    missing = _missing_keys(site)
    if missing:
        print(missing, file=sys.stderr)
        return 2
    settings = settings_for(site, options)
    publisher = event_publisher(site, NAME)
    source = event_subscriber(site, NAME, EVERYTHING)
    app = create_app(settings, source=source, publisher=publisher)
    server = uvicorn.Server(uvicorn.Config(
        app, host=site.api.host, port=site.api.port, http="httptools", loop="uvloop", ws="websockets-sansio", workers=1,
        lifespan="on", access_log=False, server_header=False, ws_max_size=WS_MAX_BYTES, timeout_keep_alive=30,
        log_config=None))
    pulse = Pulse(site, NAME, "api", lambda: _status(app.state))
    beats = threading.Thread(target=_beat, args=(pulse, server, stop), name="api-heartbeat", daemon=True)
    try:
        if stop.is_set():
            return 0
        beats.start()
        log.info("api: serving http://%s:%d (%s)", site.api.host, site.api.port, settings.environment)
        server.run()
    finally:
        server.should_exit = True
        if beats.is_alive():
            beats.join(5)
        pulse.close()
        source.close()
        publisher.close()
    log.info("api stopped")
    return 0 if server.started else 1


def add_user(site: Site, name: str, role: str, password_input: TextIO) -> int:
    """Create one user from the command line; the password is the first line of ``password_input``."""
    password = password_input.readline().rstrip("\r\n")
    store = UserStore(site.data_dir / USERS_FILE)
    try:
        store.add_user(name, password, role)  # type: ignore[arg-type]  # checked by add_user
    except UserStoreError as exc:
        print(f"user not added: {exc}", file=sys.stderr)
        return 2
    finally:
        store.close()
    print(f"user {name} added with role {role}")
    return 0


def _missing_keys(site: Site) -> str | None:
    if site.bus.security != "curve" or not missing_keypairs(site.bus.keys_dir, [NAME]):
        return None
    return (f"the API has no CURVE key pair in {site.bus.keys_dir} (component {NAME!r}); create the site's keys "
            f"with `smartgate keys`")


def _beat(pulse: Pulse, server: uvicorn.Server, stop: threading.Event) -> None:
    """The service's heartbeat and status once a second; ends the server when the stop event is set."""
    while not server.should_exit:
        if stop.wait(0.5):
            server.should_exit = True
            return
        try:
            pulse.tick()
        except Exception:  # a lost heartbeat must not stop the API
            log.exception("api heartbeat failed")


def _status(state: object) -> dict[str, float]:
    ctx = getattr(state, "ctx", None)
    if ctx is None or ctx.bus is None:
        return {}
    return {"bus.received": float(ctx.bus.received), "bus.rejected": float(ctx.bus.rejected),
            "stream.clients": float(getattr(ctx.hub, "subscribers", 0))}
