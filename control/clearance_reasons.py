"""Every reason a clearance decision can give, with the outcome it leads to and its words in English and Vietnamese.

One table, so the officers' wording is reviewed in one place and tests can check that each code is reachable.
Templates take named fields (plates, container and seal numbers, times); values are cut to a safe length before
they are put in, since some of them were read by a camera from a hostile world.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from bus.messages import Outcome, Reason

_MAX_FIELD_CHARS = 120


@dataclass(frozen=True)
class ReasonText:
    outcome: Outcome
    en: str
    vi: str


REASONS: dict[str, ReasonText] = {
    # OPEN
    "cleared": ReasonText(
        "OPEN", "Green channel: plates, containers and seals match declaration {declaration}",
        "Luồng xanh: biển số, container và niêm phong khớp với tờ khai {declaration}"),
    # REJECT
    "no_declaration": ReasonText(
        "REJECT", "No declaration matches this vehicle (read: {read})",
        "Không có tờ khai khớp với phương tiện này (đọc được: {read})"),
    "declaration_expired": ReasonText(
        "REJECT", "Declaration {declaration} expired at {time}",
        "Tờ khai {declaration} đã hết hiệu lực lúc {time}"),
    "declaration_not_yet_valid": ReasonText(
        "REJECT", "Declaration {declaration} is valid only from {time}",
        "Tờ khai {declaration} chỉ có hiệu lực từ {time}"),
    # INSPECT
    "channel_red": ReasonText(
        "INSPECT", "Red channel: documents and goods must be inspected",
        "Luồng đỏ: phải kiểm tra hồ sơ và kiểm tra thực tế hàng hóa"),
    "undeclared_container": ReasonText(
        "INSPECT", "Container {container} is not in declaration {declaration}",
        "Container {container} không có trong tờ khai {declaration}"),
    "seal_missing": ReasonText(
        "INSPECT", "No seal on container {container} (declared seal {seal})",
        "Container {container} không có niêm phong (niêm phong khai báo: {seal})"),
    "seal_number_mismatch": ReasonText(
        "INSPECT", "Seal number on container {container} does not match the declaration (read {read}, "
                   "declared {seal})",
        "Số niêm phong của container {container} không khớp với tờ khai (đọc được {read}, khai báo {seal})"),
    "seal_unknown": ReasonText(
        "INSPECT", "The seal of container {container} could not be checked (declared seal {seal})",
        "Không kiểm tra được niêm phong của container {container} (niêm phong khai báo: {seal})"),
    # HOLD
    "channel_yellow": ReasonText(
        "HOLD", "Yellow channel: an officer must check the documents",
        "Luồng vàng: cán bộ hải quan phải kiểm tra hồ sơ"),
    "vehicle_not_identified": ReasonText(
        "HOLD", "No plate or container number could be read with confidence",
        "Không đọc được biển số hoặc số container với độ tin cậy đủ cao"),
    "plate_format_unknown": ReasonText(
        "HOLD", "No declaration matches this vehicle, and its plate read {read} fits no Vietnamese or Chinese plate "
                "format: check the plate",
        "Không có tờ khai khớp với phương tiện này, và biển số đọc được {read} không theo định dạng biển số Việt Nam "
        "hoặc Trung Quốc: cần kiểm tra biển số"),
    "ambiguous_declaration": ReasonText(
        "HOLD", "Several declarations match this vehicle equally well: {declarations}",
        "Có nhiều tờ khai khớp như nhau với phương tiện này: {declarations}"),
    "direction_mismatch": ReasonText(
        "HOLD", "Declaration {declaration} is an {declared_en} declaration, but the vehicle passed a {lane_en} lane",
        "Tờ khai {declaration} là tờ khai {declared_vi}, nhưng phương tiện đi qua làn {lane_vi}"),
    "tractor_plate_not_read": ReasonText(
        "HOLD", "The tractor plate was not read (declared {declared})",
        "Không đọc được biển số đầu kéo (khai báo {declared})"),
    "tractor_plate_mismatch": ReasonText(
        "HOLD", "The tractor plate does not match the declaration (read {read}, declared {declared})",
        "Biển số đầu kéo không khớp với tờ khai (đọc được {read}, khai báo {declared})"),
    "tractor_plate_low_confidence": ReasonText(
        "HOLD", "The tractor plate was read as {read} with low confidence ({confidence}; declared {declared})",
        "Biển số đầu kéo đọc được là {read} với độ tin cậy thấp ({confidence}; khai báo {declared})"),
    "trailer_plate_not_read": ReasonText(
        "HOLD", "The trailer plate was not read (declared {declared})",
        "Không đọc được biển số rơ moóc (khai báo {declared})"),
    "trailer_plate_mismatch": ReasonText(
        "HOLD", "The trailer plate does not match the declaration (read {read}, declared {declared})",
        "Biển số rơ moóc không khớp với tờ khai (đọc được {read}, khai báo {declared})"),
    "trailer_plate_low_confidence": ReasonText(
        "HOLD", "The trailer plate was read as {read} with low confidence ({confidence}; declared {declared})",
        "Biển số rơ moóc đọc được là {read} với độ tin cậy thấp ({confidence}; khai báo {declared})"),
    "trailer_plate_undeclared": ReasonText(
        "HOLD", "Trailer plate {read} was read, but the declaration has no trailer",
        "Đọc được biển số rơ moóc {read}, nhưng tờ khai không khai báo rơ moóc"),
    "declared_container_not_seen": ReasonText(
        "HOLD", "Declared container {container} was not read on the vehicle",
        "Không đọc được container {container} đã khai báo trên phương tiện"),
    "container_low_confidence": ReasonText(
        "HOLD", "Container {container} was read as {read} with low confidence ({confidence})",
        "Container {container} đọc được là {read} với độ tin cậy thấp ({confidence})"),
    "container_unconfirmed": ReasonText(
        "HOLD", "A container number read as {read} could not be confirmed (check digit wrong or low confidence)",
        "Không xác nhận được số container đọc được là {read} (sai số kiểm tra hoặc độ tin cậy thấp)"),
    "seal_low_confidence": ReasonText(
        "HOLD", "The seal of container {container} was read with low confidence ({confidence})",
        "Niêm phong của container {container} đọc được với độ tin cậy thấp ({confidence})"),
    "seal_undeclared": ReasonText(
        "HOLD", "Container {container} carries a seal ({read}), but the declaration gives none",
        "Container {container} có niêm phong ({read}), nhưng tờ khai không khai báo niêm phong"),
}

#: Severity order of outcomes: the decision takes the most severe of its reasons.
SEVERITY: dict[Outcome, int] = {"OPEN": 0, "HOLD": 1, "INSPECT": 2, "REJECT": 3}

_DIRECTION_WORDS = {"export": ("export", "xuất khẩu"), "import": ("import", "nhập khẩu"), "any": ("any", "bất kỳ")}
_LANE_WORDS = {"in": ("gate-in", "vào"), "out": ("gate-out", "ra")}


def reason(code: str, **values: str) -> Reason:
    """The reason `code` with its fields filled in, in both languages."""
    text = REASONS[code]
    safe = {key: _clip(value) for key, value in values.items()}
    return Reason(code=code, en=text.en.format(**safe), vi=text.vi.format(**safe))


def direction_words(declared: str, lane: str) -> dict[str, str]:
    """Fields for `direction_mismatch`."""
    declared_en, declared_vi = _DIRECTION_WORDS.get(declared, (declared, declared))
    lane_en, lane_vi = _LANE_WORDS.get(lane, (lane, lane))
    return {"declared_en": declared_en, "declared_vi": declared_vi, "lane_en": lane_en, "lane_vi": lane_vi}


def utc_text(t: float) -> str:
    """``2026-09-01 08:30 UTC``: a time officers can read."""
    return datetime.fromtimestamp(t, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def confidence_text(value: float) -> str:
    return f"{value:.2f}"


def _clip(value: str) -> str:
    text = str(value)
    if not text.isprintable():
        text = "".join(ch if ch.isprintable() else "?" for ch in text)
    return text if len(text) <= _MAX_FIELD_CHARS else text[: _MAX_FIELD_CHARS - 1] + "…"
