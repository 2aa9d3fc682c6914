"""Multi-frame, multi-camera fusion of a vehicle's reads into one `VehiclePassage` (issue 3)."""

from vision.fusion.ballot import Ballot, fused_confidence
from vision.fusion.fuser import FusionConfig, PassageFuser
from vision.fusion.observations import (
    CameraFrame,
    ContainerObservation,
    PlateObservation,
    SealObservation,
    Sighting,
)
from vision.fusion.passage_evidence import FieldRules, PassageEvidence

__all__ = [
    "Ballot", "CameraFrame", "ContainerObservation", "FieldRules", "FusionConfig", "PassageEvidence",
    "PassageFuser", "PlateObservation", "SealObservation", "Sighting", "fused_confidence",
]
