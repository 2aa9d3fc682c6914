"""The maps a planner serves, by id: the yard, and every MovingAI ``.map`` file of some folders by file stem.

Files are listed when the registry is made and loaded on first use, then kept: a service that knows a hundred
benchmark maps pays only for those it is asked about. A file that turns out unreadable gives a `MapError` each
time it is asked for (and is not cached), so fixing the file fixes the service without a restart.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path

from control.planning.grid_map import GridMap, MapError, load_movingai_map

log = logging.getLogger(__name__)

YARD_ID = "yard"
MAP_SUFFIX = ".map"


class MapRegistry:
    """map_id -> `GridMap`. ``yard`` (already built from the site's layout) is served as ``"yard"``; a file in an
    earlier folder wins over one of the same stem in a later folder."""

    def __init__(self, folders: Sequence[Path] = (), yard: GridMap | None = None) -> None:
        self._files: dict[str, Path] = {}
        self._maps: dict[str, GridMap] = {} if yard is None else {YARD_ID: yard}
        self._lock = threading.Lock()
        for folder in folders:
            self._scan(Path(folder))

    def get(self, map_id: str) -> GridMap:
        """The map called ``map_id``; `MapError` when there is none or its file cannot be read."""
        with self._lock:
            grid = self._maps.get(map_id)
            if grid is not None:
                return grid
            path = self._files.get(map_id)
            if path is None:
                raise MapError(f"unknown map {map_id!r} (known: {', '.join(self.ids()) or 'none'})")
            grid = load_movingai_map(path)
            self._maps[map_id] = grid
            return grid

    def ids(self) -> list[str]:
        """Every map id this registry can serve, sorted."""
        return sorted(set(self._maps) | set(self._files))

    def _scan(self, folder: Path) -> None:
        if not folder.is_dir():
            raise MapError(f"{folder}: not a folder of .map files")
        for path in sorted(folder.glob(f"*{MAP_SUFFIX}")):
            stem = path.stem
            if not path.is_file():
                continue
            if stem in self._maps or stem in self._files:
                log.warning("%s: map id %r already taken, file ignored", path, stem)
                continue
            self._files[stem] = path
