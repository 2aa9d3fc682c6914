"""What one API instance serves and how strictly: built by the service from the site file, by tests directly.

Frozen and checked on creation, so a bad limit stops the start-up instead of quietly disabling a protection.
Production is the default: development (seeded users with a known password) must be asked for by name.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Environment = Literal["development", "production"]

DEV_PASSWORD = "smartgate-dev"  # noqa: S105 - published on purpose; refused outside development
# name -> role of the users seeded in development, all with DEV_PASSWORD; never seeded in production.
DEV_USERS: dict[str, Literal["viewer", "operator", "admin"]] = {
    "admin": "admin", "operator": "operator", "viewer": "viewer"}


@dataclass(frozen=True)
class LaneInfo:
    id: str
    direction: Literal["in", "out"]
    description: str = ""


@dataclass(frozen=True)
class ApiSettings:
    journal_url: str                          # the site journal (read; audit entries appended)
    users_path: Path                          # SQLite file: users, API keys, tokens
    data_dir: Path                            # evidence crops live under data_dir / "evidence"
    lanes: tuple[LaneInfo, ...] = ()
    yard_layout: Path | None = None           # the site's yard layout YAML, for the map
    environment: Environment = "production"
    cors_origins: tuple[str, ...] = ()        # empty: no CORS headers at all (closed)
    rate_per_s: float = 200.0                 # token bucket per client (token, key or IP)
    rate_burst: int = 400
    max_body_bytes: int = 256 * 1024
    token_ttl_s: float = 8 * 3600.0
    stale_after_s: float = 3.0                # the page shows a lane stale after this long without news
    site_name: str = "SmartGate"              # shown by the page (GET /api/v1/config)

    def __post_init__(self) -> None:
        if self.environment not in ("development", "production"):
            raise ValueError(f"environment must be 'development' or 'production', got {self.environment!r}")
        _positive("rate_per_s", self.rate_per_s)
        _positive("rate_burst", self.rate_burst)
        _positive("max_body_bytes", self.max_body_bytes)
        _positive("token_ttl_s", self.token_ttl_s)
        _positive("stale_after_s", self.stale_after_s)
        if "*" in self.cors_origins:
            raise ValueError("cors_origins must list origins; '*' would open the API to every web page")
        if len({lane.id for lane in self.lanes}) != len(self.lanes):
            raise ValueError("lane ids must be unique")

    @property
    def development(self) -> bool:
        return self.environment == "development"

    @property
    def evidence_dir(self) -> Path:
        return self.data_dir / "evidence"


def _positive(name: str, value: float) -> None:
    if not value > 0:
        raise ValueError(f"{name} must be positive, got {value!r}")
