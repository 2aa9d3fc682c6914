"""The clearance side of one lane's gate link: numbered, expiring barrier commands, each acknowledged.

Why ``prepare`` and ``deliver`` are two steps: the clearance service must journal a command (its ``command_id``,
``seq`` and expiry) before it is sent, and after a crash deliver the journalled command again, unchanged. The
controller answers a ``command_id`` it has seen with the ack it gave the first time, so a re-delivery is never
executed twice. ``seq`` increases per lane and must survive restarts: the caller persists ``last_seq`` (or the
``seq`` of each journalled command) and passes it back as ``last_seq`` when it builds the link again.

Heartbeats go both ways: call ``tick()`` from the owner's loop (at least once per heartbeat interval).
``controller_alive`` says whether the controller answered within the expiry, and ``controller_status`` is the
last heartbeat it sent, whose ``status`` is ``"fault"`` while it has returned its barrier closed for a fault.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Self

from bus.curve import Security
from bus.heartbeat import HeartbeatConfig
from bus.messages import GateAck, GateCommand, Heartbeat, new_id, now_utc
from bus.reqrep import Client, RequestTimeout

log = logging.getLogger(__name__)

GateAction = Literal["OPEN", "CLOSE", "HOLD"]
MAX_SEQ = 2**63 - 1


class GateLinkError(RuntimeError):
    """A command whose outcome the link cannot tell; ``command`` is the command concerned."""

    def __init__(self, message: str, command: GateCommand) -> None:
        super().__init__(message)
        self.command = command


class GateTimeoutError(GateLinkError):
    """No ack after every attempt (all with the same ``command_id``). The command may or may not have been
    executed: deliver the same command again later (the controller answers it from its cache) or report it."""

    def __init__(self, command: GateCommand, attempts: int, timeout_s: float) -> None:
        super().__init__(f"no ack from lane {command.lane_id} to {command.action} {command.command_id} after "
                         f"{attempts} attempts of {timeout_s} s", command)
        self.attempts = attempts


class GateReplyError(GateLinkError):
    """The controller answered with something other than this command's ack."""


@dataclass(frozen=True)
class GateLinkConfig:
    """Per attempt ``timeout_s``; ``retries`` more attempts after the first; heartbeats as the controller's."""

    timeout_s: float = 1.0
    retries: int = 2
    heartbeat: HeartbeatConfig = field(default_factory=HeartbeatConfig)

    def __post_init__(self) -> None:
        if not self.timeout_s > 0:
            raise ValueError(f"timeout_s must be > 0, got {self.timeout_s}")
        if self.retries < 0:
            raise ValueError(f"retries must be >= 0, got {self.retries}")


class GateLink:
    """Sends one lane's barrier commands and returns their acks. One thread owns it."""

    def __init__(self, lane_id: str, endpoint: str, security: Security, *, client_id: str | None = None,
                 last_seq: int = 0, config: GateLinkConfig | None = None,
                 utc: Callable[[], float] = now_utc) -> None:
        if not 0 <= last_seq < MAX_SEQ:
            raise ValueError(f"last_seq must be 0..{MAX_SEQ - 1}, got {last_seq}")
        self.lane_id = lane_id
        self.config = config or GateLinkConfig()
        self._last_seq = last_seq
        self._utc = utc
        self._status: Heartbeat | None = None
        self._client = Client(endpoint, security, client_id=client_id or f"clearance-{lane_id}",
                              heartbeat=self.config.heartbeat, on_heartbeat=self._heard)

    @property
    def last_seq(self) -> int:
        """The ``seq`` of the last command prepared; persist it, and pass it back after a restart."""
        return self._last_seq

    @property
    def controller_alive(self) -> bool:
        """True while the controller answered within the heartbeat expiry; False before it first did."""
        return self._client.server_alive

    @property
    def controller_status(self) -> Heartbeat | None:
        """The controller's last heartbeat (``status``, ``detail``); ``None`` before the first."""
        return self._status

    @property
    def controller_lost(self) -> bool:
        """True once a controller that was heard has gone silent past the heartbeat expiry (not before it is first
        heard: a link just opened has not lost anything yet)."""
        return self._status is not None and not self.controller_alive

    @property
    def controller_fault(self) -> bool:
        """True when the controller is silent or its last heartbeat reported a fault."""
        return not self.controller_alive or self._status is None or self._status.status == "fault"

    def prepare(self, action: GateAction, passage_id: str, expires_in_s: float, *,
                command_id: str | None = None) -> GateCommand:
        """Build the next command for this lane, with the next ``seq``; nothing is sent."""
        if not expires_in_s > 0:
            raise ValueError(f"expires_in_s must be > 0, got {expires_in_s}")
        now = self._utc()
        command = GateCommand(command_id=command_id or new_id(), lane_id=self.lane_id, passage_id=passage_id,
                              action=action, seq=self._last_seq + 1, expires_utc=now + expires_in_s, ts_utc=now)
        self._last_seq += 1
        return command

    def deliver(self, command: GateCommand) -> GateAck:
        """Send ``command`` (again, after a crash: unchanged) and return its ack, refusing or not.

        Raises ``GateTimeoutError`` when every attempt went unanswered, ``GateReplyError`` on a wrong answer.
        """
        if command.lane_id != self.lane_id:
            raise ValueError(f"command for lane {command.lane_id} given to the link of lane {self.lane_id}")
        try:
            reply = self._client.request(command, timeout_s=self.config.timeout_s, retries=self.config.retries)
        except RequestTimeout as exc:
            log.warning("lane %s: no ack to %s %s (seq %d)", self.lane_id, command.action, command.command_id,
                        command.seq)
            raise GateTimeoutError(command, exc.attempts, self.config.timeout_s) from None
        if not isinstance(reply, GateAck) or (reply.command_id, reply.lane_id, reply.seq) != (
                command.command_id, self.lane_id, command.seq):
            # e.g. a command_id reused for another command, answered from the bus's cache with the first one's ack
            raise GateReplyError(f"lane {self.lane_id}: {type(reply).__name__} is not the ack of "
                                 f"{command.command_id} (seq {command.seq})", command)
        return reply

    def send(self, action: GateAction, passage_id: str, expires_in_s: float, *,
             command_id: str | None = None) -> GateAck:
        """``prepare`` then ``deliver``, for callers that do not journal the command first."""
        return self.deliver(self.prepare(action, passage_id, expires_in_s, command_id=command_id))

    def tick(self) -> None:
        """Send a heartbeat when due, take in the controller's, and check its liveness."""
        self._client.tick()

    def snapshot(self) -> dict[str, int]:
        """The socket's counters (sent, retries, timeouts, refused handshakes, ...)."""
        return self._client.snapshot()

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _heard(self, beat: Heartbeat) -> None:
        previous = self._status
        self._status = beat
        if previous is None or previous.status != beat.status:
            log.log(logging.WARNING if beat.status == "fault" else logging.INFO, "lane %s controller %s: %s",
                    self.lane_id, beat.status, beat.detail)
