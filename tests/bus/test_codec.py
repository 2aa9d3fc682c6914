"""Encoding and decoding of bus messages, and every way a hostile payload is refused."""

from __future__ import annotations

import contextlib

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bus.codec import HEADER, MAX_MESSAGE_BYTES, MessageError, decode, decode_as, encode
from bus.messages import MESSAGE_TYPES, GateAck, GateCommand, Heartbeat, Message
from tests.bus.samples import all_messages, vehicle_passage


def _raw(obj: object) -> bytes:
    return HEADER + msgspec.msgpack.encode(obj)


def test_samples_cover_every_message_type() -> None:
    assert {type(m) for m in all_messages()} == set(MESSAGE_TYPES)


@pytest.mark.parametrize("message", all_messages(), ids=lambda m: type(m).__name__)
def test_round_trip(message: Message) -> None:
    payload = encode(message)
    assert payload.startswith(b"SG\x01")
    assert decode(payload) == message
    assert decode(memoryview(payload)) == message


def test_wire_tag_names_type_and_version() -> None:
    assert GateCommand.wire_tag() == "GateCommand.v1"
    assert b"GateCommand.v1" in encode(all_messages()[2])


def test_messages_are_frozen() -> None:
    message = Heartbeat(sender="a", role="b", seq=1)
    with pytest.raises(AttributeError):
        message.seq = 2  # type: ignore[misc]


def test_passage_is_compact() -> None:
    """A two-container passage with evidence fits comfortably in one small frame."""
    assert len(encode(vehicle_passage())) < 1500


GOOD = encode(Heartbeat(sender="a", role="b", seq=1))
HEARTBEAT_FIELDS = {"type": "Heartbeat.v1", "sender": "a", "role": "b", "seq": 1}


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"", "empty"),
        (b"S", "truncated"),
        (b"XY\x01" + GOOD[3:], "bad_magic"),
        (b"SG\x02" + GOOD[3:], "wrong_version"),
        (GOOD[:-4], "truncated"),
        (HEADER, "truncated"),
        (HEADER + b"\xc1", "malformed"),
        (_raw({**HEARTBEAT_FIELDS, "type": "Heartbeat.v2"}), "unknown_type"),
        (_raw({**HEARTBEAT_FIELDS, "type": "Nonsense.v1"}), "unknown_type"),
        (_raw({k: v for k, v in HEARTBEAT_FIELDS.items() if k != "type"}), "unknown_type"),
        (_raw({**HEARTBEAT_FIELDS, "seq": -1}), "invalid"),
        (_raw({**HEARTBEAT_FIELDS, "sender": ""}), "invalid"),
        (_raw({**HEARTBEAT_FIELDS, "sender": "x" * 65}), "invalid"),
        (_raw({**HEARTBEAT_FIELDS, "status": "exploded"}), "invalid"),
        (_raw({**HEARTBEAT_FIELDS, "id": "has spaces and ; semicolons"}), "invalid"),
        (_raw([1, 2, 3]), "invalid"),
        (_raw("just a string"), "invalid"),
        (_raw({"type": "GateCommand.v1", "command_id": "c", "lane_id": "L", "passage_id": "p", "action": "OPEN",
               "seq": 1}), "invalid"),
        (HEADER + b"\x00" * (MAX_MESSAGE_BYTES + 1), "oversized"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_bad_payload_is_refused_by_name(payload: bytes, reason: str) -> None:
    with pytest.raises(MessageError) as caught:
        decode(payload)
    assert caught.value.reason == reason
    assert reason in str(caught.value)


def test_confidence_out_of_range_is_invalid() -> None:
    fields = msgspec.to_builtins(vehicle_passage())
    fields["plates"][0]["confidence"] = 7.0
    with pytest.raises(MessageError, match=r"invalid: .*confidence"):
        decode(_raw(fields))


def test_collection_bounds_are_enforced() -> None:
    fields = msgspec.to_builtins(vehicle_passage())
    fields["plates"] = fields["plates"] * 40
    with pytest.raises(MessageError) as caught:
        decode(_raw(fields))
    assert caught.value.reason == "invalid"


def test_receiver_limit_can_be_tighter() -> None:
    with pytest.raises(MessageError, match="oversized"):
        decode(encode(vehicle_passage()), max_bytes=100)


def test_decode_as_checks_the_type() -> None:
    assert decode_as(GOOD, Heartbeat).seq == 1
    with pytest.raises(MessageError) as caught:
        decode_as(GOOD, GateAck)
    assert caught.value.reason == "wrong_type"


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=512))
def test_random_bytes_only_ever_raise_message_error(data: bytes) -> None:
    for payload in (data, HEADER + data):
        with contextlib.suppress(MessageError):
            decode(payload)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=10_000), st.data())
def test_mutated_messages_only_ever_raise_message_error(position: int, data: st.DataObject) -> None:
    payload = bytearray(encode(vehicle_passage()))
    index = position % len(payload)
    payload[index] = data.draw(st.integers(min_value=0, max_value=255))
    with contextlib.suppress(MessageError):
        decode(bytes(payload))
