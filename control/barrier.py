"""One lane's barrier as a state machine: closed, opening, open, closing, fault.

Why a class with an injected clock and driver: the safety rules must hold tick by tick and be checkable in tests
without sleeping, and the same class must drive the simulated boom of the demo and a real PLC on site. The rules:

- the boom never starts closing while the presence loop sees a vehicle; a closing boom that sees one reverses;
- an open barrier closes by itself once a vehicle has passed (the loop clear for ``clear_delay_s``, so the gap
  between a tractor and its trailer does not count) or after ``max_open_s`` with nobody passing;
- any internal error (a sensor or motor call that fails, both limit switches on, a travel that overruns its time)
  is a latched ``fault``: the boom returns closed where it physically can (loop clear, sensors readable, not
  jammed) and stands still otherwise. Only a CLOSE, once the boom reads closed and healthy, clears the fault.

``HOLD`` keeps the barrier closed like ``CLOSE`` (an operator decides about the truck) and sets ``held``.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal, Protocol

log = logging.getLogger(__name__)

Clock = Callable[[], float]
_END_TOLERANCE = 1e-9
Action = Literal["OPEN", "CLOSE", "HOLD"]


class BarrierState(StrEnum):
    """The states a barrier reports; the values are those of ``GateAck.state``."""

    CLOSED = "closed"
    OPENING = "opening"
    OPEN = "open"
    CLOSING = "closing"
    FAULT = "fault"


class Motion(StrEnum):
    """What the motor is told to do."""

    UP = "up"
    DOWN = "down"
    STOP = "stop"


@dataclass(frozen=True)
class Sensors:
    """One reading of the field: the two limit switches and the vehicle-presence loop under the boom."""

    up_limit: bool
    down_limit: bool
    vehicle_present: bool


class BarrierDriver(Protocol):
    """The field side of a barrier: a motor and its sensors. A PLC driver implements these two calls; either may
    raise on a hardware or link failure, which the barrier turns into a fault."""

    def drive(self, motion: Motion) -> None:
        """Start moving the boom up or down, or stop it."""

    def read(self) -> Sensors:
        """The limit switches and the presence loop, now."""


class BarrierHardwareError(RuntimeError):
    """A driver call that failed (used by the simulated barrier to inject faults)."""


@dataclass(frozen=True)
class BarrierConfig:
    """Travel times of the boom and the auto-close timers, in seconds."""

    opening_s: float = 2.0
    closing_s: float = 2.0
    travel_margin: float = 1.5
    """A travel that takes longer than its time × this factor is a fault (a jam, a broken switch)."""
    clear_delay_s: float = 1.0
    """How long the loop must stay clear before the boom may close."""
    max_open_s: float = 60.0
    """An open barrier that nobody passes closes after this long."""

    def __post_init__(self) -> None:
        for name in ("opening_s", "closing_s", "max_open_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if not self.clear_delay_s >= 0:
            raise ValueError(f"clear_delay_s must be >= 0, got {self.clear_delay_s}")
        if not self.travel_margin >= 1:
            raise ValueError(f"travel_margin must be >= 1, got {self.travel_margin}")


@dataclass(frozen=True)
class CommandResult:
    """What a command did: accepted or not (``error`` says why not), and the state it left the barrier in."""

    accepted: bool
    state: BarrierState
    error: str | None = None


StateCallback = Callable[[BarrierState, BarrierState, str], None]
"""Called as ``callback(old, new, why)`` on every state change."""


class Barrier:
    """The barrier of one lane. Call ``tick()`` often (every 10-50 ms) and ``command()`` for each order.

    Not thread-safe: one thread owns it. Every driver call goes through ``_drive``/``_sense``, so a failing
    driver becomes a fault and never an exception to the caller.
    """

    def __init__(self, driver: BarrierDriver, config: BarrierConfig | None = None, *, clock: Clock = time.monotonic,
                 on_change: StateCallback | None = None) -> None:
        self.config = config or BarrierConfig()
        self._driver = driver
        self._clock = clock
        self._on_change = on_change
        self._state = BarrierState.CLOSED
        self._since = clock()
        self._fault: str | None = None
        self._jammed = False
        self._motion: Motion | None = None
        self._close_wanted = False
        self._held = False
        self._vehicle: bool | None = None
        self._vehicle_seen = False
        self._last_present: float | None = None
        self.reversals = 0
        self._start()

    # --- what it reports ---------------------------------------------------------------------------------------

    @property
    def state(self) -> BarrierState:
        return self._state

    @property
    def fault(self) -> str | None:
        """Why the barrier is in ``fault``; ``None`` otherwise."""
        return self._fault

    @property
    def held(self) -> bool:
        """True after a HOLD, until the next OPEN or CLOSE."""
        return self._held

    @property
    def vehicle_present(self) -> bool | None:
        """The presence loop at the last reading; ``None`` when the sensors could not be read."""
        return self._vehicle

    # --- what it is told ---------------------------------------------------------------------------------------

    def command(self, action: Action) -> CommandResult:
        """Carry out OPEN, CLOSE or HOLD on fresh sensor readings."""
        sensors = self._sense()
        if action == "OPEN":
            return self._open()
        self._held = action == "HOLD"
        if self._state is BarrierState.FAULT:
            self._try_reset(sensors)
        else:
            self._request_close("CLOSE" if action == "CLOSE" else "HOLD")
        return CommandResult(True, self._state)

    def fail_safe(self, why: str) -> None:
        """Return closed (once the loop is clear) because the controller lost its link or refused a command."""
        self._sense()
        if self._state is not BarrierState.FAULT:
            self._request_close(why)

    def fail(self, why: str) -> None:
        """Enter ``fault`` for an error found outside the barrier (the controller's own internal errors)."""
        self._enter_fault(why)

    def tick(self) -> BarrierState:
        """Read the sensors, advance travel and timers, and move the boom accordingly."""
        sensors = self._sense()
        if self._state is BarrierState.FAULT:
            self._fault_motion(sensors)
        elif sensors is not None:
            self._step(sensors)
        return self._state

    # --- commands ----------------------------------------------------------------------------------------------

    def _start(self) -> None:
        """Find the boom where the last run left it, and send it closed if it is not."""
        sensors = self._sense()
        if self._state is BarrierState.FAULT or sensors is None:
            return
        if sensors.down_limit:
            self._drive(Motion.STOP)
        else:
            self._enter(BarrierState.OPEN, "found not closed at start")
            self._request_close("start")

    def _open(self) -> CommandResult:
        if self._state is BarrierState.FAULT:
            return CommandResult(False, self._state, f"barrier fault: {self._fault}")
        self._held = False
        self._close_wanted = False
        present = bool(self._vehicle)
        self._vehicle_seen = present
        self._last_present = self._clock() if present else None
        if self._state in (BarrierState.CLOSED, BarrierState.CLOSING):
            self._move(BarrierState.OPENING, Motion.UP, "OPEN")
        elif self._state is BarrierState.OPEN:
            self._since = self._clock()  # a new passage: the max-open timer starts again
        return CommandResult(True, self._state)

    def _request_close(self, why: str) -> None:
        """Close now if the loop has been clear long enough, else as soon as it is."""
        self._close_wanted = True
        if self._state in (BarrierState.OPEN, BarrierState.OPENING) and self._clear():
            self._move(BarrierState.CLOSING, Motion.DOWN, why)

    def _try_reset(self, sensors: Sensors | None) -> None:
        """Leave ``fault`` only when the boom reads closed, the switches agree and the loop is clear."""
        if sensors is None or not sensors.down_limit or sensors.up_limit or sensors.vehicle_present:
            log.info("barrier: fault not cleared, boom not closed and healthy (%s)", self._fault)
            return
        self._fault = None
        self._jammed = False
        self._close_wanted = False
        self._move(BarrierState.CLOSED, Motion.STOP, "fault cleared by CLOSE")

    # --- ticks -------------------------------------------------------------------------------------------------

    def _step(self, sensors: Sensors) -> None:
        elapsed = self._clock() - self._since
        if self._state is BarrierState.CLOSED:
            if not sensors.down_limit:
                self._enter_fault("boom left the closed position")
        elif self._state is BarrierState.OPENING:
            if sensors.up_limit:
                self._move(BarrierState.OPEN, Motion.STOP, "up limit reached")
            elif elapsed > self.config.opening_s * self.config.travel_margin:
                self._enter_fault(f"not open after {elapsed:.1f} s")
        elif self._state is BarrierState.OPEN:
            if self._wants_to_close(elapsed) and self._clear():
                self._move(BarrierState.CLOSING, Motion.DOWN, self._close_reason(elapsed))
        elif self._state is BarrierState.CLOSING:
            self._step_closing(sensors, elapsed)

    def _step_closing(self, sensors: Sensors, elapsed: float) -> None:
        if sensors.vehicle_present:
            self.reversals += 1
            self._move(BarrierState.OPENING, Motion.UP, "vehicle under the closing boom")
        elif sensors.down_limit:
            self._close_wanted = False
            self._move(BarrierState.CLOSED, Motion.STOP, "down limit reached")
        elif elapsed > self.config.closing_s * self.config.travel_margin:
            self._enter_fault(f"not closed after {elapsed:.1f} s", jammed=True)

    def _wants_to_close(self, open_for: float) -> bool:
        return self._close_wanted or self._vehicle_seen or open_for >= self.config.max_open_s

    def _close_reason(self, open_for: float) -> str:
        if self._close_wanted:
            return "close requested"
        if self._vehicle_seen:
            return "vehicle passed"
        return f"open {open_for:.0f} s with nobody passing"

    def _clear(self) -> bool:
        """The loop reads clear now and has for ``clear_delay_s``."""
        if self._vehicle is not False:
            return False
        return self._last_present is None or self._clock() - self._last_present >= self.config.clear_delay_s

    def _fault_motion(self, sensors: Sensors | None) -> None:
        """In fault: down while that is safe and possible, otherwise stand still.

        Safe means sensors readable, the loop clear, the boom not jammed; a boom already down stays put.
        """
        if sensors is None or self._jammed or sensors.down_limit or not self._clear():
            self._drive(Motion.STOP)
            return
        if self._motion is not Motion.DOWN:
            self._since = self._clock()  # the return travel gets its full time
        self._drive(Motion.DOWN)
        if self._clock() - self._since > self.config.closing_s * self.config.travel_margin:
            self._jammed = True
            log.warning("barrier: cannot return closed (%s); motor stopped", self._fault)
            self._drive(Motion.STOP)

    # --- plumbing ----------------------------------------------------------------------------------------------

    def _sense(self) -> Sensors | None:
        try:
            sensors = self._driver.read()
        except Exception as exc:
            self._vehicle = None
            self._enter_fault(f"sensor read failed: {exc}")
            return None
        self._vehicle = sensors.vehicle_present
        if sensors.vehicle_present:
            self._vehicle_seen = True
            self._last_present = self._clock()
        if sensors.up_limit and sensors.down_limit:
            self._enter_fault("both limit switches on")
        return sensors

    def _move(self, state: BarrierState, motion: Motion, why: str) -> None:
        self._enter(state, why)
        self._drive(motion)

    def _enter(self, state: BarrierState, why: str) -> None:
        old, self._state, self._since = self._state, state, self._clock()
        if old is not state:
            log.debug("barrier: %s -> %s (%s)", old.value, state.value, why)
            if self._on_change is not None:
                self._on_change(old, state, why)

    def _enter_fault(self, why: str, *, jammed: bool = False) -> None:
        self._jammed = self._jammed or jammed
        if self._state is BarrierState.FAULT:
            return
        self._fault = why
        self._enter(BarrierState.FAULT, why)
        self._drive(Motion.STOP)

    def _drive(self, motion: Motion) -> None:
        """Tell the motor, once per change; a failure is a fault (and, in fault, the motor state is unknown)."""
        if motion is self._motion:
            return
        try:
            self._driver.drive(motion)
        except Exception as exc:
            self._motion = None
            self._enter_fault(f"motor command {motion.value} failed: {exc}")
            return
        self._motion = motion


@dataclass
class SimulatedBarrier:
    """A boom that moves at constant speed between its limit switches, with a presence loop under it.

    Tests and the demo set ``vehicle_present`` and inject faults (``jammed``, ``fail_reads``, ``fail_drives``).
    ``drives`` records every motor command, so a test can prove a command was carried out exactly once, and
    ``lowered_on_vehicle`` records whether the boom ever moved down while a vehicle was under it.
    """

    opening_s: float = 2.0
    closing_s: float = 2.0
    clock: Clock = time.monotonic
    position: float = 0.0
    """0 closed, 1 open."""
    vehicle_present: bool = False
    jammed: bool = False
    fail_reads: bool = False
    fail_drives: bool = False
    motion: Motion = Motion.STOP
    drives: list[Motion] = field(default_factory=list)
    lowered_on_vehicle: bool = False
    _last: float = math.nan

    def __post_init__(self) -> None:
        if not (self.opening_s > 0 and self.closing_s > 0):
            raise ValueError(f"travel times must be > 0, got {self.opening_s}, {self.closing_s}")
        self._last = self.clock()

    def set_vehicle(self, present: bool) -> None:
        """A vehicle enters or leaves the loop now (the boom's travel up to now is accounted first)."""
        self._advance()
        self.vehicle_present = present

    def drive(self, motion: Motion) -> None:
        self._advance()
        if self.fail_drives:
            raise BarrierHardwareError("motor controller not answering")
        self.drives.append(motion)
        self.motion = motion

    def read(self) -> Sensors:
        self._advance()
        if self.fail_reads:
            raise BarrierHardwareError("sensor bus not answering")
        return Sensors(up_limit=self.position >= 1.0, down_limit=self.position <= 0.0,
                       vehicle_present=self.vehicle_present)

    def _moved(self, delta: float) -> None:
        """Move by ``delta`` of the full travel; within a nanometre of an end counts as the end (float sums)."""
        position = self.position + delta
        self.position = 1.0 if position >= 1.0 - _END_TOLERANCE else 0.0 if position <= _END_TOLERANCE else position

    def _advance(self) -> None:
        now = self.clock()
        elapsed, self._last = max(0.0, now - self._last), now
        if self.jammed or elapsed == 0 or self.motion is Motion.STOP:
            return
        if self.motion is Motion.UP:
            self._moved(elapsed / self.opening_s)
        elif self.position > 0:
            self.lowered_on_vehicle = self.lowered_on_vehicle or self.vehicle_present
            self._moved(-elapsed / self.closing_s)
