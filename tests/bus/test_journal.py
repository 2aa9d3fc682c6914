"""The journal's contract on both backends: durable appends, idempotency, queries, replay, corrupt rows."""

from __future__ import annotations

import msgspec
import pytest
import sqlalchemy as sa

from bus.codec import HEADER, MessageError, encode
from bus.journal import CorruptEntry, CorruptEntryError, Journal, JournalConflictError
from bus.journal_sql import events
from bus.messages import ClearanceDecision, GateAck, GateCommand, Heartbeat, Message, Telemetry
from tests.bus.samples import T0, all_messages


def _heartbeat(index: int, **fields) -> Heartbeat:
    return Heartbeat(id=f"hb-{index}", ts_utc=T0 + index, sender="gate", role="controller", seq=index, **fields)


def _command(index: int, lane: str) -> GateCommand:
    return GateCommand(id=f"cmd-{index}", ts_utc=T0 + index, command_id=f"c-{index}", lane_id=lane,
                       passage_id=f"p-{index}", action="OPEN", seq=index, expires_utc=T0 + index + 5)


def _telemetry(index: int, lane: str | None) -> Telemetry:
    return Telemetry(id=f"tel-{index}", ts_utc=T0 + index, device_id="barrier-1", kind="barrier", state="closed",
                     lane_id=lane)


def _dataset() -> list[Message]:
    """Ten messages at T0 + index, mixing types and lanes (None: site-wide)."""
    return [_command(0, "in-1"), _heartbeat(1), _command(2, "in-2"), _telemetry(3, "in-1"), _command(4, "in-1"),
            _heartbeat(5), _telemetry(6, None), _command(7, "in-2"), _heartbeat(8), _command(9, "in-1")]


def _insert_raw(url: str, rows: list[dict[str, object]]) -> None:
    """Write rows behind the journal's back, as a damaged disk or a newer build would leave them."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(sa.insert(events), rows)
    finally:
        engine.dispose()


def test_every_message_type_round_trips(journal: Journal) -> None:
    messages = all_messages()
    seqs = [journal.append(message) for message in messages]
    assert seqs == sorted(seqs)
    assert len(set(seqs)) == len(messages)
    for seq, message in zip(seqs, messages, strict=True):
        entry = journal.get(message.id)
        assert entry is not None
        assert (entry.seq, entry.type, entry.lane, entry.key, entry.ts_utc) == \
            (seq, message.wire_tag(), message.lane, message.id, message.ts_utc)
        assert entry.message == message
    assert [entry.message for entry in journal.replay()] == messages
    assert journal.last_seq() == seqs[-1]


def test_empty_journal(journal: Journal) -> None:
    assert journal.last_seq() == 0
    assert journal.count() == 0
    assert journal.get("nothing") is None
    assert journal.query() == []
    assert list(journal.replay()) == []
    assert journal.append_many([]) == []


def test_reappending_the_same_message_returns_its_first_seq(journal: Journal) -> None:
    first, second = _heartbeat(1), _heartbeat(2)
    seq = journal.append(first)
    assert journal.append(first) == seq
    assert journal.append(msgspec.structs.replace(first)) == seq  # an equal copy, as a retry would bring
    seqs = journal.append_many([second, first, second])
    assert seqs == [seqs[0], seq, seqs[0]]
    assert seqs[0] > seq
    assert journal.count() == 2


@pytest.mark.parametrize("batch", [False, True], ids=["append", "append_many"])
def test_a_different_message_under_a_journalled_id_is_refused(journal: Journal, batch: bool) -> None:
    journal.append(_heartbeat(1))
    impostor = _heartbeat(1, status="fault")
    with pytest.raises(JournalConflictError, match="hb-1"):
        journal.append_many([_heartbeat(2), impostor]) if batch else journal.append(impostor)
    assert journal.count() == 1  # the whole batch was rolled back: hb-2 is not stored either
    stored = journal.get("hb-1")
    assert stored is not None
    assert stored.message == _heartbeat(1)


def test_a_batch_holding_two_versions_of_one_id_is_refused_whole(journal: Journal) -> None:
    with pytest.raises(JournalConflictError):
        journal.append_many([_heartbeat(1), _heartbeat(2), _heartbeat(1, detail="changed")])
    assert journal.count() == 0


def test_append_many_keeps_order_and_stores_all(journal: Journal) -> None:
    messages = [_heartbeat(i) for i in range(1200)]  # spans several insert batches
    seqs = journal.append_many(messages)
    assert seqs == sorted(seqs)
    assert len(set(seqs)) == 1200
    assert [entry.key for entry in journal.replay(batch_size=499)] == [m.id for m in messages]
    assert journal.append_many(messages[::-1]) == seqs[::-1]


@pytest.mark.parametrize(("message", "error"), [
    (Heartbeat(sender="", role="gate", seq=1), MessageError),  # breaks min_length: would never decode again
    (Heartbeat(id="bad id with spaces", sender="s", role="gate", seq=1), MessageError),
    ("not a message", TypeError),
])
def test_messages_that_could_not_be_read_back_are_refused(journal: Journal, message: object,
                                                          error: type[Exception]) -> None:
    with pytest.raises(error):
        journal.append(message)  # type: ignore[arg-type]
    assert journal.count() == 0


@pytest.mark.parametrize(("filters", "expected"), [
    ({}, list(range(10))),
    ({"types": "GateCommand.v1"}, [0, 2, 4, 7, 9]),
    ({"types": GateCommand}, [0, 2, 4, 7, 9]),
    ({"types": [Heartbeat, "Telemetry.v1"]}, [1, 3, 5, 6, 8]),
    ({"types": []}, []),
    ({"types": "Unknown.v1"}, []),
    ({"lane": "in-1"}, [0, 3, 4, 9]),
    ({"lane": "in-1", "types": GateCommand}, [0, 4, 9]),
    ({"since_utc": T0 + 4}, [4, 5, 6, 7, 8, 9]),
    ({"until_utc": T0 + 4}, [0, 1, 2, 3]),
    ({"since_utc": T0 + 2, "until_utc": T0 + 7, "lane": "in-2"}, [2]),
    ({"after_seq": 5}, [5, 6, 7, 8, 9]),  # seqs are 1..10 here, so seq 6 is index 5
    ({"before_seq": 4}, [0, 1, 2]),
    ({"after_seq": 2, "before_seq": 6}, [2, 3, 4]),
    ({"before_seq": 9, "limit": 2, "newest_first": True}, [7, 6]),   # a newest-first page below a cursor
    ({"limit": 3}, [0, 1, 2]),
    ({"limit": 2, "newest_first": True}, [9, 8]),
    ({"types": GateAck}, []),
])
def test_query_filters(journal: Journal, filters: dict[str, object], expected: list[int]) -> None:
    messages = _dataset()
    assert journal.append_many(messages) == list(range(1, 11))
    found = journal.query(**filters)  # type: ignore[arg-type]
    assert [entry.message for entry in found] == [messages[i] for i in expected]
    count_filters = {k: v for k, v in filters.items() if k not in ("limit", "newest_first")}
    if "limit" not in filters:
        assert journal.count(**count_filters) == len(expected)  # type: ignore[arg-type]


@pytest.mark.parametrize(("call", "argument"), [
    ("query", {"limit": 0}), ("query", {"limit": 100_001}), ("query", {"limit": 2.5}),
    ("replay", {"batch_size": 0}), ("replay", {"batch_size": True}),
])
def test_bad_limits_are_refused(journal: Journal, call: str, argument: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="must be an integer"):
        list(getattr(journal, call)(**argument))


def test_replay_resumes_after_a_seq_and_filters_types(journal: Journal) -> None:
    messages = _dataset()
    journal.append_many(messages)
    assert [e.message for e in journal.replay(after_seq=7, batch_size=2)] == messages[7:]
    assert [e.key for e in journal.replay(types=Heartbeat, batch_size=1)] == ["hb-1", "hb-5", "hb-8"]
    replay = journal.replay(batch_size=3)
    first = [next(replay) for _ in range(3)]
    journal.append(_heartbeat(10))  # an append during a replay is seen by its later batches
    assert len(first) + len(list(replay)) == 11


def test_corrupt_rows_are_skipped_reported_and_counted(journal_url: str) -> None:
    with Journal.open(journal_url) as journal:
        journal.append(_heartbeat(1))
    good_payload = encode(_heartbeat(3))
    future = HEADER + msgspec.msgpack.encode({"type": "Future.v9", "id": "future-1"})
    row = {"lane": None, "ts_utc": T0, "recorded_utc": T0}
    _insert_raw(journal_url, [
        {**row, "type": "Heartbeat.v1", "key": "garbage-1", "payload": b"\x00garbage"},
        {**row, "type": "Future.v9", "key": "future-1", "payload": future},
        {**row, "type": "Heartbeat.v1", "key": "wrong-key", "payload": good_payload},
        {**row, "type": "Heartbeat.v1", "key": "truncated-1", "payload": encode(_heartbeat(4))[:-3]},
    ])
    with Journal.open(journal_url) as journal:
        journal.append(_heartbeat(2))
        seen: list[CorruptEntry] = []
        assert [e.key for e in journal.replay(batch_size=2, on_corrupt=seen.append)] == ["hb-1", "hb-2"]
        assert [(c.key, c.reason) for c in seen] == [("garbage-1", "bad_magic"), ("future-1", "unknown_type"),
                                                     ("wrong-key", "mismatch"), ("truncated-1", "truncated")]
        assert seen[0].payload == b"\x00garbage"
        assert journal.corrupt_skipped == 4
        assert [e.key for e in journal.query(types=Heartbeat)] == ["hb-1", "hb-2"]
        assert journal.corrupt_skipped == 7
        assert journal.count() == 6
        with pytest.raises(CorruptEntryError, match=r"future-1.*unknown_type") as caught:
            journal.get("future-1")
        assert caught.value.entry.seq == 3


def test_entries_survive_reopening(journal_url: str) -> None:
    messages = all_messages()
    with Journal.open(journal_url) as journal:
        seqs = journal.append_many(messages)
    with Journal.open(journal_url) as journal:
        assert [(e.seq, e.message) for e in journal.replay()] == list(zip(seqs, messages, strict=True))
        assert journal.append(_heartbeat(1)) > seqs[-1]


def test_recorded_time_comes_from_the_injected_clock(journal_url: str) -> None:
    with Journal.open(journal_url, clock=lambda: 1234.5) as journal:
        journal.append(_heartbeat(1))
        entry = journal.get("hb-1")
    assert entry is not None
    assert (entry.recorded_utc, entry.ts_utc) == (1234.5, T0 + 1)


def test_two_journals_on_one_store_see_each_other(journal_url: str) -> None:
    with Journal.open(journal_url) as first, Journal.open(journal_url) as second:
        first.append(_heartbeat(1))
        second.append(_heartbeat(2))
        assert second.append(_heartbeat(1)) == 1
        assert [e.key for e in first.replay()] == ["hb-1", "hb-2"]


def test_decision_is_queryable_by_lane_and_time(journal: Journal) -> None:
    decision = ClearanceDecision(decision_id="d-1", passage_id="p-1", lane_id="out-3", outcome="INSPECT",
                                 ts_utc=T0 + 50)
    journal.append(decision)
    found = journal.query(types=ClearanceDecision, lane="out-3", since_utc=T0 + 50, until_utc=T0 + 51)
    assert [entry.message for entry in found] == [decision]


@pytest.mark.parametrize("automatic", [True, False])
def test_without_autocheckpoint_the_log_waits_for_an_explicit_checkpoint(tmp_path, automatic: bool) -> None:
    path = tmp_path / "journal.sqlite"
    with Journal.open(path, synchronous="NORMAL", autocheckpoint=automatic) as journal:
        for i in range(400):  # one commit each, several log frames each: past SQLite's 1,000-frame automatic point
            journal.append(_heartbeat(i))
        waiting = journal.checkpoint()  # the frames not yet copied into the database (a PASSIVE checkpoint)
        assert (waiting > 1000) is not automatic
        assert journal.count() == 400
        journal.append(_heartbeat(400))
    with Journal.open(path) as reopened:
        assert reopened.count() == 401
