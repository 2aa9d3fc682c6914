"""Message counters kept by every socket wrapper of the transport.

A wrapper never raises on bad input from the network; it counts it. These counters are how an operator (and a
test) sees what was refused and why, so each refusal also lands under a short reason name.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Counters:
    """What one socket wrapper did since it was opened.

    ``received`` counts accepted messages only; ``rejected`` counts messages refused after they arrived (bad
    frames, undecodable payloads), ``refused`` counts connection handshakes refused (unknown CURVE key, plain
    peer on a CURVE socket). ``dropped`` counts messages known to be lost: publisher gaps seen by a subscriber,
    replies that could not be routed, stale replies discarded by a client.
    """

    sent: int = 0
    received: int = 0
    dropped: int = 0
    rejected: int = 0
    refused: int = 0
    retries: int = 0
    timeouts: int = 0
    duplicates: int = 0
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    refused_by_reason: dict[str, int] = field(default_factory=dict)

    def reject(self, reason: str) -> None:
        """Count one message refused for ``reason``."""
        self.rejected += 1
        self.rejected_by_reason[reason] = self.rejected_by_reason.get(reason, 0) + 1

    def refuse(self, reason: str) -> None:
        """Count one handshake refused for ``reason``."""
        self.refused += 1
        self.refused_by_reason[reason] = self.refused_by_reason.get(reason, 0) + 1

    def snapshot(self) -> dict[str, int]:
        """A flat copy, reasons as ``"rejected.<reason>"`` and ``"refused.<reason>"`` keys, for export."""
        flat = {
            "sent": self.sent,
            "received": self.received,
            "dropped": self.dropped,
            "rejected": self.rejected,
            "refused": self.refused,
            "retries": self.retries,
            "timeouts": self.timeouts,
            "duplicates": self.duplicates,
        }
        # dict() copies in one step, so an owner thread adding a reason meanwhile cannot break the loop.
        flat.update({f"rejected.{reason}": n for reason, n in sorted(dict(self.rejected_by_reason).items())})
        flat.update({f"refused.{reason}": n for reason, n in sorted(dict(self.refused_by_reason).items())})
        return flat
