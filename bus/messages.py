"""Typed, frozen, versioned messages: everything that crosses a process boundary.

Each message type carries its schema version in its wire tag (``"GateCommand.v1"``), so a receiver that meets
a type or version it does not know refuses it by name instead of guessing. Field constraints (lengths, ranges)
are part of the schema: a hostile sender cannot make a receiver allocate without bound or accept a confidence of
7. Times on messages are UTC seconds since the epoch; durations inside a process use the monotonic clock.
"""

from __future__ import annotations

import time
import uuid
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

# Bounded scalar and collection types shared by the schemas.
Id = Annotated[str, Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:\-]+$")]
Name = Annotated[str, Meta(min_length=1, max_length=64)]
Text = Annotated[str, Meta(max_length=256)]
LongText = Annotated[str, Meta(max_length=2000)]
Confidence = Annotated[float, Meta(ge=0.0, le=1.0)]
Timestamp = Annotated[float, Meta(ge=0.0, le=4.0e9)]
Seq = Annotated[int, Meta(ge=0, le=2**63 - 1)]
Cell = tuple[Annotated[int, Meta(ge=0, le=1_000_000)], Annotated[int, Meta(ge=0, le=1_000_000)]]
MAX_ITEMS = 64
MAX_AGENTS = 10_000
MAX_PATH = 100_000


def now_utc() -> float:
    """Wall-clock UTC seconds, for stamping messages (never for measuring durations)."""
    return time.time()


def new_id() -> str:
    """A random id, unique enough to serve as an idempotency key."""
    return uuid.uuid4().hex


def _first_version(class_name: str) -> str:
    return f"{class_name}.v1"


class Message(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", tag=_first_version):
    """Base of every bus message, tagged ``Name.v1`` on the wire.

    A type whose schema changes incompatibly declares ``tag="Name.v2"``; old receivers then refuse it by name.
    """

    id: Id = msgspec.field(default_factory=new_id)
    ts_utc: Timestamp = msgspec.field(default_factory=now_utc)

    @classmethod
    def wire_tag(cls) -> str:
        return str(cls.__struct_config__.tag)

    @property
    def lane(self) -> str | None:
        """The lane a message concerns, used in pub/sub topics; ``None`` for site-wide messages."""
        return getattr(self, "lane_id", None)


class _Part(msgspec.Struct, frozen=True, kw_only=True):
    """A value nested inside a message (not sent on its own)."""


class EvidenceRef(_Part, frozen=True, kw_only=True):
    """Where the operator can see why a read was made: a saved crop of one camera's frame."""

    camera: Name
    frame: Seq
    ts_utc: Timestamp
    path: Text = ""
    box: tuple[float, float, float, float] | None = None


class PlateRead(_Part, frozen=True, kw_only=True):
    text: Annotated[str, Meta(max_length=16)]
    format: Literal["vn", "cn", "unknown"] = "unknown"
    role: Literal["tractor", "trailer", "unknown"] = "unknown"
    confidence: Confidence
    evidence: Annotated[tuple[EvidenceRef, ...], Meta(max_length=MAX_ITEMS)] = ()


class ContainerRead(_Part, frozen=True, kw_only=True):
    number: Annotated[str, Meta(max_length=16)]
    check_digit_ok: bool
    size_type: Annotated[str, Meta(max_length=4)] | None = None
    position: Literal["single", "front", "rear", "unknown"] = "unknown"
    confidence: Confidence
    evidence: Annotated[tuple[EvidenceRef, ...], Meta(max_length=MAX_ITEMS)] = ()


class SealRead(_Part, frozen=True, kw_only=True):
    container_number: Annotated[str, Meta(max_length=16)] | None = None
    state: Literal["present", "absent", "unknown"]
    number: Annotated[str, Meta(max_length=32)] | None = None
    confidence: Confidence
    evidence: Annotated[tuple[EvidenceRef, ...], Meta(max_length=MAX_ITEMS)] = ()


class VehiclePassage(Message, frozen=True, kw_only=True):
    """One truck's passage through a lane: every field fused over its frames and cameras."""

    passage_id: Id
    lane_id: Id
    direction: Literal["in", "out"]
    first_seen_utc: Timestamp
    last_seen_utc: Timestamp
    plates: Annotated[tuple[PlateRead, ...], Meta(max_length=MAX_ITEMS)] = ()
    containers: Annotated[tuple[ContainerRead, ...], Meta(max_length=MAX_ITEMS)] = ()
    seals: Annotated[tuple[SealRead, ...], Meta(max_length=MAX_ITEMS)] = ()
    frames_seen: Seq = 0


class Reason(_Part, frozen=True, kw_only=True):
    """One reason behind a decision, in both languages the gate's officers work in."""

    code: Id
    en: LongText
    vi: LongText


Outcome = Literal["OPEN", "HOLD", "INSPECT", "REJECT"]


class ClearanceDecision(Message, frozen=True, kw_only=True):
    decision_id: Id
    passage_id: Id
    lane_id: Id
    outcome: Outcome
    reasons: Annotated[tuple[Reason, ...], Meta(max_length=MAX_ITEMS)] = ()
    declaration_id: Id | None = None
    confidence: Confidence = 0.0


class GateCommand(Message, frozen=True, kw_only=True):
    """An order to one lane's barrier. ``command_id`` is the idempotency key: a retry reuses it."""

    command_id: Id
    lane_id: Id
    passage_id: Id
    action: Literal["OPEN", "CLOSE", "HOLD"]
    seq: Seq
    expires_utc: Timestamp


class GateAck(Message, frozen=True, kw_only=True):
    command_id: Id
    lane_id: Id
    seq: Seq
    accepted: bool
    state: Literal["closed", "opening", "open", "closing", "fault"]
    error: Text | None = None


class Heartbeat(Message, frozen=True, kw_only=True):
    sender: Name
    role: Name
    seq: Seq
    status: Literal["ok", "degraded", "fault"] = "ok"
    detail: Text = ""


class SlotState(_Part, frozen=True, kw_only=True):
    slot_id: Id
    occupied: bool
    kind: Literal["truck", "container", "igv", "empty", "unknown"] = "unknown"
    container_number: Annotated[str, Meta(max_length=16)] | None = None
    since_utc: Timestamp


class OccupancyUpdate(Message, frozen=True, kw_only=True):
    """Changed slots of one zone (only the changes: a full state is rebuilt from the journal)."""

    zone_id: Id
    seq: Seq
    slots: Annotated[tuple[SlotState, ...], Meta(max_length=MAX_AGENTS)] = ()
    queue_lengths: Annotated[dict[Id, Annotated[int, Meta(ge=0, le=100_000)]], Meta(max_length=MAX_ITEMS)] = {}


class CraneCommand(Message, frozen=True, kw_only=True):
    command_id: Id
    crane_id: Id
    job_id: Id
    action: Literal["MOVE", "PICK", "PLACE", "STOP", "RESUME"]
    position_m: Annotated[float, Meta(ge=-10_000.0, le=10_000.0)] | None = None
    slot_id: Id | None = None
    container_number: Annotated[str, Meta(max_length=16)] | None = None
    seq: Seq
    expires_utc: Timestamp


class OrderNode(_Part, frozen=True, kw_only=True):
    """A VDA 5050 style node: a point the IGV must pass, released or only planned."""

    node_id: Id
    sequence_id: Seq
    x: float
    y: float
    released: bool = True


class OrderEdge(_Part, frozen=True, kw_only=True):
    edge_id: Id
    sequence_id: Seq
    start_node_id: Id
    end_node_id: Id
    max_speed: Annotated[float, Meta(ge=0.0, le=50.0)] | None = None
    released: bool = True


class IGVCommand(Message, frozen=True, kw_only=True):
    """An order to one IGV, modelled on VDA 5050: a node/edge sequence, updated with increasing update ids."""

    command_id: Id
    igv_id: Id
    order_id: Id
    order_update_id: Seq
    action: Literal["ORDER", "CANCEL", "PAUSE", "RESUME"] = "ORDER"
    nodes: Annotated[tuple[OrderNode, ...], Meta(max_length=MAX_PATH)] = ()
    edges: Annotated[tuple[OrderEdge, ...], Meta(max_length=MAX_PATH)] = ()
    job_id: Id | None = None


class IGVState(Message, frozen=True, kw_only=True):
    """An IGV's state report, modelled on the VDA 5050 ``state`` topic: which order and update it is executing, the
    last node it passed, where it is, whether it drives, its battery, load and errors. Sent on every node reached,
    order accepted or finished, and error raised or cleared (and periodically)."""

    igv_id: Id
    order_id: Id | None = None
    order_update_id: Seq = 0
    last_node_id: Id | None = None
    last_node_sequence_id: Seq = 0
    remaining_nodes: Annotated[int, Meta(ge=0, le=MAX_PATH)] = 0
    x: float
    y: float
    driving: bool = False
    battery: Confidence = 1.0
    load: Annotated[str, Meta(max_length=16)] | None = None
    operating_mode: Literal["AUTOMATIC", "MANUAL", "SERVICE"] = "AUTOMATIC"
    errors: Annotated[tuple[Text, ...], Meta(max_length=MAX_ITEMS)] = ()
    sim_time_s: Annotated[float, Meta(ge=0.0)] | None = None


JobKind = Literal["export", "import"]
JobState = Literal["created", "at_bay", "on_stand", "on_igv", "in_corridor", "delivered", "on_truck", "done",
                   "cancelled", "failed"]


class JobUpdate(Message, frozen=True, kw_only=True):
    """One step of a container move (a job): journalled on every state change, so a restart rebuilds the job book
    and the control room can show where each container is. ``sim_time_s`` is set by the simulator only."""

    job_id: Id
    kind: JobKind
    state: JobState
    container_number: Annotated[str, Meta(max_length=16)]
    passage_id: Id | None = None
    truck_id: Id | None = None
    bay_id: Id | None = None
    crane_id: Id | None = None
    igv_id: Id | None = None
    detail: Text = ""
    sim_time_s: Annotated[float, Meta(ge=0.0)] | None = None


class Telemetry(Message, frozen=True, kw_only=True):
    device_id: Id
    kind: Literal["igv", "crane", "barrier", "truck", "camera", "service"]
    state: Name
    x: float | None = None
    y: float | None = None
    heading: float | None = None
    speed: float | None = None
    battery: Confidence | None = None
    load: Annotated[str, Meta(max_length=16)] | None = None
    errors: Annotated[tuple[Text, ...], Meta(max_length=MAX_ITEMS)] = ()
    lane_id: Id | None = None
    metrics: Annotated[dict[Name, float], Meta(max_length=MAX_ITEMS)] = {}


class PlanRequest(Message, frozen=True, kw_only=True):
    """Cells are (x, y): x the column, y the row of the map."""

    request_id: Id
    map_id: Id
    starts: Annotated[tuple[Cell, ...], Meta(max_length=MAX_AGENTS)]
    goals: Annotated[tuple[Cell, ...], Meta(max_length=MAX_AGENTS)]
    algo: Literal["pibt", "lacam"] = "lacam"
    deadline_ms: Annotated[float, Meta(gt=0.0, le=600_000.0)] = 1000.0
    seed: Seq = 0


class PlanReply(Message, frozen=True, kw_only=True):
    request_id: Id
    status: Literal["solved", "partial", "hold", "error"]
    paths: Annotated[tuple[tuple[Cell, ...], ...], Meta(max_length=MAX_AGENTS)] = ()
    makespan: Seq = 0
    sum_of_costs: Seq = 0
    runtime_ms: Annotated[float, Meta(ge=0.0)] = 0.0
    error: LongText | None = None


class OperatorAction(Message, frozen=True, kw_only=True):
    """Something an authenticated operator did; the reason is mandatory and journalled with who and when."""

    action_id: Id
    operator: Name
    action: Literal["OVERRIDE_OPEN", "OVERRIDE_HOLD", "OVERRIDE_INSPECT", "ACK_ALARM"]
    reason: Annotated[str, Meta(min_length=3, max_length=2000)]
    passage_id: Id | None = None
    decision_id: Id | None = None
    lane_id: Id | None = None


class DeclaredContainer(_Part, frozen=True, kw_only=True):
    """A container on a declaration; ``seal_number`` is None for an empty (unsealed) container."""

    number: Annotated[str, Meta(max_length=32)]
    seal_number: Annotated[str, Meta(max_length=64)] | None = None


class Declaration(_Part, frozen=True, kw_only=True):
    """A pre-arrival declaration, in the JSON shape of the single-window feed (``declarations.jsonl``).

    The bounds here only cap what a receiver allocates; the clearance engine checks the meaning (plate grammar,
    ISO 6346 check digits, a sane validity window) and says which field is wrong.
    """

    declaration_id: Id
    customs_declaration_no: Annotated[str, Meta(max_length=64)]
    tractor_plate: Annotated[str, Meta(max_length=32)]
    trailer_plate: Annotated[str, Meta(max_length=32)] | None = None
    driver: Annotated[str, Meta(max_length=256)] = ""
    containers: Annotated[tuple[DeclaredContainer, ...], Meta(max_length=MAX_ITEMS)] = ()
    channel: Literal["green", "yellow", "red"] = "green"
    valid_from_utc: Timestamp
    valid_until_utc: Timestamp
    direction: Literal["export", "import"] = "export"


class DeclarationSubmitted(Message, frozen=True, kw_only=True):
    """One declaration handed to the clearance service over the bus (by the API or a feed bridge)."""

    declaration: Declaration
    source: Name = "api"


class DeclarationProblem(_Part, frozen=True, kw_only=True):
    """One thing wrong with a declaration: the field (``containers[1].number``), a stable code, plain words."""

    field: Text
    code: Name
    message: LongText


class DeclarationRejected(Message, frozen=True, kw_only=True):
    """A declaration the clearance service refused, and why: journalled, so that the refusal is on record for the
    officer and the submitter (the API answers with the same problems)."""

    declaration_id: Text
    source: Name
    problems: Annotated[tuple[DeclarationProblem, ...], Meta(min_length=1, max_length=MAX_ITEMS)]


class DeclarationCancelled(Message, frozen=True, kw_only=True):
    """An operator withdrew a declaration (through the API): the clearance service drops it from its book and
    journals this, so a truck on it is then decided as one with no declaration."""

    declaration_id: Id
    operator: Name
    reason: Annotated[str, Meta(min_length=3, max_length=2000)]


class AuditEntry(Message, frozen=True, kw_only=True):
    """One write through the API (a declaration, an override, a user or key change, a refused login): who did what
    to which object and how it ended. Journalled before the answer goes out, so every write is on record."""

    actor: Name
    role: Literal["viewer", "operator", "admin", "api-key", "anonymous"]
    action: Name                      # "declaration.create", "override", "user.create", "login" ...
    outcome: Literal["ok", "refused", "error"]
    target: Text = ""
    detail: LongText = ""
    lane_id: Id | None = None
    remote: Text = ""

MESSAGE_TYPES: tuple[type[Message], ...] = (
    VehiclePassage,
    ClearanceDecision,
    GateCommand,
    GateAck,
    Heartbeat,
    OccupancyUpdate,
    CraneCommand,
    IGVCommand,
    Telemetry,
    PlanRequest,
    PlanReply,
    OperatorAction,
    DeclarationSubmitted,
    DeclarationRejected,
    DeclarationCancelled,
    IGVState,
    JobUpdate,
    AuditEntry,
)

AnyMessage = (
    VehiclePassage
    | ClearanceDecision
    | GateCommand
    | GateAck
    | Heartbeat
    | OccupancyUpdate
    | CraneCommand
    | IGVCommand
    | Telemetry
    | PlanRequest
    | PlanReply
    | OperatorAction
    | DeclarationSubmitted
    | DeclarationRejected
    | DeclarationCancelled
    | IGVState
    | JobUpdate
    | AuditEntry
)
