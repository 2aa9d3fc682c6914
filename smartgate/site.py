"""Site settings: one YAML file describes a gate site, validated into a frozen `Site`.

Why so strict: a site file decides which cameras feed which barrier and whether the bus is encrypted, so a typo
must stop the start-up with one clear line (`<file>: <field>: <problem>`), never run with a guessed value.

Path rules, applied by `load_site`:
- inputs (camera sources, yard layout, declaration feed) are relative to the site file's folder, or name a
  bundled recording as ``bundled:NAME[/SUB...]`` (see `resolve_bundled`); they are checked for form only, since
  the demo generates its recording on first run (`check_site_files` lists what is missing);
- runtime files (journal, keys) are relative to ``data_dir``, itself relative to the current working directory.
"""

from __future__ import annotations

import ipaddress
import os
import re
import unicodedata
from collections.abc import Iterator
from pathlib import Path, PurePath
from typing import Annotated, Any, Literal
from urllib.parse import SplitResult, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    model_validator,
)

from bus.safe_yaml import YamlFileError, read_yaml_file
from control.clearance_rules import ClearanceRules

MAX_SITE_FILE_BYTES = 1024 * 1024
MAX_PATH_CHARS = 4096
MAX_NESTING = 32
BUNDLED_PREFIX = "bundled:"
BUNDLED_SITE = "huu_nghi_1119.yaml"
DEFAULT_DATA_DIR = Path("var")
_PACKAGE_DIR = Path(__file__).resolve().parent
_RECORDINGS_DIR = _PACKAGE_DIR.parent / "datasets" / "recordings"
_SLUG = re.compile(r"[a-z0-9](?:[a-z0-9_-]{0,62}[a-z0-9])?")
_BUNDLED_PART = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")
_HOSTNAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?")
_IPC_PATH_MAX_BYTES = 107  # sun_path holds 108 bytes including the terminating NUL
_WILDCARD_HOSTS = frozenset({"*", "0.0.0.0", "[::]"})  # noqa: S104 - names the bind-all hosts, binds nothing
_TAGGED_UNIONS = frozenset({"source"})  # fields whose error paths carry the union tag, which we drop


class SiteConfigError(ValueError):
    """A site file that cannot be used; ``str()`` is one line: ``<file>: <field>: <problem>``."""

    def __init__(self, file: str, problem: str, field: str | None = None) -> None:
        self.file, self.field, self.problem = file, field, problem
        parts = [file, field, problem] if field else [file, problem]
        super().__init__(": ".join(_one_line(p) for p in parts))


class _FieldError(ValueError):
    """Raised by cross-field checks so the error names the offending field, not the whole section."""

    def __init__(self, loc: tuple[str | int, ...], problem: str) -> None:
        super().__init__(problem)
        self.loc, self.problem = loc, problem


# --- value checks -----------------------------------------------------------------------------------------------


def _slug(value: str) -> str:
    if not _SLUG.fullmatch(value):
        raise ValueError("must be 1–64 lowercase letters, digits, '-' or '_', starting and ending with a letter "
                         "or digit (e.g. 'in-1')")
    return value


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("unknown time zone (expected an IANA name such as 'Asia/Ho_Chi_Minh')") from None
    return value


def _country(value: str) -> str:
    if not re.fullmatch(r"[A-Z]{2}", value):
        raise ValueError("must be a two-letter ISO 3166 country code in capitals (e.g. 'VN')")
    return value


def _endpoint(value: str) -> str:
    """A ZeroMQ endpoint, ``tcp://host:port`` or ``ipc:///absolute/path``."""
    if value.startswith("ipc://"):
        path = value[len("ipc://"):]
        if not path.startswith("/"):
            raise ValueError("ipc endpoint must name an absolute path: ipc:///path/to/socket")
        if len(path.encode()) > _IPC_PATH_MAX_BYTES or "\0" in path:
            raise ValueError(f"ipc path must be at most {_IPC_PATH_MAX_BYTES} bytes without NUL")
        return value
    if not value.startswith("tcp://"):
        raise ValueError("endpoint must be tcp://host:port or ipc:///path")
    host, sep, port = value[len("tcp://"):].rpartition(":")
    if not sep or not host:
        raise ValueError("tcp endpoint must be tcp://host:port")
    _check_host(host)
    _check_port(port)
    return value


def _check_host(host: str) -> None:
    """A host name, an IPv4 address, a bracketed IPv6 address, or a wildcard."""
    if host in _WILDCARD_HOSTS:
        return
    try:
        if host.startswith("[") and host.endswith("]"):
            ipaddress.IPv6Address(host[1:-1])
            return
        if re.fullmatch(r"[0-9.]+", host):
            ipaddress.IPv4Address(host)
            return
    except ValueError:
        raise ValueError("endpoint host is not a valid IP address") from None
    if not _HOSTNAME.fullmatch(host):
        raise ValueError("endpoint host must be a host name, an IP address ([...] for IPv6) or '*'")


def _check_port(port: str) -> None:
    if not port.isascii() or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError("port must be a number from 1 to 65535")


def _stream_url(value: str, kind: str, schemes: tuple[str, str]) -> str:
    parts = _split_url(value)
    if parts.scheme not in schemes:
        raise ValueError(f"{kind} source URL must start with {schemes[0]}:// or {schemes[1]}://")
    if not parts.hostname:
        raise ValueError(f"{kind} source URL must name a host")
    if any(ch.isspace() or unicodedata.category(ch) == "Cc" for ch in value):
        raise ValueError(f"{kind} source URL must not contain spaces or control characters")
    return value


def _rtsp_url(value: str) -> str:
    return _stream_url(value, "RTSP", ("rtsp", "rtsps"))


def _mjpeg_url(value: str) -> str:
    return _stream_url(value, "MJPEG", ("http", "https"))


def _split_url(value: str) -> SplitResult:
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - parsing the port is the check
    except ValueError:
        raise ValueError("malformed URL (bad port or host)") from None
    return parts


def _path_text(value: object) -> str:
    if isinstance(value, PurePath):
        value = str(value)
    if not isinstance(value, str):
        raise ValueError("must be a path written as a string")
    if not value or len(value) > MAX_PATH_CHARS or "\0" in value:
        raise ValueError(f"path must be 1–{MAX_PATH_CHARS} characters without NUL")
    return value


def resolve_bundled(name: str) -> Path:
    """Where ``bundled:NAME`` points: ``<repo>/datasets/recordings/NAME`` (NAME may have ``/``-separated parts).

    Only plain names are accepted, so a site file cannot reach outside the bundled recordings folder.
    """
    parts = name.split("/")
    if not all(_BUNDLED_PART.fullmatch(part) and part not in (".", "..") for part in parts):
        raise ValueError("bundled name must be plain names joined by '/' (letters, digits, '.', '_', '-')")
    return _RECORDINGS_DIR.joinpath(*parts)


def _input_path(value: object, info: ValidationInfo) -> Path:
    """An input file or folder: ``bundled:NAME``, absolute, or relative to the site file's folder."""
    text = _path_text(value)
    if text.startswith(BUNDLED_PREFIX):
        return resolve_bundled(text[len(BUNDLED_PREFIX):])
    path = Path(text)
    if not path.is_absolute():
        context = info.context if isinstance(info.context, dict) else {}
        path = Path(context.get("site_dir") or Path.cwd()) / path
    return Path(os.path.normpath(path))


def _runtime_path(value: object) -> Path:
    return Path(_path_text(value))


Slug = Annotated[str, AfterValidator(_slug)]
Endpoint = Annotated[str, Field(max_length=256), AfterValidator(_endpoint)]
InputPath = Annotated[Path, BeforeValidator(_input_path)]
RuntimePath = Annotated[Path, BeforeValidator(_runtime_path)]
CountryCode = Annotated[str, AfterValidator(_country)]
View = Literal["front", "rear", "side_left", "side_right", "top"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --- the site model ---------------------------------------------------------------------------------------------


class SiteInfo(_Frozen):
    """Who and where: ``countries`` is (this side, the neighbour), e.g. ``[VN, CN]``."""

    id: Slug
    name: Annotated[str, Field(min_length=1, max_length=200)]
    timezone: Annotated[str, AfterValidator(_timezone)] = "Asia/Ho_Chi_Minh"
    countries: tuple[CountryCode, CountryCode] = ("VN", "CN")

    @model_validator(mode="after")
    def _distinct_countries(self) -> SiteInfo:
        if self.countries[0] == self.countries[1]:
            raise _FieldError(("countries",), "the two countries of a border pair must differ")
        return self


class RecordingSource(_Frozen):
    """A bundled or recorded dataset folder (`datasets/recording.py`); ``camera`` defaults to the camera's view."""

    kind: Literal["recording"]
    path: InputPath
    camera: Annotated[str, Field(min_length=1, max_length=64)] | None = None


class VideoSource(_Frozen):
    kind: Literal["video"]
    path: InputPath
    loop: StrictBool = False


class ImagesSource(_Frozen):
    kind: Literal["images"]
    path: InputPath


class RtspSource(_Frozen):
    kind: Literal["rtsp"]
    url: Annotated[str, Field(max_length=2048), AfterValidator(_rtsp_url)]


class MjpegSource(_Frozen):
    """A camera that serves JPEG pictures over HTTP (multipart MJPEG), as many IP cameras can."""

    kind: Literal["mjpeg"]
    url: Annotated[str, Field(max_length=2048), AfterValidator(_mjpeg_url)]


Source = Annotated[RecordingSource | VideoSource | ImagesSource | RtspSource | MjpegSource,
                   Field(discriminator="kind")]


class Camera(_Frozen):
    """One camera of a lane. ``fps`` caps the rate frames are taken; ``None`` keeps the source's own rate."""

    id: Slug
    view: View
    source: Source
    fps: Annotated[float, Field(gt=0, le=240)] | None = None

    @model_validator(mode="after")
    def _image_folders_need_a_rate(self) -> Camera:
        if self.source.kind == "images" and self.fps is None:
            raise _FieldError(("fps",), "an image-folder source needs fps (a folder has no frame rate)")
        return self

    @property
    def recording_camera(self) -> str:
        """The camera name inside a recording: ``source.camera`` or else the view."""
        return self.source.camera if isinstance(self.source, RecordingSource) and self.source.camera else self.view


class Lane(_Frozen):
    """A lane through one barrier: ``in`` lanes pass barrier 1 (gate-in), ``out`` lanes barrier 2 (gate-out)."""

    id: Slug
    direction: Literal["in", "out"]
    barrier: Slug
    description: Annotated[str, Field(max_length=500)] = ""
    cameras: Annotated[tuple[Camera, ...], Field(min_length=1, max_length=16)]


class Yard(_Frozen):
    """The transfer yard: its layout, and the yard cameras. Until live yard cameras are wired, the cameras are
    played from a yard recording (its frames, the cameras' calibrations; `smartgate generate-yard`)."""

    layout: InputPath | None = None
    recording: InputPath | None = None


class Endpoints(_Frozen):
    """ZeroMQ endpoints. Events and telemetry go through the site broker: services publish to ``publish`` and
    subscribe at ``subscribe``. Clearance and planner reply to requests; each lane's gate controller link is keyed
    by lane id."""

    publish: Endpoint
    subscribe: Endpoint
    clearance: Endpoint
    planner: Endpoint
    gate_links: Annotated[dict[Slug, Endpoint], Field(min_length=1, max_length=64)]

    def all(self) -> Iterator[tuple[tuple[str, ...], str]]:
        """Every endpoint with its field path, in file order."""
        for name in ("publish", "subscribe", "clearance", "planner"):
            yield (name,), getattr(self, name)
        for lane_id, endpoint in self.gate_links.items():
            yield ("gate_links", lane_id), endpoint

    @model_validator(mode="after")
    def _distinct(self) -> Endpoints:
        seen: list[tuple[tuple[str, ...], str]] = []
        for loc, endpoint in self.all():
            for other_loc, other in seen:
                if _endpoints_clash(endpoint, other):
                    raise _FieldError(loc, f"{endpoint} clashes with endpoints.{'.'.join(other_loc)}")
            seen.append((loc, endpoint))
        return self


def _endpoints_clash(a: str, b: str) -> bool:
    """Whether two endpoints cannot both be bound: the same ipc path, or one tcp port on a common host."""
    if a.startswith("ipc://") or b.startswith("ipc://"):
        return a == b
    host_a, _, port_a = a[len("tcp://"):].rpartition(":")
    host_b, _, port_b = b[len("tcp://"):].rpartition(":")
    if int(port_a) != int(port_b):
        return False
    return host_a == host_b or host_a in _WILDCARD_HOSTS or host_b in _WILDCARD_HOSTS


class Bus(_Frozen):
    """Bus endpoints and security. CURVE is the default; ``development`` (no encryption, no authentication) must be
    confirmed with ``allow_insecure_development: true``, so it cannot be switched on by a one-word typo."""

    endpoints: Endpoints
    security: Literal["curve", "development"] = "curve"
    allow_insecure_development: StrictBool = False
    keys_dir: RuntimePath = Path("keys")

    @model_validator(mode="after")
    def _insecure_needs_confirmation(self) -> Bus:
        if self.security == "development" and not self.allow_insecure_development:
            raise _FieldError(("security",), "'development' turns CURVE encryption off; add "
                                               "allow_insecure_development: true to confirm")
        return self


def _journal_url(value: str) -> str:
    if value.startswith("sqlite:///"):
        path = value[len("sqlite:///"):]
        if not path or path.startswith(":memory:") or "?" in path or "\0" in path:
            raise ValueError("sqlite journal must be a file, sqlite:///path/to/journal.sqlite (no :memory:, "
                             "no query)")
        return value
    parts = _split_url(value)
    if parts.scheme not in ("postgresql", "postgresql+psycopg"):
        raise ValueError("journal URL must start with sqlite:/// or postgresql://")
    if not parts.hostname or not parts.path.strip("/"):
        raise ValueError("postgresql journal URL must name a host and a database: postgresql://host/db")
    return value


class Journal(_Frozen):
    """The durable event journal: ``sqlite:///file`` (relative to data_dir) or a ``postgresql://`` URL."""

    url: Annotated[str, Field(min_length=1, max_length=4096), AfterValidator(_journal_url)] = (
        "sqlite:///journal.sqlite")

    @property
    def sqlite_path(self) -> Path | None:
        """The database file of a SQLite journal, else ``None``."""
        return Path(self.url[len("sqlite:///"):]) if self.url.startswith("sqlite:///") else None


class DeclarationFeed(_Frozen):
    kind: Literal["jsonl_file", "directory"]
    path: InputPath


class Declarations(_Frozen):
    """Where pre-arrival declarations come from: a file or folder feed, the bus (API), or both."""

    feed: DeclarationFeed | None = None
    from_bus: StrictBool = True

    @model_validator(mode="after")
    def _some_source(self) -> Declarations:
        if self.feed is None and not self.from_bus:
            raise _FieldError(("from_bus",), "no declaration source: give a feed or set from_bus: true")
        return self


_RULES = ClearanceRules()
_Fraction = Annotated[float, Field(strict=True, ge=0.0, le=1.0)]
_Tolerance = Annotated[float, Field(strict=True, ge=0.0, le=10.0)]
_Direction = Literal["export", "import", "any"]


class Clearance(_Frozen):
    """Thresholds and switches of the clearance engine; each key is optional and defaults to the engine's own
    default (`control.clearance_rules.ClearanceRules` documents what each one does)."""

    min_plate_confidence: _Fraction = _RULES.min_plate_confidence
    min_container_confidence: _Fraction = _RULES.min_container_confidence
    min_seal_confidence: _Fraction = _RULES.min_seal_confidence
    confusable_cost: _Fraction = _RULES.confusable_cost
    plate_tolerance: _Tolerance = _RULES.plate_tolerance
    plate_link_tolerance: _Tolerance = _RULES.plate_link_tolerance
    container_tolerance: _Tolerance = _RULES.container_tolerance
    seal_tolerance: _Tolerance = _RULES.seal_tolerance
    seal_unknown_outcome: Literal["HOLD", "INSPECT"] = _RULES.seal_unknown_outcome
    check_seal_numbers: StrictBool = _RULES.check_seal_numbers
    require_trailer_plate: StrictBool = _RULES.require_trailer_plate
    direction_in: _Direction = _RULES.direction_in
    direction_out: _Direction = _RULES.direction_out
    validity_grace_s: Annotated[float, Field(strict=True, ge=0.0, le=7 * 24 * 3600.0)] = _RULES.validity_grace_s

    @model_validator(mode="after")
    def _link_covers_match(self) -> Clearance:
        if self.plate_link_tolerance < self.plate_tolerance:
            raise _FieldError(("plate_link_tolerance",), "must be at least plate_tolerance")
        return self

    def rules(self) -> ClearanceRules:
        """The engine's rules object for `control.decide`."""
        return ClearanceRules(**self.model_dump())


class Api(_Frozen):
    """The control-room HTTP service's listening address."""

    host: Annotated[str, Field(min_length=1, max_length=253)] = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 8080


class Site(_Frozen):
    """A whole site. After `load_site`, every path is absolute and the journal URL names an absolute file."""

    site: SiteInfo
    lanes: Annotated[tuple[Lane, ...], Field(min_length=1, max_length=64)]
    bus: Bus
    yard: Yard | None = None
    journal: Journal = Journal()
    declarations: Declarations = Declarations()
    clearance: Clearance = Clearance()
    api: Api = Api()
    data_dir: RuntimePath = DEFAULT_DATA_DIR

    @model_validator(mode="wrap")
    @classmethod
    def _check_and_anchor(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Site:
        site: Site = handler(data)
        site._check_ids()
        return site._anchored()

    def _check_ids(self) -> None:
        lane_ids: set[str] = set()
        camera_ids: set[str] = set()
        for i, lane in enumerate(self.lanes):
            if lane.id in lane_ids:
                raise _FieldError(("lanes", i, "id"), f"duplicate lane id {lane.id!r}")
            lane_ids.add(lane.id)
            for j, camera in enumerate(lane.cameras):
                if camera.id in camera_ids:
                    raise _FieldError(("lanes", i, "cameras", j, "id"), f"duplicate camera id {camera.id!r}")
                camera_ids.add(camera.id)
        links = self.bus.endpoints.gate_links
        for lane_id in links:
            if lane_id not in lane_ids:
                raise _FieldError(("bus", "endpoints", "gate_links", lane_id), "no lane has this id")
        for i, lane in enumerate(self.lanes):
            if lane.id not in links:
                raise _FieldError(("bus", "endpoints", "gate_links"), f"no gate link for lane {lane.id!r} "
                                    f"(lanes[{i}])")

    def _anchored(self) -> Site:
        """Runtime paths made absolute: data_dir against the working directory, keys and journal against it."""
        data_dir = Path(os.path.abspath(self.data_dir))
        keys_dir = Path(os.path.normpath(data_dir / self.bus.keys_dir))
        journal = self.journal
        if journal.sqlite_path is not None:
            db = Path(os.path.normpath(data_dir / journal.sqlite_path))
            journal = journal.model_copy(update={"url": f"sqlite:///{db}"})
        return self.model_copy(update={"data_dir": data_dir, "journal": journal,
                                       "bus": self.bus.model_copy(update={"keys_dir": keys_dir})})

    def lane(self, lane_id: str) -> Lane:
        """The lane with this id; `KeyError` if none."""
        for lane in self.lanes:
            if lane.id == lane_id:
                return lane
        raise KeyError(lane_id)

    def cameras(self) -> Iterator[tuple[Lane, Camera]]:
        """Every camera with its lane, in file order."""
        for lane in self.lanes:
            for camera in lane.cameras:
                yield lane, camera

    def component_names(self) -> list[str]:
        """The bus participants that need a CURVE key pair: services, one lane reader and one gate link per lane,
        the yard occupancy service, the field-device simulator, the API and the demo supervisor."""
        lanes = [name for lane in self.lanes for name in (f"lane-{lane.id}", f"gate-{lane.id}")]
        return ["broker", "journal", "clearance", *lanes, "planner", "yard", "field-devices", "api", "demo"]


# --- loading ----------------------------------------------------------------------------------------------------


def bundled_site_path() -> Path:
    """The bundled default site: the Hữu Nghị freight road at border markers 1119–1120."""
    return _PACKAGE_DIR / "sites" / BUNDLED_SITE


def load_site(path: str | os.PathLike[str], *, data_dir: str | os.PathLike[str] | None = None) -> Site:
    """Read and validate a site file; ``data_dir`` overrides the file's. Raises `SiteConfigError` (one line)."""
    file = str(path)
    raw = _read_yaml(Path(path), file)
    if raw is None:
        raise SiteConfigError(file, "empty file, expected a mapping of sections (site, lanes, bus, ...)")
    if not isinstance(raw, dict):
        raise SiteConfigError(file, f"expected a mapping of sections (site, lanes, bus, ...), got "
                                    f"{_yaml_kind(raw)}")
    if data_dir is not None:
        raw = {**raw, "data_dir": os.fspath(data_dir)}
    site_dir = Path(os.path.abspath(path)).parent
    try:
        return Site.model_validate(raw, context={"site_dir": site_dir})
    except ValidationError as exc:
        raise _config_error(file, exc) from None


def check_site_files(site: Site) -> list[str]:
    """Warnings for input files and folders that do not exist (yet); the site itself is valid regardless."""
    wanted: list[tuple[str, Path, bool]] = []  # (field, path, is_dir)
    for i, lane in enumerate(site.lanes):
        for j, camera in enumerate(lane.cameras):
            source = camera.source
            if not isinstance(source, RtspSource | MjpegSource):
                wanted.append((f"lanes[{i}].cameras[{j}].source.path", source.path, source.kind != "video"))
    if site.yard is not None and site.yard.layout is not None:
        wanted.append(("yard.layout", site.yard.layout, False))
    if site.yard is not None and site.yard.recording is not None:
        wanted.append(("yard.recording", site.yard.recording, True))
    feed = site.declarations.feed
    if feed is not None:
        wanted.append(("declarations.feed.path", feed.path, feed.kind == "directory"))
    warnings: list[str] = []
    reported: set[Path] = set()
    for field, path, is_dir in wanted:
        found = path.is_dir() if is_dir else path.is_file()
        if not found and path not in reported:
            reported.add(path)
            warnings.append(f"{field}: {'folder' if is_dir else 'file'} {path} not found")
    if site.bus.security == "curve" and not site.bus.keys_dir.is_dir():
        warnings.append(f"bus.keys_dir: folder {site.bus.keys_dir} not found (create keys with `smartgate keys`)")
    return warnings


def _read_yaml(path: Path, file: str) -> object:
    try:
        return read_yaml_file(path, max_bytes=MAX_SITE_FILE_BYTES, max_nesting=MAX_NESTING, kind="site files")
    except YamlFileError as exc:
        raise SiteConfigError(file, exc.problem, exc.where) from None


def _yaml_kind(value: object) -> str:
    return {list: "a list", str: "a string", int: "a number", float: "a number", bool: "a boolean"}.get(
        type(value), type(value).__name__)


def _config_error(file: str, exc: ValidationError) -> SiteConfigError:
    errors = _without_echoes(exc.errors())
    first = errors[0]
    loc: tuple[Any, ...] = tuple(first["loc"])
    problem = _problem_text(first)
    cause = first.get("ctx", {}).get("error")
    if isinstance(cause, _FieldError):
        loc, problem = loc + cause.loc, cause.problem
    if len(errors) > 1:
        problem += f" (+{len(errors) - 1} more)"
    return SiteConfigError(file, problem, _field_path(loc) or "top level")


def _without_echoes(errors: list[Any]) -> list[Any]:
    """Drop a tuple's "too short" error caused only by its failing items (pydantic reports both)."""
    def echoes(error: Any) -> bool:
        loc = tuple(error["loc"])
        return error["type"] == "too_short" and any(
            len(other["loc"]) > len(loc) and tuple(other["loc"][: len(loc)]) == loc for other in errors)

    return [error for error in errors if not echoes(error)] or errors


def _problem_text(error: Any) -> str:
    kind, msg = error["type"], str(error["msg"])
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "missing":
        return "required field missing"
    if kind == "value_error":
        return msg.removeprefix("Value error, ")
    if kind in ("literal_error", "bool_type", "bool_parsing"):
        return f"{msg}, got {_short_repr(error.get('input'))}"
    if kind in ("too_short", "too_long"):
        ctx = error.get("ctx", {})
        bound = ctx.get("min_length") if kind == "too_short" else ctx.get("max_length")
        limit = "at least" if kind == "too_short" else "at most"
        return f"needs {limit} {bound} item{'' if bound == 1 else 's'}, got {ctx.get('actual_length')}"
    return msg


def _short_repr(value: object, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _field_path(loc: tuple[Any, ...]) -> str:
    """``('lanes', 0, 'cameras', 1, 'source', 'rtsp', 'url')`` → ``lanes[0].cameras[1].source.url``."""
    out = ""
    previous: Any = None
    for part in loc:
        if previous in _TAGGED_UNIONS and isinstance(part, str):
            previous = None
            continue
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
        previous = part
    return out


def _one_line(text: str) -> str:
    """Control characters (a newline in a file name or a YAML value) escaped, so the message stays one line."""
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)
