"""The demo's declarations: the played recordings' own trucks, declared for the day the demo plays them.

A recording's ``declarations.jsonl`` (written by the generator beside its footage, with its planted mismatches:
wrong container, missing seal, unknown truck, wrong seal number) is valid around the recording's own date, but the
demo stamps each frame with the time it is played. So every declaration is declared again for each UTC day the run
may cover: same plates, driver, containers, seals, channel and direction, a validity window of that whole day, and
the day appended to its id. Days do not overlap, so a tractor never holds two valid declarations at once (the book
would refuse that), and a second run on the same day writes the very same lines, which the clearance service
already holds: nothing new is journalled.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import msgspec

from bus.messages import Declaration
from control.declaration_feed import read_jsonl_file
from smartgate.site import Site

DAY_S = 86_400.0
DECLARATIONS_FILE = "declarations.jsonl"
FOLDER = "demo-declarations"
"""Under the site's data_dir; the demo owns it: each run rewrites its files and removes ones no lane writes."""
_MAX_BASE_ID = 55  # ids are at most 64 characters; ".YYYYMMDD" takes 9


@dataclass(frozen=True)
class DemoDeclarations:
    """What was written: the folder clearance follows, trucks declared, the days covered, lines skipped."""

    folder: Path
    trucks: int
    days: tuple[str, ...]
    bad_lines: tuple[str, ...]


def write_demo_declarations(site: Site, *, start_utc: float, run_s: float) -> DemoDeclarations | None:
    """Declare the trucks of the site's recordings for the days of ``[start_utc, start_utc + run_s]``, one
    ``<lane>.jsonl`` per lane in ``<data_dir>/demo-declarations``; None when no recording has declarations."""
    days = days_covering(start_utc - 60.0, start_utc + run_s)
    folder = site.data_dir / FOLDER
    lines: dict[str, list[bytes]] = {}
    trucks, bad = 0, []
    for lane_id, path in recorded_declarations(site):
        batch = read_jsonl_file(path)
        bad += [str(line) for line in batch.bad]
        trucks += len(batch.items)
        lines.setdefault(lane_id, []).extend(
            msgspec.json.encode(for_day(item.declaration, day)) + b"\n" for item in batch.items for day in days)
    written = {f"{lane_id}.jsonl" for lane_id, lane_lines in lines.items() if lane_lines}
    if not written:
        return None
    for lane_id, lane_lines in lines.items():
        if lane_lines:
            _replace(folder / f"{lane_id}.jsonl", b"".join(lane_lines))
    for stale in folder.glob("*.jsonl"):
        if stale.name not in written:
            stale.unlink()
    return DemoDeclarations(folder, trucks, tuple(_date(day) for day in days), tuple(bad))


def recorded_declarations(site: Site) -> Iterator[tuple[str, Path]]:
    """(lane id, declarations file) of each recording a lane's cameras play, each file once."""
    seen: set[Path] = set()
    for lane in site.lanes:
        for camera in lane.cameras:
            folder = getattr(camera.source, "path", None)
            if camera.source.kind != "recording" or folder is None:
                continue
            path = Path(folder) / DECLARATIONS_FILE
            if path not in seen and path.is_file():
                seen.add(path)
                yield lane.id, path


def days_covering(first_utc: float, last_utc: float) -> list[float]:
    """The start (UTC midnight) of every day from the one holding ``first_utc`` to the one holding ``last_utc``."""
    first = math.floor(first_utc / DAY_S) * DAY_S
    return [first + i * DAY_S for i in range(int((last_utc - first) // DAY_S) + 1)]


def for_day(declaration: Declaration, day_utc: float) -> Declaration:
    """The declaration valid for the whole day starting at ``day_utc`` (until 1 ms before the next one starts)."""
    return msgspec.structs.replace(
        declaration, declaration_id=f"{declaration.declaration_id[:_MAX_BASE_ID]}.{_date(day_utc).replace('-', '')}",
        valid_from_utc=day_utc, valid_until_utc=day_utc + DAY_S - 0.001)


def _date(day_utc: float) -> str:
    return datetime.fromtimestamp(day_utc, UTC).strftime("%Y-%m-%d")


def _replace(path: Path, data: bytes) -> None:
    """Write the whole file under a temporary name first, so that a reader never sees half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    staging.write_bytes(data)
    os.replace(staging, path)
