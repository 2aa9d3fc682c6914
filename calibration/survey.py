"""Reading a survey: the file of point pairs (pixel u, v ↔ ground x, y in site metres) a technician writes.

Accepted forms, all with the pixel first and the ground position second:

* CSV with columns ``u,v,x,y`` (a header row naming them may come first, in any order; ``#`` starts a comment);
* JSON: a list of ``{"image": [u, v], "ground": [x, y]}`` (the form of the calibration file), a list of
  ``[u, v, x, y]`` rows, or either of those under a ``"points"`` key.

Files are read through a size limit; a bad row is reported with its line or index.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any, Final

import numpy as np

from calibration.checks import read_bounded
from calibration.errors import CalibrationError

MAX_SURVEY_BYTES: Final = 1024 * 1024
_COLUMNS: Final = ("u", "v", "x", "y")


def read_survey(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(image points (N, 2), ground points (N, 2)) from a CSV or JSON survey file."""
    text = _read_text(Path(path))
    rows = _json_rows(text, path) if text.lstrip().startswith(("[", "{")) else _csv_rows(text, path)
    if not rows:
        raise CalibrationError(f"{path}: no point pairs")
    array = np.array(rows, dtype=np.float64)
    return array[:, :2].copy(), array[:, 2:].copy()


def _read_text(path: Path) -> str:
    data = read_bounded(path, MAX_SURVEY_BYTES, "survey file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CalibrationError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def _csv_rows(text: str, path: Path) -> list[list[float]]:
    rows: list[list[float]] = []
    order: list[int] = [0, 1, 2, 3]
    for line_no, cells in enumerate(csv.reader(io.StringIO(text)), start=1):
        cells = [cell.strip() for cell in cells]
        if not cells or not any(cells) or cells[0].startswith("#"):
            continue
        if not rows and {c.lower() for c in cells} == set(_COLUMNS):
            order = [[c.lower() for c in cells].index(name) for name in _COLUMNS]
            continue
        if len(cells) != 4:
            raise CalibrationError(f"{path}:{line_no}: expected 4 columns u,v,x,y, got {len(cells)}")
        rows.append([_number(cells[i], f"{path}:{line_no}") for i in order])
    return rows


def _json_rows(text: str, path: Path) -> list[list[float]]:
    try:
        data: Any = json.loads(text, parse_constant=_refuse_constant)
    except (json.JSONDecodeError, ValueError) as exc:
        raise CalibrationError(f"{path}: invalid JSON: {exc}") from None
    if isinstance(data, dict):
        data = data.get("points")
    if not isinstance(data, list):
        raise CalibrationError(f"{path}: expected a list of point pairs (or {{\"points\": [...]}})")
    return [_json_row(item, f"{path}: point #{index}") for index, item in enumerate(data)]


def _json_row(item: Any, where: str) -> list[float]:
    if isinstance(item, dict):
        image, ground = item.get("image"), item.get("ground")
        if not (isinstance(image, list) and isinstance(ground, list) and len(image) == 2 and len(ground) == 2):
            raise CalibrationError(f"{where}: expected {{\"image\": [u, v], \"ground\": [x, y]}}")
        values = [*image, *ground]
    elif isinstance(item, list) and len(item) == 4:
        values = item
    else:
        raise CalibrationError(f"{where}: expected [u, v, x, y] or {{\"image\": ..., \"ground\": ...}}")
    return [_number(value, where) for value in values]


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool):
        raise CalibrationError(f"{where}: {value!r} is not a number")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise CalibrationError(f"{where}: {value!r} is not a number") from None
    if not math.isfinite(number):
        raise CalibrationError(f"{where}: {value!r} is not a finite number")
    return number


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not allowed")
