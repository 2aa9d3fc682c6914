"""A journal writer process for the crash tests: appends numbered messages until it is killed.

Run as ``python -m tests.bus.journal_writer_proc URL [--batch N] [--prefix P]``. It prints ``READY`` once the
journal is open, then ``ACK <seq> <key>`` for each message, flushed, only after ``append`` (or ``append_many``)
has returned: every printed line is an acknowledgement the test may hold the journal to.
"""

from __future__ import annotations

import argparse
import sys
import time

from bus.journal import Journal
from bus.messages import ClearanceDecision, Reason

T0 = 1_795_000_000.0
LANES = ("in-1", "in-2", "out-1")


def make_message(prefix: str, index: int) -> ClearanceDecision:
    """The index-th message a writer with this prefix appends; the test rebuilds it to compare."""
    note = "x" * (index % 7 * 60)
    return ClearanceDecision(
        id=f"{prefix}-{index:07d}", ts_utc=T0 + index * 0.01, decision_id=f"d-{prefix}-{index}",
        passage_id=f"p-{index}", lane_id=LANES[index % len(LANES)], outcome="HOLD" if index % 2 else "OPEN",
        reasons=(Reason(code="test", en=f"message {index} {note}", vi=f"tin {index}"),), confidence=0.5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("--batch", type=int, default=1, help="messages per append_many (1: plain append)")
    parser.add_argument("--prefix", default="kill")
    parser.add_argument("--max-seconds", type=float, default=60.0, help="stop by itself if never killed")
    args = parser.parse_args(argv)
    journal = Journal.open(args.url)
    out = sys.stdout
    out.write("READY\n")
    out.flush()
    deadline = time.monotonic() + args.max_seconds
    index = 0
    while time.monotonic() < deadline:
        batch = [make_message(args.prefix, index + offset) for offset in range(args.batch)]
        seqs = journal.append(batch[0]) if args.batch == 1 else journal.append_many(batch)
        acks = zip(batch, [seqs] if isinstance(seqs, int) else seqs, strict=True)
        out.write("".join(f"ACK {seq} {message.id}\n" for message, seq in acks))  # one write per batch
        out.flush()
        index += args.batch
    journal.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
