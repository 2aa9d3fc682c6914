"""Prometheus metrics of one API instance: HTTP traffic, the bus as the API sees it, and the figures the site's
services report on the bus (pipeline frames per second, decision latency, planner step time).

Each `ApiMetrics` has its own registry, so two apps in one process (tests) never share or clash on a counter.
``observe_message`` is called from the bus thread, the HTTP counters from the event loop: prometheus_client's
metrics are thread-safe, and the little state kept here sits behind a lock.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.types import Message as ASGIMessage

from bus.messages import ClearanceDecision, Heartbeat, Message, PlanReply, Telemetry, VehiclePassage

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_DECISION_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_PLAN_BUCKETS = (1.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0)
_PASSAGES_REMEMBERED = 4096
_MAX_LABEL_CHARS = 64
_MAX_HTTP_SERIES = 4096


class ApiMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.http_requests = Counter("smartgate_http_requests", "HTTP requests answered",
                                     ["method", "route", "status"], registry=r)
        self.http_seconds = Histogram("smartgate_http_request_seconds", "HTTP request handling time",
                                      ["method", "route"], buckets=_LATENCY_BUCKETS, registry=r)
        self.http_refused = Counter("smartgate_http_refused", "Requests refused before routing (size, rate)",
                                    ["reason"], registry=r)
        self.audit_entries = Counter("smartgate_audit_entries", "Audit entries journalled", ["action", "outcome"],
                                     registry=r)
        self.bus_messages = Counter("smartgate_bus_messages", "Bus messages received by the API", ["type"],
                                    registry=r)
        self.bus_rejected = Counter("smartgate_bus_rejected", "Bus messages the API refused", ["reason"],
                                    registry=r)
        self.pipeline_fps = Gauge("smartgate_pipeline_fps", "Frames per second a lane reader's pipeline reads",
                                  ["lane"], registry=r)
        self.camera_fps = Gauge("smartgate_camera_fps", "Frames per second a lane camera delivers",
                                ["lane", "camera"], registry=r)
        self.decision_latency = Histogram("smartgate_decision_latency_seconds",
                                          "Clearance decision time less the passage's last sighting",
                                          buckets=_DECISION_BUCKETS, registry=r)
        self.planner_step_ms = Gauge("smartgate_planner_step_ms", "Planner step time reported by a service",
                                     ["device", "metric"], registry=r)
        self.plan_runtime_ms = Histogram("smartgate_plan_runtime_ms", "Planner replies' runtime",
                                         buckets=_PLAN_BUCKETS, registry=r)
        self._lock = threading.Lock()
        self._passages: OrderedDict[str, float] = OrderedDict()   # passage_id -> last_seen_utc
        self._frames: dict[str, tuple[float, float]] = {}          # lane reader -> (frames, ts_utc)
        self._http_series: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def observe_http(self, method: str, route_template: str, status: int, seconds: float) -> None:
        """Called for every request: the labelled series are looked up once per (method, route, status)."""
        key = (method, route_template, status)
        series = self._http_series.get(key)
        if series is None:
            series = (self.http_requests.labels(method, route_template, str(status)),
                      self.http_seconds.labels(method, route_template))
            if len(self._http_series) < _MAX_HTTP_SERIES:
                self._http_series[key] = series
        series[0].inc()
        series[1].observe(seconds)

    def observe_refused(self, reason: str) -> None:
        self.http_refused.labels(reason).inc()

    def observe_audit(self, action: str, outcome: str) -> None:
        self.audit_entries.labels(action, outcome).inc()

    def observe_rejected(self, reason: str) -> None:
        self.bus_rejected.labels(_label(reason)).inc()

    def observe_message(self, msg: Message) -> None:
        self.bus_messages.labels(type(msg).__name__).inc()
        if isinstance(msg, VehiclePassage):
            self._remember_passage(msg)
        elif isinstance(msg, ClearanceDecision):
            self._decision(msg)
        elif isinstance(msg, Telemetry):
            self._telemetry(msg)
        elif isinstance(msg, PlanReply):
            self.plan_runtime_ms.observe(msg.runtime_ms)
        elif isinstance(msg, Heartbeat) and msg.role == "lane-reader":
            self._lane_heartbeat(msg)

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    def _remember_passage(self, passage: VehiclePassage) -> None:
        with self._lock:
            self._passages[passage.passage_id] = passage.last_seen_utc
            self._passages.move_to_end(passage.passage_id)
            while len(self._passages) > _PASSAGES_REMEMBERED:
                self._passages.popitem(last=False)

    def _decision(self, decision: ClearanceDecision) -> None:
        with self._lock:
            last_seen = self._passages.get(decision.passage_id)
        if last_seen is not None:
            self.decision_latency.observe(max(0.0, decision.ts_utc - last_seen))

    def _telemetry(self, t: Telemetry) -> None:
        if t.kind == "camera" and t.lane_id and "fps" in t.metrics:
            self.camera_fps.labels(_label(t.lane_id), _label(t.device_id)).set(t.metrics["fps"])
        elif t.kind == "service" and t.device_id.startswith("lane-") and "vision.frames" in t.metrics:
            self._pipeline_rate(t.device_id.removeprefix("lane-"), t.metrics["vision.frames"], t.ts_utc)
        for key, value in t.metrics.items():
            if "step" in key and ("ms" in key or "time" in key):
                self.planner_step_ms.labels(_label(t.device_id), _label(key)).set(value)

    def _lane_heartbeat(self, beat: Heartbeat) -> None:
        if beat.status == "fault":
            self.pipeline_fps.labels(_label(beat.sender.removeprefix("lane-"))).set(0.0)

    def _pipeline_rate(self, lane: str, frames: float, ts_utc: float) -> None:
        """Frames per second between two reports of the lane reader's frame counter."""
        with self._lock:
            previous = self._frames.get(lane)
            self._frames[lane] = (frames, ts_utc)
        if previous is not None and ts_utc > previous[1] and frames >= previous[0]:
            self.pipeline_fps.labels(_label(lane)).set((frames - previous[0]) / (ts_utc - previous[1]))


def _label(value: str) -> str:
    return value[:_MAX_LABEL_CHARS]


class TimingMiddleware:
    """Counts and times every HTTP answer by method, route template (never the raw path) and status."""

    def __init__(self, app: ASGIApp, *, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_noting_status(message: ASGIMessage) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            self.metrics.observe_http(scope["method"], _route_template(scope, status), status,
                                      time.perf_counter() - started)


def _route_template(scope: Scope, status: int) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path or "static"
    return "refused" if status in (400, 413, 429) else "unmatched"
