"""The field side of one lane's gate link: takes ``GateCommand`` over the bus and drives the lane's barrier.

Fail safe by construction. A command is executed only if it is a well-formed ``GateCommand`` for this lane,
fresh (``ts_utc``), unexpired and not valid implausibly long (``expires_utc``), newer than the last one executed
(``seq``) and never seen before (``command_id``). Everything else is refused, counted by reason, and answered
with a refusing ``GateAck``. A repeated ``command_id`` gets the very ack it got the first time, from a cache keyed by
``command_id`` alone, so a retry over a new connection or from a restarted clearance service is never executed
twice (the bus's own reply cache only covers the same client id).

Silence from the clearance side (heartbeats, ``liveness`` intervals), an expired command or an internal error
sends the barrier back to closed, holding open while a vehicle is under it, and raises a fault that heartbeats
(``status="fault"``) and refusing acks report until the clearance side gets a fresh command accepted.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Self

from bus.curve import Security
from bus.heartbeat import HeartbeatConfig
from bus.messages import AnyMessage, GateAck, GateCommand, Message, now_utc
from bus.reqrep import Server, idempotency_key
from control.barrier import Barrier, BarrierState

log = logging.getLogger(__name__)

Status = Literal["ok", "degraded", "fault"]
MAX_DETAIL = 256
"""``Heartbeat.detail`` holds at most this many characters."""

LINK_LOST = "link_lost"
COMMAND_EXPIRED = "command_expired"
INTERNAL_ERROR = "internal_error"
BARRIER_FAULT = "barrier"


@dataclass(frozen=True)
class ControllerConfig:
    """One lane's controller: which lane it obeys, and how fresh a command must be (seconds)."""

    lane_id: str
    max_validity_s: float = 30.0
    """A command valid for longer than this (``expires_utc`` further ahead) is refused as implausible."""
    max_age_s: float = 30.0
    """A command stamped (``ts_utc``) longer ago than this is stale."""
    max_clock_skew_s: float = 5.0
    """A command stamped further in the future than this is stale too (a wrong clock, or a forgery)."""
    ack_cache_size: int = 4096

    def __post_init__(self) -> None:
        if not self.lane_id:
            raise ValueError("lane_id must not be empty")
        for name in ("max_validity_s", "max_age_s", "max_clock_skew_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if self.ack_cache_size < 1:
            raise ValueError(f"ack_cache_size must be >= 1, got {self.ack_cache_size}")


@dataclass
class ControllerCounters:
    """What the controller did: commands seen, executed, answered from cache, refused and faults, by reason."""

    commands: int = 0
    executed: int = 0
    duplicates: int = 0
    refused: int = 0
    faults: int = 0
    refused_by_reason: dict[str, int] = field(default_factory=dict)
    faults_by_reason: dict[str, int] = field(default_factory=dict)

    def refuse(self, reason: str) -> None:
        self.refused += 1
        self.refused_by_reason[reason] = self.refused_by_reason.get(reason, 0) + 1

    def fault(self, reason: str) -> None:
        self.faults += 1
        self.faults_by_reason[reason] = self.faults_by_reason.get(reason, 0) + 1

    def snapshot(self) -> dict[str, int]:
        """A flat copy: ``refused.<reason>`` and ``faults.<reason>`` next to the totals."""
        flat = {"commands": self.commands, "executed": self.executed, "duplicates": self.duplicates,
                "refused": self.refused, "faults": self.faults}
        flat.update({f"refused.{r}": n for r, n in sorted(dict(self.refused_by_reason).items())})
        flat.update({f"faults.{r}": n for r, n in sorted(dict(self.faults_by_reason).items())})
        return flat


class Refusal(Exception):  # noqa: N818 - a refusal, not an error of the controller
    """A command that must not be executed; ``reason`` is the counter name, ``detail`` says why."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


_Fingerprint = tuple[str, str, str, int, float]


def _fingerprint(command: GateCommand) -> _Fingerprint:
    """What makes two commands with one ``command_id`` the same command (a rebuilt retry has a new ``id``)."""
    return command.lane_id, command.passage_id, command.action, command.seq, command.expires_utc


class GateController:
    """The decisions of one lane's controller, apart from any socket: ``handle`` a message, ``tick`` the barrier,
    hear of the clearance side's liveness through ``link_changed``. One thread owns it."""

    def __init__(self, config: ControllerConfig, barrier: Barrier, *, utc: Callable[[], float] = now_utc) -> None:
        self.config = config
        self.barrier = barrier
        self.counters = ControllerCounters()
        self._utc = utc
        self._acks: OrderedDict[str, tuple[_Fingerprint, GateAck]] = OrderedDict()
        self._last_seq: int | None = None
        self._alarms: dict[str, str] = {}
        self._peers: set[str] = set()
        self._barrier_faulted = barrier.state is BarrierState.FAULT

    @property
    def last_seq(self) -> int | None:
        """The ``seq`` of the last command executed; ``None`` before the first."""
        return self._last_seq

    @property
    def faults(self) -> dict[str, str]:
        """Active faults by reason: the controller's own and, under ``barrier``, the barrier's."""
        active = dict(self._alarms)
        if self.barrier.fault is not None:
            active[BARRIER_FAULT] = self.barrier.fault
        return active

    def status(self) -> tuple[Status, str]:
        """For heartbeats: ``fault`` while any fault is active, and a detail naming the state and the faults."""
        faults = self.faults
        detail = f"state={self.barrier.state.value}"
        if faults:
            detail += "; faults=" + ", ".join(f"{k}: {v}" for k, v in sorted(faults.items()))
        return ("fault" if faults else "ok"), detail[:MAX_DETAIL]

    def handle(self, message: AnyMessage) -> GateAck:
        """Answer one request: execute a valid new command, replay the ack of a known one, refuse the rest."""
        try:
            return self._handle(message)
        except Exception:
            log.exception("internal error on %s", idempotency_key(message))
            self._raise_alarm(INTERNAL_ERROR, "error while handling a command")
            self.barrier.fail("controller internal error")
            self._watch_barrier()
            self.counters.refuse(INTERNAL_ERROR)
            ack = self._ack_for(message, Refusal(INTERNAL_ERROR, "the controller failed; the barrier returns closed"))
            # Remembered: the error may have struck after the barrier moved, so a retry must not run it again.
            return self._remember(message, ack) if isinstance(message, GateCommand) else ack

    def tick(self) -> BarrierState:
        """Advance the barrier; call it every few tens of milliseconds."""
        try:
            self.barrier.tick()
        except Exception:  # the barrier turns driver errors into faults; this is a bug in it
            log.exception("barrier tick failed")
            self._raise_alarm(INTERNAL_ERROR, "barrier tick failed")
            self.barrier.fail("barrier tick failed")
        self._watch_barrier()
        return self.barrier.state

    def link_changed(self, peer: str, alive: bool) -> None:
        """The clearance side (any authenticated client) was heard, or fell silent; the last one silent is a fault."""
        if alive:
            self._peers.add(peer)
            log.info("clearance link %s alive", peer)
            return
        self._peers.discard(peer)
        if not self._peers:
            log.warning("clearance link lost (%s silent): returning closed", peer)
            self._raise_alarm(LINK_LOST, f"no heartbeat from {peer}"[:64])
            self.barrier.fail_safe("clearance link lost")
            self._watch_barrier()

    # --- one command ---------------------------------------------------------------------------------------------

    def _handle(self, message: AnyMessage) -> GateAck:
        if not isinstance(message, GateCommand):
            self.counters.refuse("malformed")
            return self._ack_for(message, Refusal("malformed", f"expected a GateCommand, got {type(message).__name__}"))
        self.counters.commands += 1
        known = self._acks.get(message.command_id)
        if known is not None:
            return self._replay(message, *known)
        try:
            self._check(message)
        except Refusal as refusal:
            self.counters.refuse(refusal.reason)
            log.info("refused %s %s (seq %d): %s", message.action, message.command_id, message.seq, refusal)
            return self._remember(message, self._ack_for(message, refusal))
        return self._remember(message, self._execute(message))

    def _replay(self, command: GateCommand, fingerprint: _Fingerprint, ack: GateAck) -> GateAck:
        self._acks.move_to_end(command.command_id)
        if fingerprint != _fingerprint(command):
            self.counters.refuse("command_id_reuse")
            return self._ack_for(command, Refusal("command_id_reuse", "command_id already used for another command"))
        self.counters.duplicates += 1
        return ack

    def _check(self, command: GateCommand) -> None:
        """Raise ``Refusal`` unless ``command`` may be executed now."""
        config, now = self.config, self._utc()
        if command.lane_id != config.lane_id:
            raise Refusal("wrong_lane", f"command for lane {command.lane_id}, this is {config.lane_id}")
        if command.expires_utc <= now:
            self._expired(command, now)
        if command.ts_utc < now - config.max_age_s or command.ts_utc > now + config.max_clock_skew_s:
            raise Refusal("stale", f"sent {now - command.ts_utc:.1f} s ago")
        if command.expires_utc > now + config.max_validity_s:
            raise Refusal("expiry_too_far", f"valid for {command.expires_utc - now:.0f} s, at most "
                                            f"{config.max_validity_s:.0f} s allowed")
        if self._last_seq is not None and command.seq <= self._last_seq:
            raise Refusal("out_of_order", f"seq {command.seq} <= last executed {self._last_seq}")

    def _expired(self, command: GateCommand, now: float) -> None:
        """An expired command is refused, and the barrier returns closed: the clearance side is out of step."""
        detail = f"{command.action} expired {now - command.expires_utc:.1f} s ago"
        self._raise_alarm(COMMAND_EXPIRED, f"{command.command_id}: {detail}"[:120])
        self.barrier.fail_safe("expired command")
        self._watch_barrier()
        raise Refusal("expired", detail)

    def _execute(self, command: GateCommand) -> GateAck:
        result = self.barrier.command(command.action)
        self._watch_barrier()
        if not result.accepted:
            refusal = Refusal("barrier_fault", result.error or "barrier refused")
            self.counters.refuse(refusal.reason)
            return self._ack_for(command, refusal)
        self._last_seq = command.seq
        self.counters.executed += 1
        for alarm in (LINK_LOST, COMMAND_EXPIRED, INTERNAL_ERROR):
            self._alarms.pop(alarm, None)  # a fresh command accepted: the clearance side is back in step
        log.info("executed %s %s for passage %s (seq %d): %s", command.action, command.command_id,
                 command.passage_id, command.seq, result.state.value)
        return GateAck(command_id=command.command_id, lane_id=self.config.lane_id, seq=command.seq, accepted=True,
                       state=result.state.value)

    def _remember(self, command: GateCommand, ack: GateAck) -> GateAck:
        self._acks[command.command_id] = (_fingerprint(command), ack)
        if len(self._acks) > self.config.ack_cache_size:
            self._acks.popitem(last=False)
        return ack

    def _ack_for(self, message: Message, refusal: Refusal) -> GateAck:
        """A refusing ack; it names the active faults too, so the clearance side learns of them."""
        faults = self.faults
        error = str(refusal) + (f" [faults: {', '.join(sorted(faults))}]" if faults else "")
        command = message if isinstance(message, GateCommand) else None
        return GateAck(command_id=idempotency_key(message), lane_id=self.config.lane_id,
                       seq=command.seq if command is not None else 0, accepted=False,
                       state=self.barrier.state.value, error=error[:MAX_DETAIL])

    # --- faults --------------------------------------------------------------------------------------------------

    def _raise_alarm(self, reason: str, detail: str) -> None:
        if reason not in self._alarms:
            self.counters.fault(reason)
        self._alarms[reason] = detail

    def _watch_barrier(self) -> None:
        """Count the barrier's entry into fault once per fault."""
        faulted = self.barrier.state is BarrierState.FAULT
        if faulted and not self._barrier_faulted:
            log.warning("lane %s barrier fault: %s", self.config.lane_id, self.barrier.fault)
            self.counters.fault(BARRIER_FAULT)
        self._barrier_faulted = faulted


class GateControllerServer:
    """Serves one ``GateController`` on a CURVE ROUTER socket and ticks its barrier between requests.

    Drive it with ``step(timeout_s)`` from the owner's loop, or ``serve(stop)`` in a thread of its own; the
    counters (``snapshot``) may be read from any thread.
    """

    def __init__(self, controller: GateController, endpoint: str, security: Security, *,
                 heartbeat: HeartbeatConfig | None = None, name: str | None = None) -> None:
        self.controller = controller
        self._server = Server(endpoint, controller.handle, security, name=name or f"gate-{controller.config.lane_id}",
                              heartbeat=heartbeat or HeartbeatConfig(), on_peer_change=controller.link_changed,
                              status=controller.status)  # heartbeats carry the controller's faults
        self.endpoint = self._server.endpoint

    def step(self, timeout_s: float) -> None:
        """Answer what arrives within ``timeout_s``, check the clients' liveness, then tick the barrier."""
        self._server.poll(timeout_s)
        self.controller.tick()

    def serve(self, stop: threading.Event, *, tick_s: float = 0.02) -> None:
        while not stop.is_set():
            self.step(tick_s)

    def snapshot(self) -> dict[str, int]:
        """The controller's counters and, as ``bus.<name>``, the socket's (refused handshakes, bad frames)."""
        bus = {f"bus.{k}": v for k, v in self._server.snapshot().items()}
        return {**self.controller.counters.snapshot(), **bus}

    def close(self) -> None:
        self._server.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
