"""Reading a yard layout file safely and its typed fields, each failure a `LayoutError` naming file and field.

A layout file comes from outside (an operator, a download, a recording), so it is read like hostile input: size
limit, no YAML aliases (exponential expansion), bounded nesting (libyaml's composer recurses), no duplicate keys,
finite numbers only, bounded lists.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bus import safe_yaml

MAX_FILE_BYTES = 1024 * 1024
MAX_NESTING = 16
MAX_COORD_M = 100_000.0

ZONE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,47}$")    # a slot id "<zone>:B03R2" stays a bus Id (64 chars)
SPOT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,15}$")


class LayoutError(ValueError):
    """A layout that cannot be used: ``<file>: <field>: <problem>`` on one line."""

    def __init__(self, source: str, field: str, problem: str) -> None:
        super().__init__(f"{source}: {field}: {problem}")
        self.source = source
        self.field = field
        self.problem = problem


# --- the file ---------------------------------------------------------------------------------------------------


def read_yaml_file(path: Path) -> object:
    """The YAML document in ``path``, or `LayoutError` (field ``file``) for anything unreadable or unsafe."""
    try:
        return safe_yaml.read_yaml_file(path, max_bytes=MAX_FILE_BYTES, max_nesting=MAX_NESTING,
                                        kind="layout files")
    except safe_yaml.YamlFileError as exc:
        where = f" ({exc.where})" if exc.where else ""
        raise LayoutError(str(path), "file", f"{exc.problem}{where}") from None


# --- typed fields -----------------------------------------------------------------------------------------------


class Fields:
    """Typed readers bound to one source file, so every error names the file and the field path."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, field: str, problem: str) -> LayoutError:
        return LayoutError(self.source, field, problem)

    def mapping(self, value: object, field: str, *, required: set[str], optional: set[str],
                what: str = "") -> Mapping[str, Any]:
        """A mapping with exactly the known keys: a misspelt key is an error, not a silently ignored line."""
        if not isinstance(value, dict):
            raise self.fail(field, f"expected a mapping, got {kind_of(value)}")
        for key in value:
            if not isinstance(key, str) or key not in required | optional:
                known = ", ".join(sorted(required | optional))
                raise self.fail(_join(field, str(key)[:40]), f"unknown field{' for ' + what if what else ''} "
                                                             f"(known: {known})")
        missing = sorted(required - value.keys())
        if missing:
            raise self.fail(_join(field, missing[0]), "missing")
        return value

    def sequence(self, value: object, field: str, *, min_len: int, max_len: int) -> list[Any]:
        if not isinstance(value, list):
            raise self.fail(field, f"expected a list, got {kind_of(value)}")
        if not min_len <= len(value) <= max_len:
            wanted = f"{min_len}" if min_len == max_len else f"{min_len}–{max_len}"
            raise self.fail(field, f"expected {wanted} items, got {len(value)}")
        return value

    def number(self, value: object, field: str, *, low: float = -MAX_COORD_M, high: float = MAX_COORD_M) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(field, f"expected a number, got {kind_of(value)}")
        number = float(value)
        if not math.isfinite(number):
            raise self.fail(field, f"expected a finite number, got {number}")
        if not low <= number <= high:
            raise self.fail(field, f"expected a number in [{low:g}, {high:g}], got {number:g}")
        return number

    def integer(self, value: object, field: str, *, low: int, high: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            got = f"{value:g}" if isinstance(value, float) else kind_of(value)
            raise self.fail(field, f"expected a whole number, got {got}")
        if not low <= value <= high:
            raise self.fail(field, f"expected a whole number in [{low}, {high}], got {value}")
        return value

    def pair(self, value: object, field: str, *, low: float = -MAX_COORD_M,
             high: float = MAX_COORD_M) -> tuple[float, float]:
        items = self.sequence(value, field, min_len=2, max_len=2)
        return (self.number(items[0], f"{field}[0]", low=low, high=high),
                self.number(items[1], f"{field}[1]", low=low, high=high))

    def ident(self, value: object, field: str, pattern: re.Pattern[str] = ZONE_ID) -> str:
        if not isinstance(value, str):
            raise self.fail(field, f"expected a string, got {kind_of(value)}")
        if not pattern.fullmatch(value):
            raise self.fail(field, f"{value[:80]!r} is not a valid id (pattern {pattern.pattern})")
        return value

    def ring(self, value: object, field: str, *, max_points: int) -> list[tuple[float, float]]:
        """Polygon corners [[x, y], ...]; a repeated closing corner is optional."""
        items = self.sequence(value, field, min_len=3, max_len=max_points)
        points = [self.pair(item, f"{field}[{i}]") for i, item in enumerate(items)]
        if len(points) > 3 and points[0] == points[-1]:
            points.pop()
        return points


def kind_of(value: object) -> str:
    """How a YAML value reads to a person ("a list", "a string", ...)."""
    names = {list: "a list", dict: "a mapping", str: "a string", int: "a number", float: "a number",
             bool: "a boolean", type(None): "nothing"}
    return names.get(type(value), type(value).__name__)


def _join(field: str, key: str) -> str:
    return f"{field}.{key}" if field else key
