"""The clearance engine: passages and operator overrides in, journalled decisions and gate commands out.

The journal-before-send protocol, which makes every decision end exactly once at the gate across crashes:

1. A decision is journalled in ONE transaction with its input (the `VehiclePassage`, or the `OperatorAction` of an
   override) and the `GateCommand` that carries it out (``command_id``, lane ``seq`` and ``expires_utc`` fixed
   here). Nothing is sent before that commit; if the journal refuses, nothing is sent at all (the barrier stays as
   it is, which for a new truck means closed), the refusal is counted and logged, and the engine keeps running.
2. The command is delivered; the `GateAck` that comes back is journalled. Until then the command stays at the head
   of its lane's queue, and commands of one lane go out in ``seq`` order.
3. After a crash, `recover` replays the journal: a command without an ack is delivered again UNCHANGED (same
   ``command_id``, ``seq``, expiry). The gate controller answers a ``command_id`` it has executed from its cache,
   so nothing runs twice; one it never saw is executed if still fresh, or refused as expired (and the refusal is
   journalled as the command's ack). The links start from the highest journalled ``seq`` of their lane.
4. A command nobody answers is retried (unchanged) with backoff until ``ack_grace_s`` after its expiry, then a
   refusing `GateAck` written by the engine (``state="fault"``, ``error`` starting ``"no ack before expiry"``)
   is journalled in its place: the command can no longer be executed, and the record says what happened.

So every journalled decision has exactly one command and, eventually, exactly one ack: accepted, refused by the
controller (expired, out of order, barrier fault) or "no ack before expiry".

Outcome to barrier: ``OPEN`` opens; ``HOLD``, ``INSPECT`` and ``REJECT`` send ``HOLD`` (stay closed, an officer
decides). Sockets are the links' business and the clock is injected; the engine owns no thread.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

import msgspec

from bus.codec import MessageError
from bus.journal import Journal, JournalError
from bus.messages import (
    MAX_ITEMS,
    ClearanceDecision,
    Declaration,
    DeclarationCancelled,
    DeclarationProblem,
    DeclarationRejected,
    DeclarationSubmitted,
    GateAck,
    GateCommand,
    Message,
    OperatorAction,
    Outcome,
    VehiclePassage,
    now_utc,
)
from control.clearance_rules import ClearanceRules
from control.decide import decide
from control.declarations import CANDIDATE_SLACK_S, MAX_VALIDITY_S, DeclarationBook, DeclarationError
from control.gate_link import GateAction, GateLink, GateLinkError
from control.operator_actions import (
    OperatorActionError,
    OperatorPolicy,
    derived_id,
    override,
    override_decision_id,
)

log = logging.getLogger(__name__)

GATE_ACTION: Final[dict[Outcome, GateAction]] = {"OPEN": "OPEN", "HOLD": "HOLD", "INSPECT": "HOLD", "REJECT": "HOLD"}
NO_ACK_ERROR: Final = "no ack before expiry"
DECISION_TYPES: Final = (VehiclePassage, ClearanceDecision, GateCommand, GateAck)
DECLARATION_HORIZON_S: Final = MAX_VALIDITY_S + CANDIDATE_SLACK_S
"""How far back declarations are replayed: the longest validity window, and the slack a late truck is given."""
_REPLAY_PAGE: Final = 5000

CrashHook = Callable[[str], None]
"""Called at each step of the protocol with its name (tests use it to die there; production passes none)."""
LinkFactory = Callable[[str, int], GateLink]
"""Builds the link of a lane given the highest ``seq`` journalled for it."""

# The protocol's steps, in order, as passed to the crash hook.
AFTER_RECEIVE: Final = "after_receive"
AFTER_JOURNAL: Final = "after_journal"
AFTER_SEND: Final = "after_send"
AFTER_ACK: Final = "after_ack"
CRASH_POINTS: Final = (AFTER_RECEIVE, AFTER_JOURNAL, AFTER_SEND, AFTER_ACK)


def gate_action_for(outcome: Outcome) -> GateAction:
    """What the barrier is told for an outcome: only OPEN opens."""
    return GATE_ACTION[outcome]


def command_id_for(decision_id: str) -> str:
    """The gate command carrying a decision; derived, so a journalled command can be matched to its decision."""
    return derived_id("cmd", decision_id)


@dataclass(frozen=True)
class ClearanceConfig:
    """Timing of the engine, in seconds.

    ``command_validity_s`` must stay within the controllers' ``max_validity_s`` (30 s by default).
    ``max_input_age_s`` bounds how old a passage may be when it is decided (a replayed old passage is refused).
    ``horizon_s`` is how far back `recover` reads the journal and how long decided passages are remembered.
    """

    command_validity_s: float = 10.0
    max_input_age_s: float = 30.0
    max_clock_skew_s: float = 5.0
    ack_grace_s: float = 3.0
    retry_s: float = 0.25
    max_retry_s: float = 4.0
    horizon_s: float = 24 * 3600.0
    checkpoint_every_s: float = 1.0
    """How often, while no command waits, the journal's write-ahead log is checkpointed (`Journal.checkpoint`)."""

    def __post_init__(self) -> None:
        for name in ("command_validity_s", "max_input_age_s", "max_clock_skew_s", "ack_grace_s", "retry_s",
                     "max_retry_s", "horizon_s", "checkpoint_every_s"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
        if self.horizon_s <= self.max_input_age_s:
            raise ValueError("horizon_s must be longer than max_input_age_s (replays are refused by memory or age)")


@dataclass
class Ledger:
    """What the journal says about decisions: rebuilt by replay after a restart, updated after every commit."""

    decisions: dict[str, ClearanceDecision] = field(default_factory=dict)
    latest: dict[str, str] = field(default_factory=dict)
    """passage id -> id of its latest decision (an override supersedes the engine's)."""
    commands: dict[str, GateCommand] = field(default_factory=dict)
    acks: dict[str, GateAck] = field(default_factory=dict)
    last_seq: dict[str, int] = field(default_factory=dict)

    def record(self, message: Message) -> None:
        if isinstance(message, ClearanceDecision):
            self.decisions[message.decision_id] = message
            self.latest[message.passage_id] = message.decision_id
        elif isinstance(message, GateCommand):
            self.commands[message.command_id] = message
            self.last_seq[message.lane_id] = max(self.last_seq.get(message.lane_id, 0), message.seq)
        elif isinstance(message, GateAck):
            self.acks.setdefault(message.command_id, message)

    def latest_decisions(self) -> dict[str, ClearanceDecision]:
        """Passage id → its latest decision (an operator's override rather than the engine's)."""
        return {passage_id: self.decisions[decision_id] for passage_id, decision_id in self.latest.items()}

    def current(self, passage_id: str | None, decision_id: str | None) -> ClearanceDecision | None:
        """The latest decision of the passage named directly, or through one of its decisions."""
        if passage_id is None and decision_id is not None and decision_id in self.decisions:
            passage_id = self.decisions[decision_id].passage_id
        latest = self.latest.get(passage_id) if passage_id is not None else None
        return self.decisions.get(latest) if latest is not None else None

    def pending(self) -> list[GateCommand]:
        """Journalled commands of known decisions that have no journalled ack, in lane and ``seq`` order.

        A command that matches no decision (a stray on the bus that the journal recorder stored) is never sent.
        """
        ours = {command_id_for(d) for d in self.decisions}
        waiting = [c for c in self.commands.values() if c.command_id not in self.acks and c.command_id in ours]
        return sorted(waiting, key=lambda c: (c.lane_id, c.seq))

    def forget_before(self, before_utc: float) -> None:
        """Drop what is older than the horizon, keeping unanswered commands and the lanes' highest ``seq``."""
        old = [d for d, decision in self.decisions.items() if decision.ts_utc < before_utc]
        for decision_id in old:
            decision = self.decisions.pop(decision_id)
            if self.latest.get(decision.passage_id) == decision_id:
                del self.latest[decision.passage_id]
        answered = [c for c, command in self.commands.items() if command.ts_utc < before_utc and c in self.acks]
        for command_id in answered:
            del self.commands[command_id]
            del self.acks[command_id]


@dataclass
class _Lane:
    """One lane's link and its commands waiting for an ack (head first), with the retry backoff."""

    link: GateLink
    queue: deque[GateCommand] = field(default_factory=deque)
    retry_at: float = 0.0
    backoff_s: float = 0.0
    unjournalled: GateAck | None = None


class ClearanceEngine:
    """Decides passages, applies overrides and drives the lanes' gate links under the journal-before-send protocol.

    Call `recover` once before anything else; then `take_passage`, `take_declaration`, `take_action` as messages
    arrive, and `pump` and `tick` from the owner's loop. Each returns the journalled messages to publish on the bus
    (the very objects journalled, so the journal recorder's copy is idempotent). One thread owns an engine.
    """

    def __init__(self, journal: Journal, open_link: LinkFactory, lanes: Sequence[str], rules: ClearanceRules, *,
                 book: DeclarationBook | None = None, config: ClearanceConfig | None = None,
                 policy: OperatorPolicy | None = None, hook: CrashHook | None = None,
                 utc: Callable[[], float] = now_utc, clock: Callable[[], float] = time.monotonic) -> None:
        self.journal = journal
        self.rules = rules
        self.book = book if book is not None else DeclarationBook()
        self.config = config or ClearanceConfig()
        self.policy = policy or OperatorPolicy()
        self.ledger = Ledger()
        self.counters: Counter[str] = Counter()
        self._open_link = open_link
        self._lane_ids = tuple(lanes)
        self._lanes: dict[str, _Lane] = {}
        self._hook = hook or (lambda _point: None)
        self._utc = utc
        self._clock = clock
        self._next_prune = 0.0
        self._next_checkpoint = 0.0

    @property
    def links(self) -> Mapping[str, GateLink]:
        return {lane_id: lane.link for lane_id, lane in self._lanes.items()}

    def pending(self) -> int:
        """Commands journalled and not yet acknowledged (with an ack journalled), over all lanes."""
        return sum(len(lane.queue) for lane in self._lanes.values())

    # --- recovery --------------------------------------------------------------------------------------------------

    def recover(self) -> list[Message]:
        """Rebuild from the journal, open the links, queue unanswered commands, and decide fresh passages that
        were journalled (by the recorder) but never decided. Raises `JournalError` if the journal cannot be read."""
        now = self._utc()
        for message in self._replay((DeclarationSubmitted, DeclarationCancelled), now - DECLARATION_HORIZON_S):
            if isinstance(message, DeclarationSubmitted):
                self._book_add(message, journalled=True)
            elif isinstance(message, DeclarationCancelled):
                self.book.cancel(message.declaration_id)
        inputs: list[VehiclePassage] = []
        for message in self._replay(DECISION_TYPES, now - self.config.horizon_s):
            if isinstance(message, VehiclePassage):
                inputs.append(message)
            else:
                self.ledger.record(message)
        for lane_id in self._lane_ids:
            last_seq = max(self.ledger.last_seq.get(lane_id, 0), self._journalled_seq(lane_id))
            self._lanes[lane_id] = _Lane(self._open_link(lane_id, last_seq))
        for command in self.ledger.pending():
            self._queue_recovered(command)
        out: list[Message] = []
        for passage in inputs:
            if passage.passage_id not in self.ledger.latest:
                out += self.take_passage(passage)
        log.info("recovered: %d decisions, %d commands awaiting an ack, %d declarations, %d passages decided late",
                 len(self.ledger.decisions), self.pending(), len(self.book),
                 sum(isinstance(m, ClearanceDecision) for m in out))
        return out

    def _replay(self, types: tuple[type[Message], ...], since_utc: float) -> Iterator[Message]:
        cursor = 0
        while True:
            page = self.journal.query(types=types, since_utc=since_utc, after_seq=cursor, limit=_REPLAY_PAGE)
            if not page:
                return
            cursor = page[-1].seq
            yield from (entry.message for entry in page)

    def _journalled_seq(self, lane_id: str) -> int:
        """The lane's newest journalled command, also when it is older than the horizon."""
        newest = self.journal.query(types=GateCommand, lane=lane_id, newest_first=True, limit=1)
        message = newest[0].message if newest else None
        return message.seq if isinstance(message, GateCommand) else 0

    def _queue_recovered(self, command: GateCommand) -> None:
        lane = self._lanes.get(command.lane_id)
        if lane is None:
            log.error("journalled command %s for lane %s, which has no gate link now: left unanswered",
                      command.command_id, command.lane_id)
            self.counters["recovery.no_link"] += 1
            return
        lane.queue.append(command)
        self.counters["recovery.redeliver"] += 1
        log.warning("lane %s: re-delivering %s %s (seq %d) journalled before the restart", command.lane_id,
                    command.action, command.command_id, command.seq)

    # --- inputs ----------------------------------------------------------------------------------------------------

    def take_passage(self, passage: VehiclePassage) -> list[Message]:
        """Decide a passage, journal it with its command, queue the command; returns what to publish."""
        refusal = self._refuse_passage(passage)
        if refusal is not None:
            self.counters[f"dropped.{refusal}"] += 1
            log.info("passage %s dropped: %s", passage.passage_id, refusal)
            return []
        self._hook(AFTER_RECEIVE)
        decision = decide(passage, self.book.candidates(passage), self.rules, self._utc())
        published = self._commit(passage, decision)
        if published:
            self.counters[f"decided.{decision.outcome}"] += 1
        return published

    def _refuse_passage(self, passage: VehiclePassage) -> str | None:
        if passage.lane_id not in self._lanes:
            return "unknown_lane"
        if passage.passage_id in self.ledger.latest:
            return "replayed"
        age = self._utc() - passage.ts_utc
        if age > self.config.max_input_age_s or age < -self.config.max_clock_skew_s:
            return "stale"
        return None

    def take_action(self, action: OperatorAction, *, authenticated_as: str | None = None) -> list[Message]:
        """Apply an operator override: journal who, when, why with the new decision and its command, then send.

        A refused action is journalled alone (an audit of who tried what), logged and counted.
        """
        if override_decision_id(action.action_id) in self.ledger.decisions:
            self.counters["actions.replayed"] += 1
            return []
        current = self.ledger.current(action.passage_id, action.decision_id)
        try:
            decision = override(action, current, self.policy, authenticated_as=authenticated_as,
                                now_utc=self._utc())
        except OperatorActionError as exc:
            self.counters[f"actions.refused.{exc.code}"] += 1
            log.warning("operator action %s by %s refused: %s", action.action_id, action.operator, exc)
            self._audit(action)
            return []
        published = self._commit(action, decision)
        if published:
            self.counters[f"actions.applied.{decision.outcome}"] += 1
            log.warning("operator %s overrode passage %s to %s: %s", action.operator, decision.passage_id,
                        decision.outcome, action.reason)
        return published

    def take_declaration(self, submitted: DeclarationSubmitted) -> bool:
        """Validate a declaration, journal it, then add it to the book; False if refused (logged and counted) or
        already held."""
        problems = self.book.check(submitted.declaration)
        if problems:
            self._declaration_refused(submitted, DeclarationError(submitted.declaration.declaration_id, problems))
            return False
        if self.book.get(submitted.declaration.declaration_id) is not None:
            self.counters["declarations.duplicate"] += 1
            return False
        try:
            self.journal.append(submitted)
        except (JournalError, MessageError) as exc:
            self.counters["declarations.refused.journal"] += 1
            log.error("declaration %s not accepted: cannot journal it: %s",
                      submitted.declaration.declaration_id, exc)
            return False
        self._book_add(submitted, journalled=False)
        return True

    def take_cancellation(self, cancelled: DeclarationCancelled) -> bool:
        """Journal an operator's cancellation, then drop the declaration from the book (a truck on it is then
        decided as one without a declaration, and its id is refused from now on); True if it was held. Not
        applied when it cannot be journalled (logged and counted)."""
        try:
            self.journal.append(cancelled)
        except (JournalError, MessageError) as exc:
            self.counters["declarations.cancel_refused.journal"] += 1
            log.error("cancellation of declaration %s not applied: cannot journal it: %s",
                      cancelled.declaration_id, exc)
            return False
        held = self.book.cancel(cancelled.declaration_id)
        self.counters["declarations.cancelled" if held else "declarations.cancelled_unknown"] += 1
        log.warning("declaration %s cancelled by %s%s: %s", cancelled.declaration_id, cancelled.operator,
                    "" if held else " (it was not held)", cancelled.reason)
        return held

    def _book_add(self, submitted: DeclarationSubmitted, *, journalled: bool) -> None:
        try:
            added = self.book.add(submitted.declaration)
        except DeclarationError as exc:
            if not journalled:
                self._declaration_refused(submitted, exc)
            return
        if added:
            self.counters["declarations.accepted"] += 1

    def _declaration_refused(self, submitted: DeclarationSubmitted, error: DeclarationError) -> None:
        """Count, log and journal the refusal with its reasons (a journal failure only loses the audit record)."""
        for code in error.codes:
            self.counters[f"declarations.refused.{code}"] += 1
        log.warning("%s (from %s)", error, submitted.source)
        problems = tuple(DeclarationProblem(field=p.field[:256], code=p.code[:64], message=p.message[:2000])
                         for p in error.problems) or (DeclarationProblem(field="", code="invalid", message=str(error)),)
        try:
            self.journal.append(DeclarationRejected(declaration_id=submitted.declaration.declaration_id[:256],
                                                    source=submitted.source, problems=problems[:MAX_ITEMS]))
        except (JournalError, MessageError) as exc:
            self.counters["declarations.refused.not_journalled"] += 1
            log.error("refusal of declaration %s not journalled: %s", submitted.declaration.declaration_id, exc)

    def _audit(self, action: OperatorAction) -> None:
        try:
            self.journal.append(action)
        except (JournalError, MessageError) as exc:
            log.error("refused operator action %s not journalled: %s", action.action_id, exc)

    # --- journal before send ---------------------------------------------------------------------------------------

    def _commit(self, cause: VehiclePassage | OperatorAction, decision: ClearanceDecision) -> list[Message]:
        """Journal cause, decision and command in one transaction; queue the command only once that committed."""
        lane = self._lanes[decision.lane_id]
        command = lane.link.prepare(gate_action_for(decision.outcome), decision.passage_id,
                                    self.config.command_validity_s, command_id=command_id_for(decision.decision_id))
        batch: list[Message] = [cause, decision, command]
        try:
            self.journal.append_many(batch)
        except (JournalError, MessageError) as exc:
            self.counters["refused.journal"] += 1
            log.error("lane %s: %s for passage %s NOT sent, it could not be journalled: %s", decision.lane_id,
                      command.action, decision.passage_id, exc)
            return []
        for message in batch:
            self.ledger.record(message)
        lane.queue.append(command)
        self._hook(AFTER_JOURNAL)
        return [decision, command]

    def pump(self) -> list[Message]:
        """Deliver what each lane has waiting, head first, and journal the acks; returns the acks to publish."""
        out: list[Message] = []
        for lane in self._lanes.values():
            out += self._pump_lane(lane)
        self._prune()
        return out

    def tick(self) -> None:
        """Heartbeats of every link: call at least once per heartbeat interval. While no command waits, also the
        journal's checkpoint, so that its cost never falls between a passage and its barrier command (the service
        opens the journal with `autocheckpoint=False`)."""
        for lane in self._lanes.values():
            lane.link.tick()
        now = self._clock()
        if now >= self._next_checkpoint and not self.pending():
            self._next_checkpoint = now + self.config.checkpoint_every_s
            try:
                self.journal.checkpoint()
            except JournalError as exc:
                self.counters["journal.checkpoint_failed"] += 1
                log.warning("journal checkpoint failed (the log grows until one succeeds): %s", exc)

    def close(self) -> None:
        for lane in self._lanes.values():
            lane.link.close()

    def _pump_lane(self, lane: _Lane) -> list[Message]:
        out: list[Message] = []
        while lane.queue and self._clock() >= lane.retry_at:
            head = lane.queue[0]
            if lane.unjournalled is not None:
                ack: GateAck | None = lane.unjournalled
            elif lane.link.controller_lost:
                ack = self._wait_for_controller(lane, head)
            else:
                ack = self._deliver(lane, head)
            if ack is None or not self._settle(lane, ack):
                break
            out.append(ack)
        return out

    def _answerable(self, command: GateCommand) -> bool:
        """Whether an ack for `command` can still come: until its expiry and the grace after it."""
        return self._utc() <= command.expires_utc + self.config.ack_grace_s

    def _wait_for_controller(self, lane: _Lane, command: GateCommand) -> GateAck | None:
        """A controller whose heartbeats stopped is not waited on: a delivery would block the loop for the link's
        timeout and retries, and stall the other lanes' trucks. Its command is tried again once it is heard (the
        heartbeats go on in `tick`), or reported as unanswered when it can no longer be answered in time."""
        self.counters["gate.controller_lost"] += 1
        if self._answerable(command):
            lane.retry_at = self._clock() + self.config.retry_s
            return None
        log.error("lane %s: %s %s (seq %d) expired while its controller was silent", command.lane_id,
                  command.action, command.command_id, command.seq)
        return unanswered_ack(command)

    def _deliver(self, lane: _Lane, command: GateCommand) -> GateAck | None:
        """The command's ack, a stand-in once it can no longer be answered in time, or None to retry later."""
        try:
            ack = lane.link.deliver(command)
        except GateLinkError as exc:
            self.counters["gate.no_answer"] += 1
            if self._answerable(command):
                lane.backoff_s = min(max(lane.backoff_s * 2, self.config.retry_s), self.config.max_retry_s)
                lane.retry_at = self._clock() + lane.backoff_s
                return None
            log.error("lane %s: %s %s (seq %d) expired without an ack: %s", command.lane_id, command.action,
                      command.command_id, command.seq, exc)
            return unanswered_ack(command)
        self._hook(AFTER_SEND)
        return ack

    def _settle(self, lane: _Lane, ack: GateAck) -> bool:
        """Journal the ack of the lane's head command; on failure keep it and try again later."""
        try:
            self.journal.append(ack)
        except (JournalError, MessageError) as exc:
            self.counters["refused.journal_ack"] += 1
            log.error("lane %s: ack of %s not journalled yet: %s", lane.link.lane_id, ack.command_id, exc)
            lane.unjournalled = ack
            lane.retry_at = self._clock() + self.config.retry_s
            return False
        command = lane.queue.popleft()
        lane.unjournalled, lane.backoff_s, lane.retry_at = None, 0.0, 0.0
        self.ledger.record(ack)
        self._count_ack(command, ack)
        self._hook(AFTER_ACK)
        return True

    def _count_ack(self, command: GateCommand, ack: GateAck) -> None:
        if ack.accepted:
            self.counters[f"gate.{command.action}.accepted"] += 1
            return
        self.counters[f"gate.{command.action}.refused"] += 1
        log.warning("lane %s: %s %s for passage %s refused: %s", command.lane_id, command.action,
                    command.command_id, command.passage_id, ack.error)

    def _prune(self) -> None:
        now = self._clock()
        if now < self._next_prune:
            return
        self._next_prune = now + 60.0
        before = self._utc() - self.config.horizon_s
        self.ledger.forget_before(before)
        self.book.prune(before)


def unanswered_ack(command: GateCommand) -> GateAck:
    """The record journalled for a command no controller answered before it expired (so it can never run)."""
    return GateAck(id=derived_id("noack", command.command_id), command_id=command.command_id,
                   lane_id=command.lane_id, seq=command.seq, accepted=False, state="fault",
                   error=f"{NO_ACK_ERROR}: the controller did not answer; the command can no longer be executed")


def feed_submission(declaration: Declaration, source: str = "feed") -> DeclarationSubmitted:
    """A feed line as the message journalled for it. Its id and stamp derive from its content, so reading the
    same file again after a restart journals nothing new, and a corrected line is a new record."""
    digest = hashlib.sha256(msgspec.json.encode(declaration)).hexdigest()[:40]
    return DeclarationSubmitted(id=f"decl-{digest}", ts_utc=declaration.valid_from_utc, declaration=declaration,
                                source=source)
