"""Identifier grammars and the constrained decoder that turns OCR evidence into plates and container numbers."""

from vision.grammar.evidence import Evidence, evidence_from_text
from vision.grammar.reads import (
    UNKNOWN,
    ContainerNumberRead,
    PlateRead,
    SizeTypeRead,
    read_container_number,
    read_plate,
    read_size_type,
)

__all__ = [
    "UNKNOWN",
    "ContainerNumberRead",
    "Evidence",
    "PlateRead",
    "SizeTypeRead",
    "evidence_from_text",
    "read_container_number",
    "read_plate",
    "read_size_type",
]
