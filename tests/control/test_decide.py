"""The clearance decision: every outcome and every reason from a table, OCR-confusion-tolerant matching, containers
in any order, seals, validity, determinism, the site's ``clearance:`` rules, and the synthetic recordings' planted
mismatches decided from perfect reads."""

from __future__ import annotations

import copy
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import msgspec
import pytest
import yaml

from bus.codec import decode, encode
from bus.messages import ContainerRead, PlateRead, SealRead, VehiclePassage
from control.clearance_reasons import REASONS
from control.clearance_rules import ClearanceRules
from control.decide import decide, decision_id_for
from control.declaration_feed import read_jsonl_file
from control.declarations import Declaration, DeclarationBook, DeclaredContainer, validate_declaration
from control.identifiers import weighted_distance
from datasets.recording import PassageTruth, Recording
from datasets.synth.generator import DEFAULT_START_UTC, generate
from datasets.synth.scenario import plan
from smartgate.site import SiteConfigError, bundled_site_path, load_site

T0 = 1_795_000_000.0
HOUR = 3600.0
RULES = ClearanceRules()
A, B = "MSKU3605161", "CSQU3054383"
SEAL_A, SEAL_B = "VN1234567", "CN7654321"


def declaration(**changes: Any) -> Declaration:
    fields: dict[str, Any] = {
        "declaration_id": "DEC-1", "customs_declaration_no": "305512345678", "tractor_plate": "12C-123.45",
        "trailer_plate": "12R-041.39", "driver": "Nguyễn Văn An",
        "containers": (DeclaredContainer(number=A, seal_number=SEAL_A),),
        "channel": "green", "valid_from_utc": T0 - HOUR, "valid_until_utc": T0 + 8 * HOUR, "direction": "export",
    }
    fields.update(changes)
    return validate_declaration(Declaration(**fields))


def plate(text: str, role: str = "tractor", confidence: float = 0.97, fmt: str = "vn") -> PlateRead:
    return PlateRead(text=text, role=role, confidence=confidence, format=fmt)  # type: ignore[arg-type]


def box(number: str, confidence: float = 0.95, ok: bool = True, position: str = "single") -> ContainerRead:
    return ContainerRead(number=number, check_digit_ok=ok, confidence=confidence,
                         position=position)  # type: ignore[arg-type]


def seal(container: str | None, state: str = "present", number: str | None = SEAL_A,
         confidence: float = 0.9) -> SealRead:
    return SealRead(container_number=container, state=state, number=number,  # type: ignore[arg-type]
                    confidence=confidence)


TRACTOR, TRAILER = plate("12C-123.45"), plate("12R-041.39", "trailer")


def passage(plates: tuple[PlateRead, ...] = (TRACTOR, TRAILER), containers: tuple[ContainerRead, ...] = (box(A),),
            seals: tuple[SealRead, ...] = (seal(A),), t: float = T0, direction: str = "in",
            passage_id: str = "in-1-000042") -> VehiclePassage:
    return VehiclePassage(passage_id=passage_id, lane_id=f"{direction}-1", direction=direction,  # type: ignore[arg-type]
                          first_seen_utc=t, last_seen_utc=t + 6, plates=plates, containers=containers, seals=seals)


def codes(decision: Any) -> list[str]:
    return [r.code for r in decision.reasons]


# --- the table: every outcome, every reason --------------------------------------------------------------------------

Case = tuple[str, list[Declaration], VehiclePassage, ClearanceRules, str, list[str]]
OTHER = declaration(declaration_id="DEC-9", tractor_plate="98C-555.55", trailer_plate=None,
                    containers=(DeclaredContainer(number="CBHU3202732"),))
TWO = (DeclaredContainer(number=A, seal_number=SEAL_A), DeclaredContainer(number=B, seal_number=SEAL_B))

CASES: list[Case] = [
    ("green, all match", [declaration()], passage(), RULES, "OPEN", ["cleared"]),
    ("yellow channel", [declaration(channel="yellow")], passage(), RULES, "HOLD", ["channel_yellow"]),
    ("red channel", [declaration(channel="red")], passage(), RULES, "INSPECT", ["channel_red"]),
    ("no declarations at all", [], passage(), RULES, "REJECT", ["no_declaration"]),
    ("only someone else's declaration", [OTHER], passage(), RULES, "REJECT", ["no_declaration"]),
    ("nothing read", [declaration()], passage(plates=(), containers=(), seals=()), RULES, "HOLD",
     ["vehicle_not_identified"]),
    ("only an unsure unknown plate", [declaration()], passage(plates=(plate("99X-000.00", confidence=0.3),),
                                                              containers=(), seals=()), RULES, "HOLD",
     ["vehicle_not_identified"]),
    ("only a sure plate of no known format", [OTHER],
     passage(plates=(plate("X99-0000", fmt="unknown"),), containers=(), seals=()), RULES, "HOLD",
     ["plate_format_unknown"]),
    ("expired", [declaration()], passage(t=T0 + 9 * HOUR), RULES, "REJECT", ["declaration_expired"]),
    ("not yet valid", [declaration()], passage(t=T0 - 2 * HOUR), RULES, "REJECT", ["declaration_not_yet_valid"]),
    ("expired but within the grace", [declaration()], passage(t=T0 + 9 * HOUR),
     ClearanceRules(validity_grace_s=2 * HOUR), "OPEN", ["cleared"]),
    ("two declarations fit equally", [declaration(trailer_plate="12R-041.39", containers=()),
                                      declaration(declaration_id="DEC-2", tractor_plate="14C-222.22", containers=())],
     passage(plates=(TRAILER,), containers=(), seals=()), RULES, "HOLD", ["ambiguous_declaration"]),
    ("export declaration through a gate-out lane", [declaration()], passage(direction="out"), RULES, "HOLD",
     ["direction_mismatch"]),
    ("direction check off", [declaration()], passage(direction="out"), ClearanceRules(direction_out="any"), "OPEN",
     ["cleared"]),
    ("tractor plate not read", [declaration()], passage(plates=(TRAILER,)), RULES, "HOLD",
     ["tractor_plate_not_read"]),
    ("tractor plate of another truck", [declaration()], passage(plates=(plate("29C-987.65"), TRAILER)), RULES,
     "HOLD", ["tractor_plate_mismatch"]),
    ("tractor plate unsure", [declaration()], passage(plates=(plate("12C-123.45", confidence=0.6), TRAILER)),
     RULES, "HOLD", ["tractor_plate_low_confidence"]),
    ("other tractor plate, unsure", [declaration()], passage(plates=(plate("29C-987.65", confidence=0.5), TRAILER)),
     RULES, "HOLD", ["tractor_plate_low_confidence"]),
    ("trailer plate not read", [declaration()], passage(plates=(TRACTOR,)), RULES, "HOLD",
     ["trailer_plate_not_read"]),
    ("trailer plate not required", [declaration()], passage(plates=(TRACTOR,)),
     ClearanceRules(require_trailer_plate=False), "OPEN", ["cleared"]),
    ("trailer of another truck", [declaration()], passage(plates=(TRACTOR, plate("51R-999.99", "trailer"))), RULES,
     "HOLD", ["trailer_plate_mismatch"]),
    ("trailer plate unsure", [declaration()], passage(plates=(TRACTOR, plate("12R-041.39", "trailer", 0.5))),
     RULES, "HOLD", ["trailer_plate_low_confidence"]),
    ("trailer not declared", [declaration(trailer_plate=None)], passage(), RULES, "HOLD",
     ["trailer_plate_undeclared"]),
    ("declared container not on the truck", [declaration()], passage(containers=(), seals=()), RULES, "HOLD",
     ["declared_container_not_seen"]),
    ("container unsure", [declaration()], passage(containers=(box(A, 0.6),)), RULES, "HOLD",
     ["container_low_confidence"]),
    ("extra container with a bad check digit", [declaration()],
     passage(containers=(box(A), box("MSKU3605162", ok=False))), RULES, "HOLD", ["container_unconfirmed"]),
    ("extra container read unsure", [declaration()], passage(containers=(box(A), box(B, 0.5))), RULES, "HOLD",
     ["container_unconfirmed"]),
    ("undeclared container", [declaration()], passage(containers=(box(A), box(B))), RULES, "INSPECT",
     ["undeclared_container"]),
    ("wrong container", [declaration()], passage(containers=(box(B),), seals=(seal(B),)), RULES, "INSPECT",
     ["undeclared_container", "declared_container_not_seen"]),
    ("seal missing", [declaration()], passage(seals=(seal(A, "absent", None),)), RULES, "INSPECT",
     ["seal_missing"]),
    ("seal number differs", [declaration()], passage(seals=(seal(A, number="VN9999999"),)), RULES, "INSPECT",
     ["seal_number_mismatch"]),
    ("seal numbers not checked", [declaration()], passage(seals=(seal(A, number="VN9999999"),)),
     ClearanceRules(check_seal_numbers=False), "OPEN", ["cleared"]),
    ("seal present, number not read", [declaration()], passage(seals=(seal(A, number=None),)), RULES, "OPEN",
     ["cleared"]),
    ("seal number with a confusion", [declaration()], passage(seals=(seal(A, number="VNI234567"),)), RULES, "OPEN",
     ["cleared"]),
    ("seal state unknown", [declaration()], passage(seals=(seal(A, "unknown", None),)), RULES, "INSPECT",
     ["seal_unknown"]),
    ("no seal read", [declaration()], passage(seals=()), RULES, "INSPECT", ["seal_unknown"]),
    ("unsure absent seal", [declaration()], passage(seals=(seal(A, "absent", None, 0.4),)), RULES, "INSPECT",
     ["seal_unknown"]),
    ("seal unknown made a hold", [declaration()], passage(seals=()), ClearanceRules(seal_unknown_outcome="HOLD"),
     "HOLD", ["seal_unknown"]),
    ("seal read unsure but its number fits", [declaration()], passage(seals=(seal(A, confidence=0.5),)), RULES,
     "HOLD", ["seal_low_confidence"]),
    ("seal on a container declared empty", [declaration(containers=(DeclaredContainer(number=A),))],
     passage(seals=(seal(A, number="XX111111"),)), RULES, "HOLD", ["seal_undeclared"]),
    ("empty container, no seal", [declaration(containers=(DeclaredContainer(number=A),))],
     passage(seals=(seal(A, "absent", None),)), RULES, "OPEN", ["cleared"]),
    ("empty truck", [declaration(containers=())], passage(containers=(), seals=()), RULES, "OPEN", ["cleared"]),
    ("everything at once, red", [declaration(channel="red")],
     passage(plates=(TRACTOR,), containers=(box(A), box(B)), seals=(seal(A, "absent", None),)), RULES, "INSPECT",
     ["channel_red", "undeclared_container", "seal_missing", "trailer_plate_not_read"]),
    ("two 20 ft containers in any order", [declaration(containers=TWO)],
     passage(containers=(box(B, position="front"), box(A, position="rear")),
             seals=(seal(B, number=SEAL_B), seal(A))), RULES, "OPEN", ["cleared"]),
    ("two containers, seals unnamed but numbered", [declaration(containers=TWO)],
     passage(containers=(box(A), box(B)), seals=(seal(None, number=SEAL_B), seal(None))), RULES, "OPEN",
     ["cleared"]),
    ("two containers, seals swapped", [declaration(containers=TWO)],
     passage(containers=(box(A), box(B)), seals=(seal(A, number=SEAL_B), seal(B, number=SEAL_A))), RULES,
     "INSPECT", ["seal_number_mismatch", "seal_number_mismatch"]),
    ("two containers, one not read", [declaration(containers=TWO)],
     passage(containers=(box(A),), seals=(seal(A),)), RULES, "HOLD", ["declared_container_not_seen"]),
    ("container read twice", [declaration()], passage(containers=(box(A, 0.9), box(A, 0.97))), RULES, "OPEN",
     ["cleared"]),
    ("picks the truck's own declaration among others", [OTHER, declaration()], passage(), RULES, "OPEN",
     ["cleared"]),
    ("a look-alike plate alone is no link", [declaration()], passage(plates=(plate("12C-123.46"),), containers=(),
                                                                     seals=()), RULES, "REJECT", ["no_declaration"]),
]


@pytest.mark.parametrize(("declarations", "the_passage", "rules", "outcome", "expected"),
                         [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_decision_table(declarations: list[Declaration], the_passage: VehiclePassage, rules: ClearanceRules,
                        outcome: str, expected: list[str]) -> None:
    decision = decide(the_passage, declarations, rules, now_utc=T0 + 10)
    assert (decision.outcome, sorted(codes(decision))) == (outcome, sorted(expected))
    for r in decision.reasons:
        assert r.en
        assert r.vi
        assert r.en != r.vi
    assert decode(encode(decision)) == decision  # within the message's bounds


def test_the_table_covers_every_reason_and_outcome() -> None:
    covered = {code for case in CASES for code in case[5]}
    assert covered == set(REASONS)
    assert {case[4] for case in CASES} == {"OPEN", "HOLD", "INSPECT", "REJECT"}


def test_reasons_are_ordered_most_severe_first() -> None:
    decision = decide(passage(plates=(TRACTOR,), containers=(box(A), box(B))), [declaration(channel="yellow")],
                      RULES, T0)
    assert codes(decision) == ["undeclared_container", "channel_yellow", "trailer_plate_not_read"]


@pytest.mark.parametrize(("code", "vi"), [
    ("no_declaration", "Không có tờ khai khớp với phương tiện này"),
    ("tractor_plate_mismatch", "Biển số đầu kéo không khớp với tờ khai"),
    ("seal_missing", "không có niêm phong"),
    ("channel_red", "Luồng đỏ"),
    ("cleared", "Luồng xanh"),
])
def test_vietnamese_wording(code: str, vi: str) -> None:
    assert vi in REASONS[code].vi


def test_reasons_name_what_was_read_and_declared() -> None:
    decision = decide(passage(plates=(plate("29C-987.65"), TRAILER)), [declaration()], RULES, T0)
    (reason,) = decision.reasons
    assert "29C-987.65" in reason.en
    assert "12C-123.45" in reason.en
    assert reason.vi == "Biển số đầu kéo không khớp với tờ khai (đọc được 29C-987.65, khai báo 12C-123.45)"


def test_expiry_reason_gives_the_time() -> None:
    decision = decide(passage(t=T0 + 9 * HOUR), [declaration()], RULES, T0)
    assert decision.reasons[0].en == "Declaration DEC-1 expired at 2026-11-18 19:06 UTC"
    assert decision.declaration_id == "DEC-1"


def test_a_valid_declaration_wins_over_an_expired_one() -> None:
    old = declaration(declaration_id="DEC-0", valid_from_utc=T0 - 30 * HOUR, valid_until_utc=T0 - 20 * HOUR)
    decision = decide(passage(), [old, declaration()], RULES, T0)
    assert (decision.outcome, decision.declaration_id) == ("OPEN", "DEC-1")


# --- OCR-confusion-tolerant plates --------------------------------------------------------------------------------


@pytest.mark.parametrize(("declared", "read", "confidence", "outcome", "code"), [
    ("12C-123.45", "12C-123.45", 0.97, "OPEN", "cleared"),
    ("12C-123.45", "12C 12345", 0.97, "OPEN", "cleared"),
    ("12C-123.45", "12C-I23.45", 0.97, "OPEN", "cleared"),       # I/1
    ("12C-123.45", "I2C-I23.45", 0.97, "OPEN", "cleared"),       # two confusions
    ("12C-123.45", "I2C-IZ3.45", 0.97, "HOLD", "tractor_plate_mismatch"),  # three: too many
    ("12C-183.45", "12C-1B3.45", 0.97, "OPEN", "cleared"),       # B/8
    ("12C-150.45", "12C-1SO.45", 0.97, "OPEN", "cleared"),       # S/5, O/0
    ("51G-600.12", "516-6DO.1Z", 0.97, "HOLD", "tractor_plate_mismatch"),  # four confusions
    ("12C-123.45", "12C-123.46", 0.97, "HOLD", "tractor_plate_mismatch"),  # one real error
    ("桂A·12345", "桂A·I2345", 0.97, "OPEN", "cleared"),
    ("12C-123.45", "12C-123.45", 0.79, "HOLD", "tractor_plate_low_confidence"),
    ("12C-123.45", "12C-I23.45", 0.82, "HOLD", "tractor_plate_low_confidence"),  # the confusion discounts it
])
def test_plate_matching_tolerates_confusions(declared: str, read: str, confidence: float, outcome: str,
                                              code: str) -> None:
    decl = declaration(tractor_plate=declared)
    decision = decide(passage(plates=(plate(read, confidence=confidence), TRAILER)), [decl], RULES, T0)
    assert (decision.outcome, codes(decision)) == (outcome, [code])


def test_plates_of_unknown_role_go_to_the_closer_declared_plate() -> None:
    reads = (plate("12R-041.39", "unknown"), plate("12C-123.45", "unknown"))
    assert decide(passage(plates=reads), [declaration()], RULES, T0).outcome == "OPEN"


def test_confusable_container_number_matches() -> None:
    decision = decide(passage(containers=(box("MSKU36O5161", ok=False),)), [declaration()], RULES, T0)
    assert decision.outcome == "OPEN"


def _reference_distance(a: str, b: str, confusable: float) -> float:
    pairs = {frozenset(p) for p in [("O", "0"), ("D", "0"), ("Q", "0"), ("I", "1"), ("B", "8"), ("S", "5"),
                                    ("Z", "2"), ("G", "6"), ("O", "D"), ("O", "Q"), ("D", "Q")]}
    table = [[float(i + j) if i * j == 0 else 0.0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            sub = 0.0 if a[i - 1] == b[j - 1] else (confusable if frozenset((a[i - 1], b[j - 1])) in pairs else 1.0)
            table[i][j] = min(table[i - 1][j - 1] + sub, table[i - 1][j] + 1, table[i][j - 1] + 1)
    return table[-1][-1]


@pytest.mark.parametrize(("a", "b"), [("12C12345", "I2CI2345"), ("MSKU3605161", "MSKU36O516"), ("ABC", ""),
                                      ("O0DQ", "0OQD"), ("12C12345", "2C123456"), ("SZ8", "528G")])
@pytest.mark.parametrize("limit", [0.0, 0.3, 0.5, 1.0, 2.0, float("inf")])
def test_weighted_distance_agrees_with_a_plain_reference(a: str, b: str, limit: float) -> None:
    expected = _reference_distance(a, b, 0.25)
    got = weighted_distance(a, b, 0.25, limit)
    assert got == (expected if expected <= limit else float("inf"))


# --- determinism ----------------------------------------------------------------------------------------------


def test_same_inputs_give_the_same_decision_and_id() -> None:
    first = decide(passage(), [declaration()], RULES, T0 + 1)
    again = decide(passage(), [declaration()], RULES, T0 + 1)
    assert first == again
    assert first.decision_id == first.id == "dec-in-1-000042"
    assert first.confidence == pytest.approx(0.95)  # the weakest matched read: the container
    later = decide(passage(), [declaration()], RULES, T0 + 500)  # a re-decision after a restart
    assert (later.decision_id, later.outcome, later.reasons) == (first.decision_id, first.outcome, first.reasons)


def test_long_passage_ids_give_a_short_stable_decision_id() -> None:
    long_id = "in-1-" + "x" * 59
    decision_id = decision_id_for(long_id)
    assert len(decision_id) <= 64
    assert decision_id == decision_id_for(long_id)
    assert re.fullmatch(r"[A-Za-z0-9_.:\-]+", decision_id)
    decision = decide(passage(passage_id=long_id), [declaration()], RULES, T0)
    assert decode(encode(decision)) == decision


def test_decide_does_not_depend_on_declaration_order() -> None:
    one = decide(passage(), [OTHER, declaration()], RULES, T0)
    other = decide(passage(), [declaration(), OTHER], RULES, T0)
    assert one == other


# --- rules and the site file ----------------------------------------------------------------------------------


@pytest.mark.parametrize("changes", [
    {"min_plate_confidence": 1.5}, {"confusable_cost": -0.1}, {"plate_tolerance": float("nan")},
    {"plate_tolerance": 3.0, "plate_link_tolerance": 2.0}, {"seal_unknown_outcome": "OPEN"},
    {"direction_in": "sideways"}, {"check_seal_numbers": "yes"}, {"validity_grace_s": -1.0},
])
def test_bad_rules_are_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=next(iter(changes))):
        ClearanceRules(**changes)


def _site_with(tmp_path: Path, clearance: dict[str, Any] | None) -> Path:
    data = yaml.safe_load(bundled_site_path().read_text(encoding="utf-8"))
    data = copy.deepcopy(data)
    if clearance is None:
        del data["clearance"]
    else:
        data["clearance"] = clearance
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_bundled_site_rules_are_the_defaults_but_its_calibrated_thresholds(tmp_path: Path) -> None:
    calibrated = replace(ClearanceRules(), min_plate_confidence=0.60, min_container_confidence=0.50)  # RESULTS.md
    assert load_site(bundled_site_path(), data_dir=tmp_path).clearance.rules() == calibrated
    assert load_site(_site_with(tmp_path, None), data_dir=tmp_path).clearance.rules() == ClearanceRules()


def test_site_rules_reach_the_engine(tmp_path: Path) -> None:
    site = load_site(_site_with(tmp_path, {"min_plate_confidence": 0.9, "seal_unknown_outcome": "HOLD",
                                           "require_trailer_plate": False}), data_dir=tmp_path)
    rules = site.clearance.rules()
    assert (rules.min_plate_confidence, rules.seal_unknown_outcome, rules.require_trailer_plate) == (0.9, "HOLD",
                                                                                                    False)
    assert decide(passage(seals=()), [declaration()], rules, T0).outcome == "HOLD"


@pytest.mark.parametrize(("clearance", "field"), [
    ({"min_plate_confidence": 1.5}, "clearance.min_plate_confidence"),
    ({"min_plate_confidence": "0.8"}, "clearance.min_plate_confidence"),
    ({"seal_unknown_outcome": "OPEN"}, "clearance.seal_unknown_outcome"),
    ({"check_seal_numbers": "yes"}, "clearance.check_seal_numbers"),
    ({"plate_tolerance": 1.5, "plate_link_tolerance": 1.0}, "clearance.plate_link_tolerance"),
    ({"min_plate_confidnce": 0.8}, "clearance.min_plate_confidnce"),
])
def test_bad_site_rules_name_the_field(tmp_path: Path, clearance: dict[str, Any], field: str) -> None:
    with pytest.raises(SiteConfigError) as caught:
        load_site(_site_with(tmp_path, clearance), data_dir=tmp_path)
    assert caught.value.field == field


# --- synthetic recordings: planted mismatches decided from perfect reads -------------------------------------------

EXPECTED_BY_MISMATCH: dict[str, tuple[str, str | None]] = {
    "wrong_container": ("INSPECT", "undeclared_container"),
    "missing_seal": ("INSPECT", "seal_missing"),
    "wrong_seal_number": ("INSPECT", "seal_number_mismatch"),
    "unknown_truck": ("REJECT", "no_declaration"),
}
BY_CHANNEL = {"green": "OPEN", "yellow": "HOLD", "red": "INSPECT"}


def perfect_passage(truth: PassageTruth, start_utc: float) -> VehiclePassage:
    """What an infallible camera would report for a truth passage."""
    plates = [PlateRead(text=truth.tractor_plate.text, format=truth.tractor_plate.format, role="tractor",
                        confidence=0.99)]
    if truth.trailer_plate is not None:
        plates.append(PlateRead(text=truth.trailer_plate.text, format=truth.trailer_plate.format, role="trailer",
                                confidence=0.99))
    return VehiclePassage(
        passage_id=truth.passage_id, lane_id=truth.lane_id, direction=truth.direction,
        first_seen_utc=start_utc + truth.t_enter, last_seen_utc=start_utc + truth.t_exit, plates=tuple(plates),
        containers=tuple(ContainerRead(number=c.number, check_digit_ok=True, size_type=c.size_type,
                                       position=c.position, confidence=0.99) for c in truth.containers),
        seals=tuple(SealRead(container_number=c.number, state="present" if c.seal.present else "absent",
                             number=c.seal.number, confidence=0.99) for c in truth.containers))


def check_planted(truths: list[PassageTruth], book: DeclarationBook, start_utc: float) -> set[str]:
    """Decide every truth passage; returns the mismatch kinds seen."""
    seen: set[str] = set()
    for truth in truths:
        the_passage = perfect_passage(truth, start_utc)
        decision = decide(the_passage, book.candidates(the_passage), RULES, start_utc)
        seen.add(truth.mismatch)
        if truth.mismatch == "none":
            declared = book.get(truth.declaration_id or "")
            assert declared is not None
            assert decision.outcome == BY_CHANNEL[declared.channel], (truth.passage_id, codes(decision))
            assert decision.declaration_id == truth.declaration_id
            continue
        outcome, code = EXPECTED_BY_MISMATCH[truth.mismatch]
        assert decision.outcome == outcome, (truth.passage_id, truth.mismatch, codes(decision))
        assert code in codes(decision)
        assert decision.declaration_id == truth.declaration_id
    return seen


def load_book(path: Path) -> DeclarationBook:
    batch = read_jsonl_file(path)
    assert batch.bad == []
    book = DeclarationBook()
    for item in batch.items:
        assert book.add(item.declaration)
    return book


def test_generated_recording_declarations_load_and_decide(tmp_path: Path) -> None:
    generate(tmp_path / "rec", duration_s=80, fps=1, size=(160, 96), cameras=("front",), trucks_per_hour=600,
             mismatch_share=0.6, workers=1, seed=11)
    recording = Recording.open(tmp_path / "rec")
    book = load_book(tmp_path / "rec" / "declarations.jsonl")
    truths = list(recording.passages())
    assert len(book) == sum(1 for t in truths if t.declaration_id is not None)
    seen = check_planted(truths, book, float(recording.meta.generator["start_utc"]))
    assert "none" in seen
    assert len(seen) >= 2


BUNDLED = Path(__file__).resolve().parents[2] / "datasets" / "recordings" / "huu_nghi_demo"


@pytest.mark.skipif(not BUNDLED.is_dir(), reason="the bundled demo recording is generated by `smartgate demo`")
@pytest.mark.parametrize("lane", ["in-1", "out-1"])
def test_bundled_demo_recording_decides_as_planted(lane: str) -> None:
    recording = Recording.open(BUNDLED / lane)
    book = load_book(BUNDLED / lane / "declarations.jsonl")
    check_planted(list(recording.passages()), book, float(recording.meta.generator["start_utc"]))


@pytest.mark.parametrize("direction", ["in", "out"])
def test_many_planned_passages_decide_as_planted(direction: str) -> None:
    planned = plan(duration_s=3600, trucks_per_hour=300, seed=4, lane_id=f"{direction}-1",
                   direction=direction,  # type: ignore[arg-type]
                   mismatch_share=0.5, conditions_share=0.0, start_utc=DEFAULT_START_UTC)
    book = DeclarationBook()
    for p in planned:
        if p.declaration is not None:
            book.add(msgspec.convert(msgspec.to_builtins(p.declaration), Declaration))
    seen = check_planted([p.truth for p in planned], book, DEFAULT_START_UTC)
    assert seen == {"none", *EXPECTED_BY_MISMATCH}

