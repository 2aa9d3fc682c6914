"""Finding one passage and what followed it, live first and then in the journal, with bounded reads.

The journal indexes messages by type, lane, time and message id, not by passage id, so a passage older than the
live state's ring is searched by lane and time when its id carries them (the lane reader's ids read
``<lane>-<first seen, ms>-<n>``), else among the newest passages only. Every read is capped: a request can never
make the API decode the whole journal.
"""

from __future__ import annotations

import re
from typing import Final

from api.live import LiveState
from bus.journal import CorruptEntryError, Journal
from bus.messages import ClearanceDecision, GateAck, GateCommand, OperatorAction, VehiclePassage
from control.operator_actions import override_decision_id

MAX_ROWS: Final = 5000
PASSAGE_SPAN_S: Final = 6 * 3600.0
"""How long after its first sighting a passage may still be journalled (a truck held at the barrier)."""
LOOKBACK_S: Final = 120.0
_READER_ID: Final = re.compile(r"^(?P<lane>[A-Za-z0-9_.:\-]+)-(?P<ms>\d{12,14})-\d+$")
_OVERRIDE_PREFIX: Final = "ovr-"


def find_passage(live: LiveState, journal: Journal, passage_id: str) -> VehiclePassage | None:
    """The passage, from the live state or the journal; None if it cannot be found within the bounds."""
    found = live.passage(passage_id)
    if found is not None:
        return found
    match = _READER_ID.match(passage_id)
    if match is not None:
        first = int(match["ms"]) / 1000.0
        entries = journal.query(types=VehiclePassage, lane=match["lane"], since_utc=first - LOOKBACK_S,
                                until_utc=first + PASSAGE_SPAN_S, limit=MAX_ROWS)
    else:
        entries = journal.query(types=VehiclePassage, newest_first=True, limit=MAX_ROWS)
    for entry in entries:
        message = entry.message
        if isinstance(message, VehiclePassage) and message.passage_id == passage_id:
            return message
    return None


def decisions_for(journal: Journal, passage: VehiclePassage) -> list[ClearanceDecision]:
    """The passage's decisions in journal order (the last one is the one in force)."""
    first = passage.first_seen_utc
    entries = journal.query(types=ClearanceDecision, lane=passage.lane_id, since_utc=first - LOOKBACK_S,
                            until_utc=first + PASSAGE_SPAN_S, limit=MAX_ROWS)
    return [e.message for e in entries
            if isinstance(e.message, ClearanceDecision) and e.message.passage_id == passage.passage_id]


def latest_decision(live: LiveState, journal: Journal, passage: VehiclePassage) -> ClearanceDecision | None:
    decision = live.latest_decision(passage.passage_id)
    if decision is not None:
        return decision
    decisions = decisions_for(journal, passage)
    return decisions[-1] if decisions else None


def acks_for(journal: Journal, passage: VehiclePassage) -> list[tuple[GateAck, GateCommand]]:
    """The barrier's answers to the passage's commands, with the command each answers, in journal order."""
    since, until = passage.first_seen_utc - LOOKBACK_S, passage.first_seen_utc + PASSAGE_SPAN_S
    commands = {e.message.command_id: e.message
                for e in journal.query(types=GateCommand, lane=passage.lane_id, since_utc=since, until_utc=until,
                                       limit=MAX_ROWS)
                if isinstance(e.message, GateCommand) and e.message.passage_id == passage.passage_id}
    if not commands:
        return []
    return [(e.message, commands[e.message.command_id])
            for e in journal.query(types=GateAck, lane=passage.lane_id, since_utc=since, until_utc=until,
                                   limit=MAX_ROWS)
            if isinstance(e.message, GateAck) and e.message.command_id in commands]


def action_for(live: LiveState, journal: Journal, decision: ClearanceDecision) -> OperatorAction | None:
    """The operator action behind an override decision: remembered live, journalled under its action id (the API
    sends actions with ``id == action_id``), or among the actions journalled shortly before the decision."""
    if not decision.decision_id.startswith(_OVERRIDE_PREFIX):
        return None
    action = live.action_for(decision.decision_id)
    if action is not None:
        return action
    try:
        entry = journal.get(decision.decision_id.removeprefix(_OVERRIDE_PREFIX))
    except CorruptEntryError:
        entry = None
    if entry is not None and isinstance(entry.message, OperatorAction) \
            and override_decision_id(entry.message.action_id) == decision.decision_id:
        return entry.message
    for found in journal.query(types=OperatorAction, since_utc=decision.ts_utc - LOOKBACK_S,
                               until_utc=decision.ts_utc + 1.0, newest_first=True, limit=MAX_ROWS):
        if isinstance(found.message, OperatorAction) \
                and override_decision_id(found.message.action_id) == decision.decision_id:
            return found.message
    return None
