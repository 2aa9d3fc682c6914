"""Site files: the bundled site validates, every invalid file gives one line naming the file and the field."""

from __future__ import annotations

import copy
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from smartgate.site import (
    MAX_SITE_FILE_BYTES,
    MjpegSource,
    RecordingSource,
    RtspSource,
    Site,
    SiteConfigError,
    VideoSource,
    bundled_site_path,
    check_site_files,
    load_site,
    resolve_bundled,
)

REPO = Path(__file__).resolve().parents[2]
Mutation = Callable[[dict[str, Any]], object]


def bundled_dict() -> dict[str, Any]:
    data = yaml.safe_load(bundled_site_path().read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise TypeError("the bundled site is not a mapping")
    return data


def write_site(folder: Path, mutate: Mutation | None = None, name: str = "site.yaml") -> Path:
    """The bundled site, changed by ``mutate``, written as YAML into ``folder``."""
    data = copy.deepcopy(bundled_dict())
    if mutate is not None:
        mutate(data)
    path = folder / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def one_lane_site(folder: Path, cameras: list[dict[str, Any]]) -> Site:
    """The bundled site cut to its lane `in-1`, with these cameras, no yard and no declarations feed; loaded, its
    runtime data under ``folder/var``."""
    def one_lane(data: dict[str, Any]) -> None:
        data["lanes"] = [{**data["lanes"][0], "cameras": cameras}]
        endpoints(data)["gate_links"] = {"in-1": endpoints(data)["gate_links"]["in-1"]}
        del data["yard"], data["declarations"]

    return load_site(write_site(folder, one_lane), data_dir=folder / "var")


def camera(data: dict[str, Any], lane: int = 0, index: int = 0) -> dict[str, Any]:
    cam: dict[str, Any] = data["lanes"][lane]["cameras"][index]
    return cam


def endpoints(data: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = data["bus"]["endpoints"]
    return found


# --- the bundled site -------------------------------------------------------------------------------------------


def test_bundled_site_models_the_huu_nghi_freight_road(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    site = load_site(bundled_site_path())

    assert site.site.id == "huu-nghi-1119"
    assert site.site.timezone == "Asia/Ho_Chi_Minh"
    assert site.site.countries == ("VN", "CN")
    assert [(lane.id, lane.direction, lane.barrier) for lane in site.lanes] == [
        ("in-1", "in", "barrier-1"), ("out-1", "out", "barrier-2")]
    for lane in site.lanes:
        assert {c.view for c in lane.cameras} >= {"front", "rear", "side_left", "top"}
        for cam in lane.cameras:
            assert isinstance(cam.source, RecordingSource)
            assert cam.source.path == REPO / "datasets" / "recordings" / "huu_nghi_demo" / lane.id
            assert cam.recording_camera == cam.view
    assert site.bus.security == "curve"
    assert site.data_dir == tmp_path / "var"
    assert site.bus.keys_dir == tmp_path / "var" / "keys"
    assert site.journal.url == f"sqlite:///{tmp_path / 'var' / 'journal.sqlite'}"
    assert site.journal.sqlite_path == tmp_path / "var" / "journal.sqlite"
    assert site.yard is not None
    assert site.yard.layout == bundled_site_path().parent / "huu_nghi_1119_yard.yaml"
    assert site.yard.layout.is_file()
    assert set(site.bus.endpoints.gate_links) == {"in-1", "out-1"}
    addresses = [endpoint for _, endpoint in site.bus.endpoints.all()]
    assert len(addresses) == len(set(addresses)) == 6
    assert all(a.startswith("tcp://127.0.0.1:") for a in addresses)
    assert site.component_names() == ["broker", "journal", "clearance", "lane-in-1", "gate-in-1", "lane-out-1",
                                      "gate-out-1", "planner", "yard", "field-devices", "api", "demo"]
    assert site.lane("out-1").direction == "out"
    assert sum(1 for _ in site.cameras()) == 8


def test_the_bundled_recording_need_not_exist_yet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The demo generates its recording on first run, so missing inputs are warnings, not errors."""
    monkeypatch.chdir(tmp_path)
    site = load_site(bundled_site_path())
    warnings = check_site_files(site)
    assert any("bus.keys_dir" in w for w in warnings)
    recording = REPO / "datasets" / "recordings" / "huu_nghi_demo" / "in-1"
    assert any(str(recording) in w for w in warnings) == (not recording.is_dir())


def test_data_dir_override_moves_runtime_files(tmp_path: Path) -> None:
    site = load_site(bundled_site_path(), data_dir=tmp_path / "run")
    assert site.data_dir == tmp_path / "run"
    assert site.bus.keys_dir == tmp_path / "run" / "keys"
    assert site.journal.url == f"sqlite:///{tmp_path / 'run' / 'journal.sqlite'}"


def test_site_is_frozen() -> None:
    site = load_site(bundled_site_path())
    with pytest.raises(ValidationError):
        site.lanes[0].id = "in-9"


# --- paths ------------------------------------------------------------------------------------------------------


def test_input_paths_resolve_against_the_site_file_and_runtime_paths_against_data_dir(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "sites"
    folder.mkdir()

    def local_inputs(data: dict[str, Any]) -> None:
        camera(data)["source"] = {"kind": "video", "path": "clips/front.mp4"}
        camera(data, 0, 1)["source"] = {"kind": "images", "path": "/abs/frames"}
        camera(data, 0, 1)["fps"] = 5
        data["yard"] = {"layout": "../layouts/yard.yaml"}
        data["declarations"] = {"feed": {"kind": "directory", "path": "decl"}, "from_bus": False}
        data["data_dir"] = "state"
        data["bus"]["keys_dir"] = "/etc/smartgate/keys"
        data["journal"] = {"url": "sqlite:///db/journal.sqlite"}

    path = write_site(folder, local_inputs)
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    site = load_site(path)

    front, second = site.lanes[0].cameras[:2]
    assert isinstance(front.source, VideoSource)
    assert front.source.path == folder / "clips" / "front.mp4"
    assert second.source.kind == "images"
    assert second.source.path == Path("/abs/frames")
    assert site.yard is not None
    assert site.yard.layout == tmp_path / "layouts" / "yard.yaml"
    assert site.declarations.feed is not None
    assert site.declarations.feed.path == folder / "decl"
    assert site.data_dir == elsewhere / "state"
    assert site.bus.keys_dir == Path("/etc/smartgate/keys")
    assert site.journal.url == f"sqlite:///{elsewhere / 'state' / 'db' / 'journal.sqlite'}"

    warnings = check_site_files(site)
    assert any(w.startswith("lanes[0].cameras[0].source.path: file ") for w in warnings)
    (folder / "clips").mkdir()
    (folder / "clips" / "front.mp4").write_bytes(b"")
    assert not any(w.startswith("lanes[0].cameras[0].") for w in check_site_files(site))


@pytest.mark.parametrize(("name", "ok"), [
    ("huu_nghi_demo", True), ("huu_nghi_demo/in-1/declarations.jsonl", True),
    ("../etc", False), ("a/../../b", False), ("/abs", False), ("", False), ("a//b", False), (".hidden", False),
])
def test_resolve_bundled_stays_inside_the_recordings_folder(name: str, ok: bool) -> None:
    if ok:
        assert resolve_bundled(name).is_relative_to(REPO / "datasets" / "recordings")
    else:
        with pytest.raises(ValueError, match="bundled name"):
            resolve_bundled(name)


def test_model_validate_without_a_file_resolves_against_the_working_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    data = bundled_dict()
    camera(data)["source"] = {"kind": "video", "path": "a.mp4"}
    site = Site.model_validate(data)
    assert site.lanes[0].cameras[0].source == VideoSource(kind="video", path=tmp_path / "a.mp4")


# --- valid variants ---------------------------------------------------------------------------------------------


def _rtsp(data: dict[str, Any]) -> None:
    camera(data)["source"] = {"kind": "rtsp", "url": "rtsp://user:secret@10.0.0.7:554/stream1"}


def _mjpeg(data: dict[str, Any]) -> None:
    camera(data)["source"] = {"kind": "mjpeg", "url": "https://user:secret@10.0.0.8/axis-cgi/mjpg/video.cgi"}


def _development(data: dict[str, Any]) -> None:
    data["bus"].update(security="development", allow_insecure_development=True)


def _ipc_and_ipv6(data: dict[str, Any]) -> None:
    endpoints(data).update(publish="ipc:///tmp/smartgate-events", planner="tcp://[::1]:57103")


def _postgres(data: dict[str, Any]) -> None:
    data["journal"] = {"url": "postgresql+psycopg://gate:pw@db.local:5432/smartgate"}


def _minimal(data: dict[str, Any]) -> None:
    for section in ("yard", "journal", "declarations", "api"):
        del data[section]


@pytest.mark.parametrize("mutate", [_rtsp, _mjpeg, _development, _ipc_and_ipv6, _postgres, _minimal])
def test_valid_variants(tmp_path: Path, mutate: Mutation) -> None:
    site = load_site(write_site(tmp_path, mutate))
    if mutate is _rtsp:
        assert isinstance(site.lanes[0].cameras[0].source, RtspSource)
    if mutate is _mjpeg:
        assert isinstance(site.lanes[0].cameras[0].source, MjpegSource)
    if mutate is _minimal:
        assert site.yard is None
        assert site.declarations.from_bus
        assert site.journal.sqlite_path is not None


# --- invalid fields ---------------------------------------------------------------------------------------------


def _set(getter: Callable[[dict[str, Any]], dict[str, Any]], key: str, value: object) -> Mutation:
    return lambda data: getter(data).__setitem__(key, value)


def _root(data: dict[str, Any]) -> dict[str, Any]:
    return data


def _bus(data: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = data["bus"]
    return found


def _lane(index: int) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda data: data["lanes"][index]


def _source(data: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = camera(data)["source"]
    return found


INVALID_FIELDS: list[tuple[str, Mutation, str, str]] = [
    # (case, mutation, field path, words of the problem)
    ("bad endpoint scheme", _set(endpoints, "publish", "http://127.0.0.1:57100"), "bus.endpoints.publish",
     "tcp://host:port or ipc:///path"),
    ("endpoint without port", _set(endpoints, "subscribe", "tcp://127.0.0.1"), "bus.endpoints.subscribe",
     "tcp://host:port"),
    ("endpoint port out of range", _set(endpoints, "clearance", "tcp://127.0.0.1:70000"),
     "bus.endpoints.clearance", "65535"),
    ("endpoint bad IP", _set(endpoints, "clearance", "tcp://999.0.0.1:5000"), "bus.endpoints.clearance",
     "not a valid IP"),
    ("unbracketed IPv6", _set(endpoints, "clearance", "tcp://::1:5000"), "bus.endpoints.clearance", "IPv6"),
    ("relative ipc", _set(endpoints, "planner", "ipc://relative/sock"), "bus.endpoints.planner", "absolute"),
    ("ipc path too long", _set(endpoints, "planner", "ipc:///" + "x" * 200), "bus.endpoints.planner", "bytes"),
    ("duplicate endpoint", _set(endpoints, "planner", "tcp://127.0.0.1:57100"), "bus.endpoints.planner",
     "clashes with endpoints.publish"),
    ("wildcard clashes with a host", _set(endpoints, "planner", "tcp://*:57110"), "bus.endpoints.gate_links.in-1",
     "clashes with endpoints.planner"),
    ("gate link for an unknown lane", lambda d: endpoints(d)["gate_links"].update({"in-9": "tcp://127.0.0.1:5"}),
     "bus.endpoints.gate_links.in-9", "no lane has this id"),
    ("lane without gate link", lambda d: endpoints(d)["gate_links"].pop("out-1"), "bus.endpoints.gate_links",
     "no gate link for lane 'out-1'"),
    ("duplicate lane id", _set(_lane(1), "id", "in-1"), "lanes[1].id", "duplicate lane id 'in-1'"),
    ("duplicate camera id", lambda d: camera(d, 1, 2).__setitem__("id", "in-1-front"), "lanes[1].cameras[2].id",
     "duplicate camera id"),
    ("unknown field in a lane", _set(_lane(0), "speed_limit", 20), "lanes[0].speed_limit", "unknown field"),
    ("unknown top-level section", _set(_root, "cameras", []), "cameras", "unknown field"),
    ("wrong direction", _set(_lane(0), "direction", "sideways"), "lanes[0].direction", "got 'sideways'"),
    ("bad lane id", _set(_lane(0), "id", "In 1"), "lanes[0].id", "lowercase"),
    ("wrong view", lambda d: camera(d).__setitem__("view", "back"), "lanes[0].cameras[0].view", "'front'"),
    ("bad rtsp url", lambda d: camera(d).__setitem__("source", {"kind": "rtsp", "url": "http://cam/1"}),
     "lanes[0].cameras[0].source.url", "rtsp://"),
    ("mjpeg url not http", lambda d: camera(d).__setitem__("source", {"kind": "mjpeg", "url": "rtsp://cam/1"}),
     "lanes[0].cameras[0].source.url", "http://"),
    ("rtsp url without host", lambda d: camera(d).__setitem__("source", {"kind": "rtsp", "url": "rtsp:///x"}),
     "lanes[0].cameras[0].source.url", "host"),
    ("unknown source kind", lambda d: camera(d).__setitem__("source", {"kind": "ftp", "url": "ftp://x"}),
     "lanes[0].cameras[0].source", "'ftp'"),
    ("source path missing", lambda d: camera(d).__setitem__("source", {"kind": "video"}),
     "lanes[0].cameras[0].source.path", "required field missing"),
    ("source path not a string", _set(_source, "path", 5), "lanes[0].cameras[0].source.path", "string"),
    ("image folder without fps", lambda d: camera(d).__setitem__("source", {"kind": "images", "path": "f"}),
     "lanes[0].cameras[0].fps", "needs fps"),
    ("negative fps", lambda d: camera(d).__setitem__("fps", -1), "lanes[0].cameras[0].fps", "greater than 0"),
    ("lane without cameras", _set(_lane(0), "cameras", []), "lanes[0].cameras", "at least 1 item"),
    ("no lanes", _set(_root, "lanes", []), "lanes", "at least 1 item"),
    ("development without the flag", _set(_bus, "security", "development"), "bus.security",
     "allow_insecure_development: true"),
    ("insecure flag as a string", lambda d: d["bus"].update(security="development",
                                                             allow_insecure_development="yes"),
     "bus.allow_insecure_development", "valid boolean"),
    ("unknown security", _set(_bus, "security", "none"), "bus.security", "'curve'"),
    ("missing bus", lambda d: d.pop("bus"), "bus", "required field missing"),
    ("unknown time zone", lambda d: d["site"].__setitem__("timezone", "Mars/Olympus"), "site.timezone",
     "time zone"),
    ("time zone as a path", lambda d: d["site"].__setitem__("timezone", "../../etc/passwd"), "site.timezone",
     "time zone"),
    ("same country twice", lambda d: d["site"].__setitem__("countries", ["VN", "VN"]), "site.countries",
     "must differ"),
    ("bad country code", lambda d: d["site"].__setitem__("countries", ["vn", "CN"]), "site.countries[0]",
     "two-letter"),
    ("journal of another database", _set(_root, "journal", {"url": "mysql://db/x"}), "journal.url",
     "sqlite:/// or postgresql://"),
    ("journal in memory", _set(_root, "journal", {"url": "sqlite:///:memory:"}), "journal.url", ":memory:"),
    ("no declaration source", _set(_root, "declarations", {"from_bus": False}), "declarations.from_bus",
     "no declaration source"),
    ("bad feed kind", _set(_root, "declarations", {"feed": {"kind": "socket", "path": "x"}}),
     "declarations.feed.kind", "'jsonl_file'"),
    ("bundled path escaping", _set(_source, "path", "bundled:../../etc"), "lanes[0].cameras[0].source.path",
     "bundled name"),
    ("path with NUL", _set(_source, "path", "a\0b"), "lanes[0].cameras[0].source.path", "without NUL"),
    ("api port", _set(_root, "api", {"port": 0}), "api.port", "greater than or equal to 1"),
]


@pytest.mark.parametrize(("mutate", "field", "problem"), [case[1:] for case in INVALID_FIELDS],
                         ids=[case[0] for case in INVALID_FIELDS])
def test_invalid_field_gives_one_line_naming_file_and_field(
        tmp_path: Path, mutate: Mutation, field: str, problem: str) -> None:
    path = write_site(tmp_path, mutate)
    with pytest.raises(SiteConfigError) as caught:
        load_site(path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: {field}: "), message
    assert problem in message
    assert caught.value.field == field
    assert caught.value.file == str(path)


def test_several_problems_report_the_first_and_count_the_rest(tmp_path: Path) -> None:
    def two_unknown(data: dict[str, Any]) -> None:
        data["lanes"][0]["x"] = 1
        data["lanes"][1]["y"] = 2

    with pytest.raises(SiteConfigError, match=r": lanes\[0\]\.x: unknown field \(\+1 more\)$"):
        load_site(write_site(tmp_path, two_unknown))


# --- invalid files ----------------------------------------------------------------------------------------------


INVALID_FILES: list[tuple[str, bytes, str]] = [
    # (case, file content, expected message after "<file>: ")
    ("empty", b"", "empty file, expected a mapping of sections (site, lanes, bus, ...)"),
    ("only a comment", b"# nothing here\n", "empty file, expected a mapping of sections (site, lanes, bus, ...)"),
    ("a list", b"- site\n- lanes\n", "expected a mapping of sections (site, lanes, bus, ...), got a list"),
    ("a scalar", b"42\n", "expected a mapping of sections (site, lanes, bus, ...), got a number"),
    ("syntax error", b"site:\n  id: x\n lanes: [\n", "line 3: did not find expected key"),
    ("tab indentation", b"site:\n\tid: x\n", "line 2: found character that cannot start any token"),
    ("duplicate key", b"site: {id: a}\nlanes: []\nsite: {id: b}\n", "line 3: duplicate key 'site'"),
    ("alias", b"a: &x [1, 2]\nb: *x\n", "line 2: aliases (*name) are not allowed in site files"),
    ("deep nesting", b"[" * 100_000 + b"]" * 100_000, "line 1: nested deeper than 32 levels"),
    ("python tag", b"site: !!python/object/apply:os.system ['true']\n",
     "line 1: could not determine a constructor for the tag 'tag:yaml.org,2002:python/object/apply:os.system'"),
    ("not UTF-8", "site:\n  name: caf\xe9\n".encode("latin-1"), "line 2: not UTF-8 text"),
    ("huge", b"# " + b"x" * MAX_SITE_FILE_BYTES + b"\n", "larger than 1024 KiB, refused"),
]


@pytest.mark.parametrize(("content", "expected"), [case[1:] for case in INVALID_FILES],
                         ids=[case[0] for case in INVALID_FILES])
def test_invalid_file_gives_one_line(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "site.yaml"
    path.write_bytes(content)
    with pytest.raises(SiteConfigError) as caught:
        load_site(path)
    assert str(caught.value) == f"{path}: {expected}"


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SiteConfigError) as caught:
        load_site(tmp_path / "absent.yaml")
    assert str(caught.value) == f"{tmp_path / 'absent.yaml'}: not found"


def test_directory_and_device_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SiteConfigError, match="is a directory"):
        load_site(tmp_path)
    if os.path.exists("/dev/zero"):
        with pytest.raises(SiteConfigError, match="not a regular file"):
            load_site("/dev/zero")


def test_control_characters_in_a_file_name_keep_the_message_on_one_line(tmp_path: Path) -> None:
    path = tmp_path / "evil\nname.yaml"
    path.write_bytes(b"")
    with pytest.raises(SiteConfigError) as caught:
        load_site(path)
    assert "\n" not in str(caught.value)
    assert "evil\\nname.yaml: empty file" in str(caught.value)
