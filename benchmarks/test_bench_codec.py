"""Bus message encode/decode rate: msgspec MessagePack (the chosen encoding) against the alternatives.

The alternatives are measured on the same VehiclePassage in the same run so that the ratio is meaningful on a
noisy machine. JSON and pickle are shown for comparison only: the bus never accepts pickles (code execution on
load) and JSON is larger and slower.
"""

from __future__ import annotations

import json
import pickle

import msgspec
import pytest

from bus.codec import decode, encode
from tests.bus.samples import vehicle_passage

PASSAGE = vehicle_passage()
PACKED = encode(PASSAGE)
AS_DICT = msgspec.to_builtins(PASSAGE)
JSON_TEXT = json.dumps(AS_DICT).encode()
PICKLED = pickle.dumps(PASSAGE)
_json_typed = msgspec.json.Decoder(type(PASSAGE))


@pytest.mark.benchmark(group="codec-encode")
def test_encode_msgspec_msgpack(benchmark) -> None:
    benchmark.extra_info["bytes"] = len(PACKED)
    assert benchmark(encode, PASSAGE) == PACKED


@pytest.mark.benchmark(group="codec-encode")
def test_encode_stdlib_json(benchmark) -> None:
    benchmark.extra_info["bytes"] = len(JSON_TEXT)
    assert benchmark(lambda: json.dumps(msgspec.to_builtins(PASSAGE)).encode()) == JSON_TEXT


@pytest.mark.benchmark(group="codec-encode")
def test_encode_pickle(benchmark) -> None:
    benchmark.extra_info["bytes"] = len(PICKLED)
    assert len(benchmark(pickle.dumps, PASSAGE)) == len(PICKLED)


@pytest.mark.benchmark(group="codec-decode")
def test_decode_msgspec_msgpack_validated(benchmark) -> None:
    assert benchmark(decode, PACKED) == PASSAGE


@pytest.mark.benchmark(group="codec-decode")
def test_decode_msgspec_json_validated(benchmark) -> None:
    text = msgspec.json.encode(PASSAGE)
    assert benchmark(_json_typed.decode, text) == PASSAGE


@pytest.mark.benchmark(group="codec-decode")
def test_decode_stdlib_json_then_validate(benchmark) -> None:
    def json_then_convert():
        return msgspec.convert(json.loads(JSON_TEXT), type(PASSAGE))

    assert benchmark(json_then_convert) == PASSAGE


@pytest.mark.benchmark(group="codec-decode")
def test_decode_pickle_unvalidated(benchmark) -> None:
    assert benchmark(pickle.loads, PICKLED) == PASSAGE
