"""Seal-state figures on an evaluation set, and `python -m vision.seals.evaluate` for the held-out sets.

`unknown` counts as wrong in `accuracy` (the issue's seal state accuracy); `decided_accuracy` is over the crops that
got `present` or `absent`, and `coverage` is their share.
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from vision.seals.classifier import DEFAULT_MODELS, SealClassifier, SealState

log = logging.getLogger(__name__)

STATES = ("present", "absent", "unknown")


@dataclass(frozen=True)
class Figures:
    count: int
    sealed: int
    accuracy: float
    coverage: float
    decided_accuracy: float
    precision_present: float
    recall_present: float
    #: rows: truth sealed, truth unsealed; columns: predicted present, absent, unknown
    confusion: list[list[int]]


def figures(labels: Sequence[int], states: Sequence[SealState]) -> Figures:
    truth = np.asarray(labels, bool)
    predicted = np.array([STATES.index(s.state) for s in states], np.int64)
    confusion = np.zeros((2, 3), np.int64)
    np.add.at(confusion, (np.where(truth, 0, 1), predicted), 1)
    right = int(confusion[0, 0] + confusion[1, 1])
    decided = int(confusion[:, :2].sum())
    said_present = int(confusion[:, 0].sum())
    return Figures(count=len(truth), sealed=int(truth.sum()), accuracy=_ratio(right, len(truth)),
                   coverage=_ratio(decided, len(truth)), decided_accuracy=_ratio(right, decided),
                   precision_present=_ratio(int(confusion[0, 0]), said_present),
                   recall_present=_ratio(int(confusion[0, 0]), int(truth.sum())), confusion=confusion.tolist())


def _ratio(a: int, b: int) -> float:
    return round(a / b, 4) if b else float("nan")


def evaluate(classifier: SealClassifier, crops: Sequence[np.ndarray], labels: Sequence[int]) -> Figures:
    return figures(labels, classifier.classify(crops))


def table(results: dict[str, Figures]) -> str:
    """A markdown table of the figures, one row per evaluation set."""
    lines = ["| set | crops (sealed) | accuracy | coverage | decided acc. | P(present) | R(present) | confusion "
             "[[pres, abs, unk] sealed, [pres, abs, unk] unsealed] |", "|---|---|---|---|---|---|---|---|"]
    for name, f in results.items():
        lines.append(f"| {name} | {f.count} ({f.sealed}) | {f.accuracy:.3f} | {f.coverage:.3f} | "
                     f"{f.decided_accuracy:.3f} | {f.precision_present:.3f} | {f.recall_present:.3f} | "
                     f"{f.confusion} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    from vision.seals import train  # the held-out sets are defined by the training recipe

    parser = argparse.ArgumentParser(description="Seal classifier figures on the held-out sets")
    parser.add_argument("--model", type=Path, nargs="+", default=list(DEFAULT_MODELS),
                        help="seal model files, pooled (default: the shipped CNN and MLP)")
    parser.add_argument("--synth-dir", type=Path, default=train.DEFAULT_SYNTH_DIR)
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    classifier = SealClassifier.load(*args.model)
    results = {name: evaluate(classifier, s.crops, s.labels)
               for name, s in train.held_out_sets(args.synth_dir).items()}
    log.info("%s", table(results))
    if args.json:
        args.json.write_text(json.dumps({k: asdict(v) for k, v in results.items()}, indent=2))


if __name__ == "__main__":
    main()
