"""The recording format (datasets/recording.py) and its loader (RecordingSource), on real files written to disk."""

from __future__ import annotations

import re
import time
from pathlib import Path

import cv2
import msgspec
import numpy as np
import pytest

from datasets.recording import (
    MAX_LINE_BYTES,
    CameraMeta,
    ContainerTruth,
    Declaration,
    DeclaredContainer,
    FrameTruth,
    ObjectTruth,
    PassageTruth,
    PlateTruth,
    Recording,
    RecordingError,
    RecordingMeta,
    RecordingWriter,
    SealTruth,
)
from datasets.sources import Frame, RecordingSource, SourceError

W, H = 64, 48
T0 = 1_795_000_000.0


def scene(value: int) -> np.ndarray:
    """A flat frame whose brightness identifies it even after JPEG compression."""
    return np.full((H, W, 3), value, np.uint8)


def brightness(frame: Frame) -> int:
    assert frame.image is not None
    return round(float(frame.image.mean()))


def make_meta(storage: str = "frames", fps: float = 10.0) -> RecordingMeta:
    cameras = {"front": CameraMeta(view="front", width=W, height=H, storage=storage),  # type: ignore[arg-type]
               "rear": CameraMeta(view="rear", width=W, height=H, storage=storage)}  # type: ignore[arg-type]
    return RecordingMeta(name="unit", lane_id="L1", direction="in", fps=fps, duration_s=0.0, cameras=cameras,
                         seed=7, created_utc=T0)


def plate_box(index: int) -> ObjectTruth:
    return ObjectTruth(cls="plate", box=(10.0 + index, 20.0, 40.0 + index, 30.0), text="51C12345", passage_id="p1")


def write_recording(root: Path, storage: str = "frames", indices: tuple[int, ...] = (0, 1, 2, 3, 4),
                    fps: float = 10.0) -> list[FrameTruth]:
    """Both cameras, frame-major as the generator writes them; frame i of 'front' has brightness 20 + 25·i."""
    written = []
    with RecordingWriter(root, make_meta(storage, fps), jpeg_quality=95) as writer:
        for i in indices:
            t = i / fps
            written.append(writer.write_frame("front", i, t, scene(20 + 25 * i), [plate_box(i)]))
            writer.write_frame("rear", i, t, scene(240 - 25 * i), [])
        writer.add_passage(passage())
        writer.add_declaration(declaration())
    return written


def passage() -> PassageTruth:
    plate = PlateTruth(text="51C12345", format="vn", color="yellow", lines=1)
    box = ContainerTruth(number="MSCU1234565", size_type="22G1", length_ft=20, position="single",
                         seal=SealTruth(present=True, number="VN123456"))
    return PassageTruth(passage_id="p1", lane_id="L1", direction="in", t_enter=0.0, t_exit=0.4,
                        tractor_plate=plate, containers=[box], declaration_id="d1")


def declaration() -> Declaration:
    return Declaration(declaration_id="d1", customs_declaration_no="305123456789", tractor_plate="51C12345",
                       containers=[DeclaredContainer(number="MSCU1234565", seal_number="VN123456")],
                       valid_from_utc=T0, valid_until_utc=T0 + 86400)


# --- the format ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("storage", ["frames", "video"])
def test_round_trip_truth(tmp_path: Path, storage: str) -> None:
    written = write_recording(tmp_path, storage)
    rec = Recording.open(tmp_path)
    assert rec.meta == make_meta(storage)
    assert list(rec.frames("front")) == written
    assert len(list(rec.frames())) == 2 * len(written)
    assert list(rec.passages()) == [passage()]
    assert list(rec.declarations()) == [declaration()]
    assert rec.errors.count == 0


def test_frames_storage_layout(tmp_path: Path) -> None:
    write_recording(tmp_path, "frames")
    assert sorted(p.name for p in (tmp_path / "cameras" / "front").iterdir()) == [f"{i:06d}.jpg" for i in range(5)]
    assert {p.name for p in tmp_path.iterdir()} == {"recording.json", "cameras", "frames.jsonl", "passages.jsonl",
                                                    "declarations.jsonl"}


def test_video_reference_is_the_position_in_the_video(tmp_path: Path) -> None:
    written = write_recording(tmp_path, "video", indices=(3, 7, 8))
    assert [t.file for t in written] == ["cameras/front.avi#0", "cameras/front.avi#1", "cameras/front.avi#2"]
    assert [t.frame for t in written] == [3, 7, 8]


def test_close_rewrites_metadata(tmp_path: Path) -> None:
    writer = RecordingWriter(tmp_path, make_meta())
    writer.write_frame("front", 0, 0.0, scene(10), [])
    writer.close(msgspec.structs.replace(make_meta(), duration_s=12.5))
    assert Recording.open(tmp_path).meta.duration_s == 12.5
    assert not (tmp_path / "recording.json.tmp").exists()


@pytest.mark.parametrize(("camera", "shape", "message"), [
    ("side", (H, W, 3), "not declared"),
    ("front", (H + 1, W, 3), f"declared {W}x{H}"),
])
def test_writer_refuses_bad_frames(tmp_path: Path, camera: str, shape: tuple[int, ...], message: str) -> None:
    with RecordingWriter(tmp_path, make_meta()) as writer, pytest.raises(RecordingError, match=message):
        writer.write_frame(camera, 0, 0.0, np.zeros(shape, np.uint8), [])


def _meta_json(**changes: object) -> bytes:
    data = msgspec.to_builtins(make_meta())
    data.update(changes)
    return msgspec.json.encode(data)


@pytest.mark.parametrize(("content", "message"), [
    (None, "recording.json: not found"),
    (b"{not json", "recording.json: JSON is malformed"),
    (b"", "recording.json: Input data was truncated"),
    (_meta_json(version=2), "format version 2 is not 1"),
    (_meta_json(format="other"), "Invalid enum value 'other'"),
    (_meta_json(fps=0), "Expected `float` > 0"),
    (_meta_json(cameras={"front": {"view": "front", "width": 99999, "height": 10}}), "Expected `int` <= 16384"),
    (b" " * (1024 * 1024 + 1), "too large for recording metadata"),
])
def test_open_refuses_bad_metadata(tmp_path: Path, content: bytes | None, message: str) -> None:
    if content is not None:
        (tmp_path / "recording.json").write_bytes(content)
    with pytest.raises(RecordingError, match=re.escape(message)):
        Recording.open(tmp_path)
    with pytest.raises(SourceError, match=re.escape(message)):
        RecordingSource(tmp_path, "front")


def test_bad_truth_lines_are_counted_and_skipped(tmp_path: Path) -> None:
    written = write_recording(tmp_path)
    good = (tmp_path / "frames.jsonl").read_bytes().splitlines(keepends=True)
    bad = [b"garbage\n", b'{"camera": "front", "frame": -1, "t": 0, "file": "x.jpg"}\n',
           b"x" * (MAX_LINE_BYTES + 10) + b"\n", b"\n"]
    truncated = good[-1][: len(good[-1]) // 2]  # a crash mid-write leaves half a line
    (tmp_path / "frames.jsonl").write_bytes(b"".join(good[:2] + bad + good[2:] + [truncated]))
    rec = Recording.open(tmp_path)
    front = list(rec.frames("front"))
    assert front == written  # the truncated line was the last 'rear' frame
    assert rec.errors.count == 4  # garbage, negative frame, the long line, the truncated tail; blank lines are fine
    assert any("line too long" in e for e in rec.errors.examples)


def test_truncated_passages_lose_only_the_last_line(tmp_path: Path) -> None:
    write_recording(tmp_path)
    line = msgspec.json.encode(passage())
    (tmp_path / "passages.jsonl").write_bytes(line + b"\n" + line + b"\n" + line[:30])
    rec = Recording.open(tmp_path)
    assert list(rec.passages()) == [passage(), passage()]
    assert rec.errors.count == 1


def test_passages_written_before_hidden_texts_read_as_readable(tmp_path: Path) -> None:
    write_recording(tmp_path)
    old = (b'{"passage_id":"p1","lane_id":"L1","direction":"in","t_enter":0.0,"t_exit":0.4,"tractor_plate":'
           b'{"text":"51C12345","format":"vn","color":"yellow","lines":1},"containers":[{"number":"MSCU1234565",'
           b'"size_type":"22G1","length_ft":20,"position":"single","seal":{"present":true,"number":"VN123456"}}],'
           b'"declaration_id":"d1"}\n')
    (tmp_path / "passages.jsonl").write_bytes(old)
    (read,) = Recording.open(tmp_path).passages()
    assert read == passage()
    assert not read.tractor_plate.hidden
    assert not read.containers[0].number_hidden


def test_hidden_texts_round_trip(tmp_path: Path) -> None:
    truth = passage()
    hidden = msgspec.structs.replace(
        truth, tractor_plate=msgspec.structs.replace(truth.tractor_plate, hidden=True),
        containers=[msgspec.structs.replace(truth.containers[0], number_hidden=True)])
    with RecordingWriter(tmp_path, make_meta("frames")) as writer:
        writer.add_passage(hidden)
    assert list(Recording.open(tmp_path).passages()) == [hidden]


def test_missing_truth_files_read_as_empty(tmp_path: Path) -> None:
    write_recording(tmp_path)
    (tmp_path / "declarations.jsonl").unlink()
    assert list(Recording.open(tmp_path).declarations()) == []


# --- the loader ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("storage", ["frames", "video"])
def test_source_aligns_frames_with_truth(tmp_path: Path, storage: str) -> None:
    written = write_recording(tmp_path, storage, indices=(0, 1, 3, 4, 6))
    with RecordingSource(tmp_path, "front") as source:
        pairs = list(source.with_truth())
    assert [truth for _, truth in pairs] == written
    for frame, truth in pairs:
        assert (frame.camera, frame.index, frame.t, frame.error) == ("front", truth.frame, truth.t, None)
        assert frame.ts_utc == pytest.approx(T0 + truth.t)
        assert frame.image is not None
        assert frame.image.shape == (H, W, 3)
        assert frame.image.dtype == np.uint8
        assert abs(brightness(frame) - (20 + 25 * truth.frame)) <= 2
    assert source.stats.frames == 5
    assert (source.stats.corrupt, source.stats.missing) == (0, 0)


@pytest.mark.parametrize("storage", ["frames", "video"])
def test_source_reads_one_camera_only(tmp_path: Path, storage: str) -> None:
    write_recording(tmp_path, storage)
    frames = list(RecordingSource(tmp_path, "rear"))
    assert [brightness(f) for f in frames] == pytest.approx([240 - 25 * i for i in range(5)], abs=2)


def test_source_refuses_unknown_camera_and_missing_dir(tmp_path: Path) -> None:
    write_recording(tmp_path)
    with pytest.raises(SourceError, match=r"no camera 'side' \(cameras: front, rear\)"):
        RecordingSource(tmp_path, "side")
    with pytest.raises(SourceError, match=re.escape("nowhere/recording.json: not found")):
        RecordingSource(tmp_path / "nowhere", "front")


def _rewrite_frame_files(root: Path, files: dict[int, str]) -> None:
    lines = []
    for truth in Recording.open(root).frames():
        if truth.camera == "front" and truth.frame in files:
            truth = msgspec.structs.replace(truth, file=files[truth.frame])
        lines.append(msgspec.json.encode(truth) + b"\n")
    (root / "frames.jsonl").write_bytes(b"".join(lines))


@pytest.mark.parametrize(("file", "error", "kind"), [
    ("../../etc/passwd", "outside the recording", "corrupt"),
    ("/etc/passwd", "outside the recording", "corrupt"),
    ("cameras/front/../../../x.jpg", "outside the recording", "corrupt"),
    ("cameras/front/999999.jpg", "not found", "missing"),
    ("recording.json", "not a JPEG or PNG", "corrupt"),
    ("cameras/rear/000001.jpg", None, None),  # inside the recording: allowed, it is just another frame
])
def test_source_reports_bad_frame_references(tmp_path: Path, file: str, error: str | None, kind: str | None) -> None:
    write_recording(tmp_path)
    _rewrite_frame_files(tmp_path, {2: file})
    source = RecordingSource(tmp_path, "front")
    frames = list(source)
    assert [f.index for f in frames] == [0, 1, 2, 3, 4]
    bad = frames[2]
    if error is None:
        assert bad.ok
        return
    assert bad.image is None
    assert bad.error is not None
    assert error in bad.error
    assert all(f.ok for i, f in enumerate(frames) if i != 2)
    assert getattr(source.stats, kind or "") == 1
    assert source.stats.frames == 4
    assert source.stats.last_error == bad.error


def test_source_reports_truncated_and_wrong_size_frames(tmp_path: Path) -> None:
    write_recording(tmp_path)
    folder = tmp_path / "cameras" / "front"
    data = (folder / "000001.jpg").read_bytes()
    (folder / "000001.jpg").write_bytes(data[: len(data) // 2])
    _, big = cv2.imencode(".jpg", np.zeros((H * 2, W, 3), np.uint8))
    (folder / "000003.jpg").write_bytes(big.tobytes())
    source = RecordingSource(tmp_path, "front")
    frames = list(source)
    assert [f.ok for f in frames] == [True, False, True, False, True]
    assert frames[1].error is not None
    assert "truncated JPEG" in frames[1].error
    assert frames[3].error is not None
    assert f"frame is {W}x{2 * H}, recording declares {W}x{H}" in frames[3].error
    assert (source.stats.frames, source.stats.corrupt, source.stats.missing) == (3, 2, 0)


def broken_scan(data: bytes) -> bytes:
    """JPEG bytes whose header, size and end marker are intact but whose start-of-scan header is not."""
    scan = data.index(b"\xff\xda")
    return data[: scan + 2] + b"\x00\x01" + data[scan + 4 :]


def test_a_frame_file_is_decoded_only_when_its_pixels_are_used(tmp_path: Path) -> None:
    """The source checks each file and hands it over encoded: a consumer that never asks for the pixels (a frame
    the pipeline skips) costs no decode. Bytes the decoder refuses make it an error frame when they are asked for."""
    write_recording(tmp_path)
    folder = tmp_path / "cameras" / "front"
    (folder / "000002.jpg").write_bytes(broken_scan((folder / "000002.jpg").read_bytes()))
    source = RecordingSource(tmp_path, "front")
    frames = list(source)
    assert all(f.ok and f.encoded is not None and "encoded" in repr(f) for f in frames)
    assert (source.stats.frames, source.stats.corrupt) == (5, 0)
    first = frames[0].image
    assert first is not None
    assert first.shape == (H, W, 3)
    assert frames[0].image is first  # decoded once
    assert frames[2].image is None
    assert not frames[2].ok
    assert frames[2].error is not None
    assert "corrupt image data" in frames[2].error
    moved = frames[1].moved(camera="in-1-front", t=9.0, ts_utc=T0 + 9.0)
    assert (moved.camera, moved.index, moved.t, moved.encoded) == ("in-1-front", 1, 9.0, frames[1].encoded)
    assert brightness(moved) == brightness(frames[1])


def test_source_reports_every_frame_of_a_missing_video(tmp_path: Path) -> None:
    write_recording(tmp_path, "video")
    (tmp_path / "cameras" / "front.avi").unlink()
    source = RecordingSource(tmp_path, "front")
    frames = list(source)
    assert len(frames) == 5
    assert all(f.error is not None and "video not found" in f.error for f in frames)
    assert source.stats.missing == 5


def test_source_reports_frames_past_the_end_of_a_video(tmp_path: Path) -> None:
    write_recording(tmp_path, "video")
    extra = FrameTruth(camera="front", frame=5, t=0.5, file="cameras/front.avi#5")
    with (tmp_path / "frames.jsonl").open("ab") as handle:
        handle.write(msgspec.json.encode(extra) + b"\n")
    source = RecordingSource(tmp_path, "front")
    frames = list(source)
    assert [f.ok for f in frames] == [True] * 5 + [False]
    assert frames[-1].error is not None
    assert "frame 5 missing from the video" in frames[-1].error


def test_realtime_paces_to_the_recorded_time(tmp_path: Path) -> None:
    write_recording(tmp_path, fps=25.0)  # 5 frames span 0.16 s
    start = time.monotonic()
    frames = list(RecordingSource(tmp_path, "front", realtime=True))
    assert len(frames) == 5
    assert time.monotonic() - start >= 0.15


def test_close_stops_a_realtime_replay(tmp_path: Path) -> None:
    write_recording(tmp_path, fps=1.0)  # 5 frames span 4 s
    source = RecordingSource(tmp_path, "front", realtime=True)
    start = time.monotonic()
    seen = []
    for frame in source:
        seen.append(frame)
        source.close()
    assert len(seen) == 1
    assert time.monotonic() - start < 0.5
