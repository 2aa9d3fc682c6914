"""One realistic instance of every bus message type, for tests and benchmarks."""

from __future__ import annotations

from bus.messages import (
    AuditEntry,
    ClearanceDecision,
    ContainerRead,
    CraneCommand,
    Declaration,
    DeclarationCancelled,
    DeclarationProblem,
    DeclarationRejected,
    DeclarationSubmitted,
    DeclaredContainer,
    EvidenceRef,
    GateAck,
    GateCommand,
    Heartbeat,
    IGVCommand,
    IGVState,
    JobUpdate,
    Message,
    OccupancyUpdate,
    OperatorAction,
    OrderEdge,
    OrderNode,
    PlanReply,
    PlanRequest,
    PlateRead,
    Reason,
    SealRead,
    SlotState,
    Telemetry,
    VehiclePassage,
)

T0 = 1_795_000_000.0


def evidence(camera: str, frame: int) -> EvidenceRef:
    return EvidenceRef(camera=camera, frame=frame, ts_utc=T0 + frame / 4, path=f"evidence/p1/{camera}-{frame}.jpg",
                       box=(100.0, 200.0, 300.0, 260.0))


def vehicle_passage() -> VehiclePassage:
    return VehiclePassage(
        passage_id="in-1-000042", lane_id="in-1", direction="in", first_seen_utc=T0, last_seen_utc=T0 + 6.5,
        plates=(PlateRead(text="12C-123.45", format="vn", role="tractor", confidence=0.97,
                          evidence=(evidence("front", 10), evidence("front", 11))),
                PlateRead(text="12R-041.39", format="vn", role="trailer", confidence=0.91,
                          evidence=(evidence("rear", 20),))),
        containers=(ContainerRead(number="MSKU3605161", check_digit_ok=True, size_type="22G1", position="front",
                                  confidence=0.95, evidence=(evidence("side_left", 14),)),
                    ContainerRead(number="CSQU3054383", check_digit_ok=True, size_type="22G1", position="rear",
                                  confidence=0.88, evidence=(evidence("rear", 21),))),
        seals=(SealRead(container_number="CSQU3054383", state="present", number="VN1234567", confidence=0.9,
                        evidence=(evidence("rear", 21),)),),
        frames_seen=48,
    )


def all_messages() -> list[Message]:
    """Every message type once, with nested parts filled in."""
    return [
        vehicle_passage(),
        ClearanceDecision(decision_id="d-42", passage_id="in-1-000042", lane_id="in-1", outcome="HOLD",
                          reasons=(Reason(code="low_confidence", en="Trailer plate read with low confidence",
                                          vi="Biển số rơ-moóc đọc với độ tin cậy thấp"),),
                          declaration_id="decl-7", confidence=0.62),
        GateCommand(command_id="c-1", lane_id="in-1", passage_id="in-1-000042", action="OPEN", seq=7,
                    expires_utc=T0 + 5),
        GateAck(command_id="c-1", lane_id="in-1", seq=7, accepted=True, state="opening"),
        Heartbeat(sender="gate-in-1", role="gate-controller", seq=99),
        OccupancyUpdate(zone_id="buffer-A", seq=3,
                        slots=(SlotState(slot_id="A-01-02-1", occupied=True, kind="container",
                                         container_number="MSKU3605161", since_utc=T0),),
                        queue_lengths={"queue-in-1": 4}),
        CraneCommand(command_id="k-1", crane_id="crane-1", job_id="job-9", action="PICK", slot_id="bay-2",
                     container_number="MSKU3605161", seq=1, expires_utc=T0 + 30),
        IGVCommand(command_id="i-1", igv_id="igv-3", order_id="order-17", order_update_id=0,
                   nodes=(OrderNode(node_id="n1", sequence_id=0, x=1.0, y=2.0),
                          OrderNode(node_id="n2", sequence_id=2, x=1.0, y=3.0)),
                   edges=(OrderEdge(edge_id="e1", sequence_id=1, start_node_id="n1", end_node_id="n2",
                                    max_speed=3.0),),
                   job_id="job-9"),
        IGVState(igv_id="igv-3", order_id="o-17", order_update_id=4, last_node_id="n-12", last_node_sequence_id=6,
                 remaining_nodes=3, x=214.0, y=25.0, driving=True, battery=0.8, load="MSKU3605161",
                 errors=("blocked: cell ahead occupied",), sim_time_s=1234.5),
        JobUpdate(job_id="job-9", kind="export", state="on_igv", container_number="MSKU3605161",
                  passage_id="in-1-000042", truck_id="truck-42", bay_id="bay-2", crane_id="crane-2", igv_id="igv-3",
                  detail="crane handed over", sim_time_s=1234.5),
        Telemetry(device_id="igv-3", kind="igv", state="driving", x=10.0, y=4.5, heading=1.57, speed=2.5,
                  battery=0.8, load="MSKU3605161"),
        PlanRequest(request_id="r-1", map_id="yard", starts=((0, 0), (1, 0)), goals=((5, 5), (6, 5)),
                    deadline_ms=50.0, seed=1),
        PlanReply(request_id="r-1", status="solved", paths=(((0, 0), (0, 1)), ((1, 0), (1, 1))), makespan=1,
                  sum_of_costs=2, runtime_ms=0.4),
        AuditEntry(actor="officer.nguyen", role="operator", action="override", outcome="ok", target="in-1-000042",
                   detail="OVERRIDE_OPEN: seal number verified by hand", lane_id="in-1", remote="127.0.0.1"),
        OperatorAction(action_id="a-1", operator="officer.nguyen", action="OVERRIDE_OPEN",
                       reason="Seal number verified by hand", passage_id="in-1-000042", decision_id="d-42"),
        DeclarationSubmitted(declaration=Declaration(
            declaration_id="DEC-in-1-000042", customs_declaration_no="305512345678", tractor_plate="12C-123.45",
            trailer_plate="12R-041.39", driver="Nguyễn Văn An",
            containers=(DeclaredContainer(number="MSKU3605161", seal_number="VN1234567"),
                        DeclaredContainer(number="CSQU3054383", seal_number="VN1234568")),
            channel="green", valid_from_utc=T0 - 3600, valid_until_utc=T0 + 8 * 3600, direction="export")),
        DeclarationRejected(declaration_id="DEC-in-1-000043", source="feed", problems=(DeclarationProblem(
            field="containers[0].number", code="bad_check_digit",
            message="'MSKU3605162' has check digit 2, ISO 6346 gives 1"),)),
        DeclarationCancelled(declaration_id="DEC-in-1-000042", operator="officer.nguyen",
                             reason="Truck turned back at the border; declaration withdrawn"),
    ]
