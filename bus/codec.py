"""Binary encoding of bus messages: a 3-byte header and a MessagePack body (msgspec).

Wire layout, one ZeroMQ frame::

    b"SG" | wire version (1 byte) | MessagePack map with a "type" tag such as "GateCommand.v1"

msgspec was chosen over json, pickle and plain msgpack for speed and because it validates while it decodes
(`benchmarks/test_bench_codec.py` measures it). Every way a payload can be wrong ends in one ``MessageError``
whose ``reason`` names the problem; the receiver counts it and carries on.
"""

from __future__ import annotations

from typing import Final, Literal, TypeVar, cast

import msgspec

from bus.messages import AnyMessage, Message

MAGIC: Final = b"SG"
WIRE_VERSION: Final = 1
HEADER: Final = MAGIC + bytes([WIRE_VERSION])
MAX_MESSAGE_BYTES: Final = 4 * 1024 * 1024

ErrorReason = Literal["empty", "oversized", "bad_magic", "wrong_version", "truncated", "malformed", "unknown_type",
                      "invalid", "wrong_type"]


class MessageError(ValueError):
    """A payload that is not a valid message. ``reason`` is a short machine-readable name of the problem."""

    def __init__(self, reason: ErrorReason, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason: ErrorReason = reason
        self.detail = detail


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(AnyMessage)


def encode(message: Message) -> bytes:
    """Serialise one message with its header."""
    return HEADER + _encoder.encode(message)


def decode(payload: bytes | memoryview, *, max_bytes: int = MAX_MESSAGE_BYTES) -> AnyMessage:
    """Parse and validate one payload, or raise ``MessageError`` naming what is wrong with it."""
    data = bytes(payload) if isinstance(payload, memoryview) else payload
    _check_header(data, max_bytes)
    try:
        return cast(AnyMessage, _decoder.decode(memoryview(data)[len(HEADER):]))
    except msgspec.ValidationError as exc:
        text = str(exc)
        reason: ErrorReason = "unknown_type" if "`$.type`" in text or "field `type`" in text \
            else "invalid"
        raise MessageError(reason, text) from None
    except msgspec.DecodeError as exc:
        text = str(exc)
        raise MessageError("truncated" if "truncated" in text else "malformed", text) from None
    except (UnicodeDecodeError, ValueError, TypeError, OverflowError, RecursionError) as exc:
        # msgspec raises these for invalid UTF-8 in strings and similar; the receiver must see one error type.
        raise MessageError("malformed", f"{type(exc).__name__}: {exc}") from None


M = TypeVar("M", bound=Message)


def decode_as(payload: bytes | memoryview, expected: type[M], *,
                          max_bytes: int = MAX_MESSAGE_BYTES) -> M:
    """Decode and insist on one message type (a gate controller takes only ``GateCommand``, say)."""
    message = decode(payload, max_bytes=max_bytes)
    if not isinstance(message, expected):
        raise MessageError("wrong_type", f"expected {expected.wire_tag()}, got {type(message).wire_tag()}")
    return message


def _check_header(data: bytes, max_bytes: int) -> None:
    if not data:
        raise MessageError("empty", "empty payload")
    if len(data) > max_bytes:
        raise MessageError("oversized", f"{len(data)} bytes exceeds the limit of {max_bytes}")
    if len(data) < len(HEADER):
        raise MessageError("truncated", f"{len(data)} bytes is shorter than the {len(HEADER)}-byte header")
    if data[:2] != MAGIC:
        raise MessageError("bad_magic", f"header {data[:2]!r} is not {MAGIC!r}")
    if data[2] != WIRE_VERSION:
        raise MessageError("wrong_version", f"wire version {data[2]} is not {WIRE_VERSION}")
