"""Locating the system fonts the renderer needs, with an error that says which Debian package provides them."""

from __future__ import annotations

import os
from functools import cache, lru_cache
from pathlib import Path

from PIL import ImageFont

FONT_DIRS = (Path("/usr/share/fonts/truetype"), Path("/usr/local/share/fonts"), Path.home() / ".fonts")
#: A folder searched before FONT_DIRS, for machines without the system fonts (a training box, a container).
FONT_DIR_ENV = "SMARTGATE_FONT_DIR"

#: File name → the Debian package that installs it (`scripts/setup-system.sh` installs both).
FONT_PACKAGES: dict[str, str] = {
    "DejaVuSansCondensed-Bold.ttf": "fonts-dejavu-core",
    "DejaVuSans-Bold.ttf": "fonts-dejavu-core",
    "DejaVuSansMono-Bold.ttf": "fonts-dejavu-core",
    "DejaVuSans.ttf": "fonts-dejavu-core",
    "DejaVuSansCondensed.ttf": "fonts-dejavu-core",
    "wqy-microhei.ttc": "fonts-wqy-microhei",
}

PLATE_FONT = "DejaVuSansCondensed-Bold.ttf"
CHINESE_FONT = "wqy-microhei.ttc"
MARKING_FONTS = ("DejaVuSans-Bold.ttf", "DejaVuSansCondensed-Bold.ttf", "DejaVuSansMono-Bold.ttf")
LABEL_FONT = "DejaVuSansCondensed.ttf"


class FontMissingError(RuntimeError):
    """A font the synthetic renderer needs is not installed."""


def font_dirs() -> tuple[Path, ...]:
    """Where fonts are searched, in order."""
    extra = os.environ.get(FONT_DIR_ENV)
    return ((Path(extra),) if extra else ()) + FONT_DIRS


@cache
def find_font(name: str) -> Path:
    """The path of an installed font file, searched in $SMARTGATE_FONT_DIR, then the usual font folders."""
    for folder in font_dirs():
        if not folder.is_dir():
            continue
        direct = [p for p in (folder / name, folder / "dejavu" / name, folder / "wqy" / name) if p.is_file()]
        if direct:
            return direct[0]
        found = next(iter(sorted(folder.rglob(name))), None)
        if found is not None:
            return found
    package = FONT_PACKAGES.get(name, "a package providing it")
    raise FontMissingError(f"font {name} not found under {', '.join(map(str, font_dirs()))}; "
                           f"install the Debian package {package} (scripts/setup-system.sh does)")


@lru_cache(maxsize=64)
def load_font(name: str, size: int) -> ImageFont.FreeTypeFont:
    """A loaded Pillow font, cached: loading a TrueType collection costs milliseconds."""
    return ImageFont.truetype(str(find_font(name)), size)
