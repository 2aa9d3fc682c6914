"""Synthetic yard footage: trucks queueing and parking, containers stacked, IGVs driving, seen by a top and an
oblique camera, with per-step ground truth and the cameras' fitted calibration.

`write_yard_recording(out_dir, seed, duration_s, fps)` writes a recording in the "smartgate-yard-recording" format
(`datasets/README.md`); `open_yard_recording(path)` reads one; `run_generate_yard` is the `smartgate generate-yard`
command's body.
"""

from datasets.yard_synth.generator import YardGeneratorError, run_generate_yard, write_yard_recording
from datasets.yard_synth.recording import YardRecording, YardRecordingError, YardRecordingMeta, open_yard_recording
from datasets.yard_synth.truth import ObjectTruth, SlotTruth, YardTruth

__all__ = [
    "ObjectTruth", "SlotTruth", "YardGeneratorError", "YardRecording", "YardRecordingError", "YardRecordingMeta",
    "YardTruth", "open_yard_recording", "run_generate_yard", "write_yard_recording",
]
