"""The one error type of the calibration package.

Everything that can be wrong with calibration input (too few or degenerate points, a corrupt file, a board that is
never found) ends in a ``CalibrationError`` with a one-line message saying what was expected and what came, so the
CLI can print it and a service can count it and keep running.
"""

from __future__ import annotations


class CalibrationError(ValueError):
    """Calibration input or a calibration file that cannot be used; the message is one line."""
