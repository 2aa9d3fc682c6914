"""Synthetic gate footage: trucks passing a lane's cameras, with exact per-frame truth and declarations.

`generate(out_dir, ...)` renders a recording in the format of `datasets.recording`; `ensure_demo_recording(path)`
makes the small default one. The identifier helpers (ISO 6346 check digits, plate grammars and random generators)
are shared with the vision code.
"""

from datasets.synth.generator import DEFAULT_START_UTC, GeneratorError, ensure_demo_recording, generate, rendered
from datasets.synth.identifiers import (
    cn_plate_lines,
    is_valid_cn_plate,
    is_valid_iso6346,
    is_valid_vn_plate,
    iso6346_check_digit,
    random_cn_plate,
    random_container_number,
    random_seal_number,
    random_size_type,
    random_vn_plate,
    size_type_length_ft,
    vn_plate_lines,
)

__all__ = [
    "DEFAULT_START_UTC", "GeneratorError", "cn_plate_lines", "ensure_demo_recording", "generate",
    "is_valid_cn_plate", "is_valid_iso6346", "is_valid_vn_plate", "iso6346_check_digit", "random_cn_plate",
    "random_container_number", "random_seal_number", "random_size_type", "random_vn_plate", "rendered",
    "size_type_length_ft",
    "vn_plate_lines",
]
