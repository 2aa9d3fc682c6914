"""Declarations: validation per field, the book (duplicates, overlapping validity, tolerant lookup), the JSON Lines
feed and the watched folder, hostile input included, and the bus message that carries one declaration."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import msgspec
import pytest

from bus.codec import MessageError, decode, encode
from bus.identifiers import iso6346_check_digit
from bus.messages import ContainerRead, DeclarationSubmitted, PlateRead, VehiclePassage
from control.declaration_feed import DirectoryFeed, FilePosition, JsonlTail, read_jsonl_file
from control.declarations import (
    Declaration,
    DeclarationBook,
    DeclarationError,
    DeclaredContainer,
    decode_declaration,
    validate_declaration,
)
from control.identifiers import canonical_plate, container_problem

T0 = 1_795_000_000.0
HOUR = 3600.0


def declaration(**changes: Any) -> Declaration:
    fields: dict[str, Any] = {
        "declaration_id": "DEC-1", "customs_declaration_no": "305512345678", "tractor_plate": "12C-123.45",
        "trailer_plate": "12R-041.39", "driver": "Nguyễn Văn An",
        "containers": (DeclaredContainer(number="MSKU3605161", seal_number="VN1234567"),),
        "channel": "green", "valid_from_utc": T0 - HOUR, "valid_until_utc": T0 + 8 * HOUR, "direction": "export",
    }
    fields.update(changes)
    return Declaration(**fields)


def line(**changes: Any) -> bytes:
    """One feed line: a declaration as JSON (``changes`` may override fields with any JSON value)."""
    data = msgspec.to_builtins(declaration())
    data.update(changes)
    return json.dumps(data, ensure_ascii=False).encode() + b"\n"


def passage(plates: tuple[str, ...] = (), containers: tuple[str, ...] = (), t: float = T0) -> VehiclePassage:
    return VehiclePassage(
        passage_id="p-1", lane_id="in-1", direction="in", first_seen_utc=t, last_seen_utc=t + 5,
        plates=tuple(PlateRead(text=p, confidence=0.9) for p in plates),
        containers=tuple(ContainerRead(number=c, check_digit_ok=True, confidence=0.9) for c in containers))


# --- identifiers --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("number", ["CSQU3054383", "MWCU6059784", "CBHU3202732", "MSKU3605161"])
def test_iso6346_examples_validate(number: str) -> None:
    assert container_problem(number) is None
    assert iso6346_check_digit(number[:10]) == int(number[10])


@pytest.mark.parametrize(("text", "canonical"), [
    ("12C-123.45", "12C-123.45"),
    ("12c 12345", "12C-123.45"),
    ("12C1234", "12C-1234"),
    ("51R-141.39", "51R-141.39"),
    ("12LD-123.45", "12LD-123.45"),
    ("桂A·12345", "桂A·12345"),
    ("桂a 12345", "桂A·12345"),
    ("桂A-1234挂", "桂A·1234挂"),
    ("１２Ｃ－１２３．４５", "12C-123.45"),  # full-width input
])
def test_plates_are_canonicalised(text: str, canonical: str) -> None:
    assert canonical_plate(text) == canonical


@pytest.mark.parametrize(("text", "words"), [
    ("", "empty"),
    ("ABC-123", "neither"),
    ("13C-123.45", "province"),
    ("12I-123.45", "series"),
    ("12C-123", "Vietnamese plate"),
    ("桂O·12345", "Chinese plate"),
    ("桂A·123", "Chinese plate"),
])
def test_bad_plates_say_why(text: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        canonical_plate(text)


# --- validation of one declaration --------------------------------------------------------------------------------


def test_valid_declaration_is_canonicalised() -> None:
    raw = declaration(tractor_plate="12c 12345", trailer_plate="12r04139",
                      containers=(DeclaredContainer(number="msku 360516-1", seal_number=" VN-1234567 "),))
    canonical = validate_declaration(raw)
    assert canonical.tractor_plate == "12C-123.45"
    assert canonical.trailer_plate == "12R-041.39"
    assert canonical.containers == (DeclaredContainer(number="MSKU3605161", seal_number="VN-1234567"),)


def test_empty_truck_without_containers_or_trailer_is_valid() -> None:
    assert validate_declaration(declaration(containers=(), trailer_plate=None)).containers == ()


BAD_FIELDS: list[tuple[str, dict[str, Any], str, str]] = [
    ("check digit", {"containers": (DeclaredContainer(number="MSKU3605162"),)}, "containers[0].number",
     "bad_check_digit"),
    ("container shape", {"containers": (DeclaredContainer(number="MSK3605161"),)}, "containers[0].number",
     "bad_container"),
    ("category letter", {"containers": (DeclaredContainer(number="MSKX3605161"),)}, "containers[0].number",
     "bad_container"),
    ("oversized container", {"containers": (DeclaredContainer(number="M" * 40),)}, "containers[0].number",
     "too_long"),
    ("duplicate container", {"containers": (DeclaredContainer(number="MSKU3605161"),
                                            DeclaredContainer(number="MSKU 360516 1"))},
     "containers[1].number", "duplicate_container"),
    ("too many containers", {"containers": tuple(DeclaredContainer(number=n) for n in
                                                 ("MSKU3605161", "CSQU3054383", "MWCU6059784"))},
     "containers", "too_many_containers"),
    ("duplicate seal", {"containers": (DeclaredContainer(number="MSKU3605161", seal_number="S1"),
                                       DeclaredContainer(number="CSQU3054383", seal_number="s-1"))},
     "containers[1].seal_number", "duplicate_seal"),
    ("bad seal", {"containers": (DeclaredContainer(number="MSKU3605161", seal_number="seal#1"),)},
     "containers[0].seal_number", "bad_seal"),
    ("oversized seal", {"containers": (DeclaredContainer(number="MSKU3605161", seal_number="9" * 65),)},
     "containers[0].seal_number", "too_long"),
    ("bad tractor plate", {"tractor_plate": "13C-123.45"}, "tractor_plate", "bad_plate"),
    ("empty tractor plate", {"tractor_plate": ""}, "tractor_plate", "bad_plate"),
    ("oversized tractor plate", {"tractor_plate": "1" * 40}, "tractor_plate", "too_long"),
    ("bad trailer plate", {"trailer_plate": "桂O·1234挂"}, "trailer_plate", "bad_plate"),
    ("validity inverted", {"valid_until_utc": T0 - 2 * HOUR}, "valid_until_utc", "bad_validity"),
    ("validity empty", {"valid_until_utc": T0 - HOUR}, "valid_until_utc", "bad_validity"),
    ("validity too long", {"valid_until_utc": T0 + 30 * 24 * HOUR}, "valid_until_utc", "validity_too_long"),
    ("time not a number", {"valid_from_utc": math.nan}, "valid_from_utc", "bad_time"),
    ("time negative", {"valid_from_utc": -5.0}, "valid_from_utc", "bad_time"),
    ("bad id", {"declaration_id": "DEC 1"}, "declaration_id", "bad_id"),
    ("empty customs number", {"customs_declaration_no": ""}, "customs_declaration_no", "bad_customs_number"),
    ("customs number symbols", {"customs_declaration_no": "30<55>"}, "customs_declaration_no",
     "bad_customs_number"),
    ("oversized driver", {"driver": "A" * 200}, "driver", "too_long"),
    ("control characters in driver", {"driver": "An\x00\x1b[2J"}, "driver", "bad_text"),
    ("channel", {"channel": "blue"}, "channel", "bad_value"),
    ("direction", {"direction": "transit"}, "direction", "bad_value"),
]


@pytest.mark.parametrize(("changes", "field", "code"), [case[1:] for case in BAD_FIELDS],
                         ids=[case[0] for case in BAD_FIELDS])
def test_bad_field_is_rejected_with_its_reason(changes: dict[str, Any], field: str, code: str) -> None:
    with pytest.raises(DeclarationError) as caught:
        validate_declaration(declaration(**changes))
    assert [(p.field, p.code) for p in caught.value.problems] == [(field, code)]
    assert field in str(caught.value)


def test_every_problem_is_listed_at_once() -> None:
    bad = declaration(tractor_plate="XX", containers=(DeclaredContainer(number="MSKU3605162"),),
                      valid_until_utc=T0 - 5 * HOUR)
    with pytest.raises(DeclarationError) as caught:
        validate_declaration(bad)
    assert caught.value.codes == ["bad_plate", "bad_check_digit", "bad_validity"]
    assert caught.value.declaration_id == "DEC-1"


def test_already_expired_is_refused_only_when_now_is_given() -> None:
    old = declaration(valid_from_utc=T0 - 10 * HOUR, valid_until_utc=T0 - 2 * HOUR)
    validate_declaration(old)
    with pytest.raises(DeclarationError) as caught:
        validate_declaration(old, now_utc=T0)
    assert caught.value.codes == ["expired"]


# --- decoding feed lines ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("data", "field", "words"), [
    (b"\xff\xfe\x00garbage", "top level", "not a JSON object"),
    (b'{"declaration_id": "DEC-1", "tractor_plate"', "top level", "not a JSON object"),
    (b"[1, 2, 3]", "top level", "Expected `object`"),
    (line(declaration_id=5), "declaration_id", "Expected `str`"),
    (line(containers=[{"number": 7}]), "containers[0].number", "Expected `str`"),
    (line(valid_from_utc="yesterday"), "valid_from_utc", "Expected `float`"),
    (line(tractor_plate="1" * 100), "tractor_plate", "length <= 32"),
    (line(containers=[{"number": "MSKU3605161"}] * 70), "containers", "length <= 64"),
    (line(channel="purple"), "channel", "Invalid enum value"),
])
def test_decode_names_the_bad_field(data: bytes, field: str, words: str) -> None:
    with pytest.raises(DeclarationError) as caught:
        decode_declaration(data)
    (problem,) = caught.value.problems
    assert problem.code == "format"
    assert problem.field == field
    assert words in problem.message


def test_decode_accepts_the_recording_shape_and_ignores_extra_fields() -> None:
    decoded = decode_declaration(line(comment="from the single window"))
    assert decoded == declaration()


# --- the book -----------------------------------------------------------------------------------------------------


def test_book_accepts_and_ignores_an_identical_replay() -> None:
    book = DeclarationBook()
    assert book.add(declaration())
    assert not book.add(declaration(tractor_plate="12c12345"))  # the same after canonicalisation
    assert len(book) == 1
    assert book.get("DEC-1") == validate_declaration(declaration())


def test_book_refuses_same_id_with_other_content() -> None:
    book = DeclarationBook()
    book.add(declaration())
    with pytest.raises(DeclarationError) as caught:
        book.add(declaration(channel="red"))
    assert caught.value.codes == ["duplicate_declaration_id"]


@pytest.mark.parametrize(("other", "codes"), [
    (declaration(declaration_id="DEC-2"), ["validity_overlap"]),
    (declaration(declaration_id="DEC-2", tractor_plate="12C 12345", valid_from_utc=T0 + 7 * HOUR,
                 valid_until_utc=T0 + 20 * HOUR), ["validity_overlap"]),
    (declaration(declaration_id="DEC-2", valid_from_utc=T0 + 8 * HOUR, valid_until_utc=T0 + 20 * HOUR), []),
    (declaration(declaration_id="DEC-2", tractor_plate="12C-123.46"), []),
], ids=["same window", "overlapping, plate spelt differently", "back to back", "other tractor"])
def test_overlapping_validity_for_one_tractor_is_refused(other: Declaration, codes: list[str]) -> None:
    book = DeclarationBook()
    book.add(declaration())
    assert [p.code for p in book.check(other)] == codes
    if codes:
        with pytest.raises(DeclarationError, match="overlaps declaration 'DEC-1'"):
            book.add(other)
        assert len(book) == 1
    else:
        assert book.add(other)


def test_book_refuses_when_full() -> None:
    book = DeclarationBook(max_size=1)
    book.add(declaration())
    assert [p.code for p in book.check(declaration(declaration_id="DEC-2", tractor_plate="14C-111.11"))] == [
        "book_full"]


def test_check_does_not_add() -> None:
    book = DeclarationBook()
    assert book.check(declaration()) == []
    assert len(book) == 0


@pytest.mark.parametrize(("reads", "found"), [
    ((("12C-123.45",), ()), True),
    ((("12C-I23.4S",), ()), True),  # confusions
    ((("12C-128.45",), ()), True),  # one other error
    ((("12R-041.39",), ()), True),  # the trailer
    (((), ("MSKU3605161",)), True),  # the container alone
    (((), ("MSKU36O5161",)), True),
    ((("29C-987.65",), ("CSQU3054383",)), False),
    (((), ()), False),
])
def test_candidates_are_found_tolerantly(reads: tuple[tuple[str, ...], tuple[str, ...]], found: bool) -> None:
    book = DeclarationBook()
    book.add(declaration())
    book.add(declaration(declaration_id="DEC-9", tractor_plate="98C-555.55", trailer_plate=None,
                         containers=(DeclaredContainer(number="CBHU3202732"),)))
    ids = [d.declaration_id for d in book.candidates(passage(*reads))]
    assert ids == (["DEC-1"] if found else [])


@pytest.mark.parametrize(("t", "found"), [
    (T0, True), (T0 + 20 * HOUR, True), (T0 - 20 * HOUR, True), (T0 + 40 * HOUR, False), (T0 - 30 * HOUR, False),
])
def test_candidates_include_recently_expired_but_not_stale(t: float, found: bool) -> None:
    book = DeclarationBook(candidate_slack_s=24 * HOUR)
    book.add(declaration())
    assert bool(book.candidates(passage(("12C-123.45",), t=t))) is found


def test_prune_and_remove_forget_declarations_and_their_index() -> None:
    book = DeclarationBook()
    book.add(declaration())
    book.add(declaration(declaration_id="DEC-2", tractor_plate="14C-222.22", trailer_plate=None, containers=(),
                         valid_until_utc=T0 + 30 * HOUR))
    assert book.prune(T0 + 10 * HOUR) == 1
    assert [d.declaration_id for d in book] == ["DEC-2"]
    assert book.candidates(passage(("12C-123.45",))) == []
    assert book.remove("DEC-2")
    assert not book.remove("DEC-2")
    assert len(book) == 0
    assert book.add(declaration())  # the tractor is free again


# --- the bus message ----------------------------------------------------------------------------------------------


def test_declaration_travels_on_the_bus() -> None:
    message = DeclarationSubmitted(declaration=declaration(), source="api")
    assert decode(encode(message)) == message
    assert message.lane is None


def test_oversized_declaration_on_the_bus_is_refused() -> None:
    message = DeclarationSubmitted(declaration=declaration(driver="x" * 300))
    with pytest.raises(MessageError):
        decode(encode(message))


# --- the JSON Lines file ------------------------------------------------------------------------------------------


def test_hostile_file_reports_bad_lines_and_keeps_the_good(tmp_path: Path) -> None:
    path = tmp_path / "feed.jsonl"
    path.write_bytes(b"".join([
        line(declaration_id="A-1"),                                   # 1 good
        b"\xff\xfe\x00\x01garbage\n",                                 # 2 garbage bytes
        b'{"declaration_id": "A-3", "tractor_plate": "12C\n',         # 3 truncated
        line(declaration_id=3),                                       # 4 wrong type
        b"\n",                                                        # 5 empty, skipped
        b'{"x": "' + b"y" * 5000 + b'"}\n',                           # 6 over-long
        b"[1]\r\n",                                                   # 7 not an object
        line(declaration_id="A-8").rstrip(b"\n"),                     # 8 good, no final newline
    ]))
    batch = read_jsonl_file(path, max_line_bytes=2048)
    assert [(i.line, i.declaration.declaration_id) for i in batch.items] == [(1, "A-1"), (8, "A-8")]
    assert [b.line for b in batch.bad] == [2, 3, 4, 6, 7]
    assert "longer than 2048 bytes" in batch.bad[3].problem
    assert "declaration_id" in batch.bad[2].problem
    assert all(str(path) in str(b) for b in batch.bad)


def test_truncated_last_line_of_a_finished_file_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "feed.jsonl"
    path.write_bytes(line(declaration_id="A-1") + line(declaration_id="A-2")[:40])
    batch = read_jsonl_file(path)
    assert [i.declaration.declaration_id for i in batch.items] == ["A-1"]
    assert [b.line for b in batch.bad] == [2]


def test_partial_line_waits_for_its_end_and_nothing_is_read_twice(tmp_path: Path) -> None:
    path = tmp_path / "feed.jsonl"
    first, second = line(declaration_id="A-1"), line(declaration_id="A-2")
    path.write_bytes(first + second[:30])
    tail = JsonlTail(path)
    assert [i.line for i in tail.poll().items] == [1]
    assert tail.poll().items == []
    with path.open("ab") as handle:
        handle.write(second[30:])
    batch = tail.poll()
    assert [(i.line, i.declaration.declaration_id) for i in batch.items] == [(2, "A-2")]
    assert batch.bad == []
    assert tail.poll().items == []
    assert tail.position.offset == len(first) + len(second)


def test_complete_object_without_newline_is_taken_once(tmp_path: Path) -> None:
    path = tmp_path / "feed.jsonl"
    path.write_bytes(line(declaration_id="A-1").rstrip(b"\n"))
    tail = JsonlTail(path)
    assert [i.line for i in tail.poll().items] == [1]
    with path.open("ab") as handle:
        handle.write(b"\n" + line(declaration_id="A-2"))
    batch = tail.poll()
    assert [(i.line, i.declaration.declaration_id) for i in batch.items] == [(2, "A-2")]
    assert batch.bad == []


def test_garbage_after_a_taken_declaration_is_reported_once(tmp_path: Path) -> None:
    path = tmp_path / "feed.jsonl"
    path.write_bytes(line(declaration_id="A-1").rstrip(b"\n"))
    tail = JsonlTail(path)
    assert [i.line for i in tail.poll().items] == [1]
    with path.open("ab") as handle:
        handle.write(b"garbage")
    assert [(b.line, b.problem) for b in tail.poll().bad] == [(1, "extra characters after a complete declaration")]
    with path.open("ab") as handle:
        handle.write(b" and more\n" + line(declaration_id="A-2"))
    batch = tail.poll()
    assert batch.bad == []
    assert [(i.line, i.declaration.declaration_id) for i in batch.items] == [(2, "A-2")]


def test_over_long_line_across_polls_is_skipped_and_counted(tmp_path: Path) -> None:
    path = tmp_path / "feed.jsonl"
    path.write_bytes(b"z" * 1500)
    tail = JsonlTail(path, max_line_bytes=1000)
    assert tail.poll().bad == []
    with path.open("ab") as handle:
        handle.write(b"z" * 1500 + b"\n" + line(declaration_id="A-2"))
    batch = tail.poll()
    assert [(b.line, "longer than 1000" in b.problem) for b in batch.bad] == [(1, True)]
    assert [i.line for i in batch.items] == [2]
    assert tail.stats.bad_lines == 1
    assert tail.stats.declarations == 1


def test_replaced_or_truncated_file_is_read_from_its_start(tmp_path: Path) -> None:
    path = tmp_path / "feed.jsonl"
    path.write_bytes(line(declaration_id="A-1") + line(declaration_id="A-2"))
    tail = JsonlTail(path)
    assert len(tail.poll().items) == 2
    fresh = tmp_path / "fresh.tmp"
    fresh.write_bytes(line(declaration_id="B-1"))
    os.replace(fresh, path)
    assert [i.declaration.declaration_id for i in tail.poll().items] == ["B-1"]
    path.write_bytes(b"")  # truncated in place
    assert tail.poll().items == []
    assert tail.stats.restarts == 2


def test_missing_file_is_not_an_error_until_it_appears(tmp_path: Path) -> None:
    tail = JsonlTail(tmp_path / "later.jsonl")
    assert tail.poll().items == []
    (tmp_path / "later.jsonl").write_bytes(line())
    assert len(tail.poll().items) == 1


# --- the watched folder -------------------------------------------------------------------------------------------


def test_folder_feed_follows_new_files_and_appended_lines(tmp_path: Path) -> None:
    feed = DirectoryFeed(tmp_path)
    assert feed.poll().items == []
    (tmp_path / "a.jsonl").write_bytes(line(declaration_id="A-1"))
    (tmp_path / "notes.txt").write_bytes(line(declaration_id="X-1"))
    (tmp_path / ".hidden.jsonl").write_bytes(line(declaration_id="X-2"))
    (tmp_path / "link.jsonl").symlink_to(tmp_path / "a.jsonl")
    (tmp_path / "dir.jsonl").mkdir()
    assert [i.declaration.declaration_id for i in feed.poll().items] == ["A-1"]
    with (tmp_path / "a.jsonl").open("ab") as handle:
        handle.write(line(declaration_id="A-2") + b"garbage\n" + line(declaration_id="A-4")[:25])
    (tmp_path / "b.jsonl").write_bytes(line(declaration_id="B-1"))
    batch = feed.poll()
    assert [i.where.rsplit("/", 1)[1] for i in batch.items] == ["a.jsonl:2", "b.jsonl:1"]
    assert [(Path(b.source).name, b.line) for b in batch.bad] == [("a.jsonl", 3)]
    with (tmp_path / "a.jsonl").open("ab") as handle:
        handle.write(line(declaration_id="A-4")[25:])
    assert [(i.line, i.declaration.declaration_id) for i in feed.poll().items] == [(4, "A-4")]
    assert feed.poll().items == []
    assert (feed.stats.declarations, feed.stats.bad_lines) == (4, 1)


def test_folder_feed_resumes_from_saved_positions(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_bytes(line(declaration_id="A-1"))
    first = DirectoryFeed(tmp_path)
    assert len(first.poll().items) == 1
    saved = first.positions()
    assert isinstance(saved["a.jsonl"], FilePosition)
    with (tmp_path / "a.jsonl").open("ab") as handle:
        handle.write(line(declaration_id="A-2"))
    again = DirectoryFeed(tmp_path, positions=saved)
    assert [(i.line, i.declaration.declaration_id) for i in again.poll().items] == [(2, "A-2")]


def test_missing_folder_is_counted_not_fatal(tmp_path: Path) -> None:
    feed = DirectoryFeed(tmp_path / "absent")
    assert feed.poll().items == []
    assert feed.stats.read_errors == 1


def test_deleted_file_is_dropped(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_bytes(line())
    feed = DirectoryFeed(tmp_path)
    feed.poll()
    (tmp_path / "a.jsonl").unlink()
    assert feed.poll().items == []
    assert feed.positions() == {}
