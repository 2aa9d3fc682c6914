"""The barrier state machine on a simulated boom and a driven clock: every transition, the interlock, the timers
and the faults."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from control.barrier import (
    Barrier,
    BarrierConfig,
    BarrierHardwareError,
    BarrierState,
    Motion,
    Sensors,
    SimulatedBarrier,
)

CLOSED, OPENING, OPEN, CLOSING, FAULT = (BarrierState.CLOSED, BarrierState.OPENING, BarrierState.OPEN,
                                         BarrierState.CLOSING, BarrierState.FAULT)
UP, DOWN, STOP = Motion.UP, Motion.DOWN, Motion.STOP
CONFIG = BarrierConfig(opening_s=2.0, closing_s=2.0, travel_margin=1.5, clear_delay_s=1.0, max_open_s=10.0)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Rig:
    clock: Clock
    sim: SimulatedBarrier
    barrier: Barrier

    def run(self, seconds: float, step: float = 0.05) -> BarrierState:
        """Let ``seconds`` pass, ticking every ``step``."""
        for _ in range(round(seconds / step)):
            self.clock.now += step
            self.barrier.tick()
        return self.barrier.state

    def vehicle(self, present: bool) -> None:
        """A vehicle enters or leaves the loop; the barrier sees it on its next tick, with no time in between."""
        self.sim.set_vehicle(present)
        self.barrier.tick()


def make_rig(position: float = 0.0, vehicle: bool = False, config: BarrierConfig = CONFIG) -> Rig:
    clock = Clock()
    sim = SimulatedBarrier(opening_s=config.opening_s, closing_s=config.closing_s, clock=clock, position=position,
                           vehicle_present=vehicle)
    return Rig(clock, sim, Barrier(sim, config, clock=clock))


def rig_in(state: BarrierState) -> Rig:
    """A rig whose barrier has just reached ``state`` the ordinary way, loop clear."""
    rig = make_rig()
    if state is OPENING:
        rig.barrier.command("OPEN")
    elif state is OPEN:
        rig.barrier.command("OPEN")
        rig.run(2.1)
    elif state is CLOSING:
        rig.barrier.command("OPEN")
        rig.run(2.1)
        rig.barrier.command("CLOSE")
    elif state is FAULT:
        rig.sim.fail_reads = True
        rig.barrier.tick()
        rig.sim.fail_reads = False
    assert rig.barrier.state is state
    return rig


# --- commands from every state ----------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("start", "action", "accepted", "state", "motion", "held"),
    [
        (CLOSED, "OPEN", True, OPENING, UP, False),
        (CLOSED, "CLOSE", True, CLOSED, STOP, False),
        (CLOSED, "HOLD", True, CLOSED, STOP, True),
        (OPENING, "OPEN", True, OPENING, UP, False),
        (OPENING, "CLOSE", True, CLOSING, DOWN, False),
        (OPENING, "HOLD", True, CLOSING, DOWN, True),
        (OPEN, "OPEN", True, OPEN, STOP, False),
        (OPEN, "CLOSE", True, CLOSING, DOWN, False),
        (OPEN, "HOLD", True, CLOSING, DOWN, True),
        (CLOSING, "OPEN", True, OPENING, UP, False),
        (CLOSING, "CLOSE", True, CLOSING, DOWN, False),
        (CLOSING, "HOLD", True, CLOSING, DOWN, True),
        (FAULT, "OPEN", False, FAULT, STOP, False),
        (FAULT, "CLOSE", True, CLOSED, STOP, False),  # boom down and healthy: CLOSE clears the fault
        (FAULT, "HOLD", True, CLOSED, STOP, True),
    ],
)
def test_command_from_each_state(start, action, accepted, state, motion, held):
    rig = rig_in(start)
    drives_before = len(rig.sim.drives)
    result = rig.barrier.command(action)
    assert (result.accepted, result.state, rig.barrier.state) == (accepted, state, state)
    assert rig.sim.motion is motion
    assert rig.barrier.held is held
    assert (result.error is None) is accepted
    if start is state and start is not FAULT:
        assert len(rig.sim.drives) == drives_before  # no state change, no motor command


def test_open_refused_in_fault_names_the_fault():
    rig = rig_in(FAULT)
    result = rig.barrier.command("OPEN")
    assert result.error is not None
    assert result.error.startswith("barrier fault: sensor read failed")


# --- travel and timers ------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("seconds", "state", "position"),
    [(0.0, OPENING, 0.0), (1.0, OPENING, 0.5), (1.95, OPENING, 0.975), (2.0, OPEN, 1.0), (5.0, OPEN, 1.0)],
)
def test_opening_takes_the_travel_time(seconds, state, position):
    rig = rig_in(OPENING)
    assert rig.run(seconds) is state
    assert rig.sim.position == pytest.approx(position)
    assert rig.sim.motion is (STOP if state is OPEN else UP)


def test_closing_takes_the_travel_time():
    rig = rig_in(CLOSING)
    assert rig.run(1.9) is CLOSING
    assert rig.run(0.1) is CLOSED
    assert rig.sim.position == 0.0
    assert rig.sim.motion is STOP


def test_travel_times_are_configurable():
    rig = make_rig(config=BarrierConfig(opening_s=0.5, closing_s=4.0))
    rig.barrier.command("OPEN")
    assert rig.run(0.5) is OPEN
    rig.barrier.command("CLOSE")
    assert rig.run(3.9) is CLOSING
    assert rig.run(0.1) is CLOSED


def test_closes_by_itself_once_the_vehicle_has_passed():
    rig = rig_in(OPEN)
    rig.vehicle(True)
    assert rig.run(5.0) is OPEN  # a slow truck: nothing happens while it is under the boom
    rig.vehicle(False)
    assert rig.run(0.95) is OPEN  # the loop must stay clear for clear_delay_s
    assert rig.run(0.1) is CLOSING
    assert rig.run(2.0) is CLOSED
    assert not rig.sim.lowered_on_vehicle


def test_gap_between_tractor_and_trailer_does_not_close():
    rig = rig_in(OPEN)
    rig.vehicle(True)
    rig.run(1.0)
    rig.vehicle(False)
    assert rig.run(0.5) is OPEN  # gap shorter than clear_delay_s
    rig.vehicle(True)
    assert rig.run(1.0) is OPEN
    rig.vehicle(False)
    assert rig.run(1.1) is CLOSING


@pytest.mark.parametrize(("open_for", "state"), [(9.9, OPEN), (10.1, CLOSING)])
def test_closes_after_max_open_time_when_nobody_passes(open_for, state):
    rig = rig_in(OPEN)
    assert rig.run(open_for) is state


def test_max_open_time_waits_for_a_vehicle_under_the_boom():
    rig = rig_in(OPEN)
    rig.run(5.0)
    rig.vehicle(True)
    assert rig.run(10.0) is OPEN
    rig.vehicle(False)
    assert rig.run(1.1) is CLOSING


def test_a_new_open_restarts_the_max_open_timer():
    rig = rig_in(OPEN)
    rig.run(9.0)
    rig.barrier.command("OPEN")
    assert rig.run(9.0) is OPEN
    assert rig.run(1.1) is CLOSING


# --- the vehicle-presence interlock -----------------------------------------------------------------------------

@pytest.mark.parametrize("action", ["CLOSE", "HOLD"])
def test_never_starts_closing_on_a_vehicle(action):
    rig = rig_in(OPEN)
    rig.vehicle(True)
    result = rig.barrier.command(action)
    assert result.accepted
    assert rig.barrier.state is OPEN
    assert rig.run(3.0) is OPEN  # waits, however long
    rig.vehicle(False)
    assert rig.run(0.95) is OPEN
    assert rig.run(0.1) is CLOSING
    assert rig.run(2.0) is CLOSED
    assert not rig.sim.lowered_on_vehicle


@pytest.mark.parametrize("after_s", [0.05, 0.5, 1.0, 1.5, 1.95])
def test_closing_boom_reverses_when_a_vehicle_arrives(after_s):
    rig = rig_in(CLOSING)
    rig.run(after_s)
    rig.vehicle(True)
    assert rig.barrier.state is OPENING
    assert rig.sim.motion is UP
    assert rig.barrier.reversals == 1
    assert rig.run(2.0) is OPEN
    rig.vehicle(False)
    assert rig.run(1.1) is CLOSING  # it still closes once the vehicle is through
    assert rig.run(2.0) is CLOSED
    assert not rig.sim.lowered_on_vehicle


def test_close_during_opening_with_a_vehicle_waits_until_clear():
    rig = rig_in(OPENING)
    rig.vehicle(True)
    rig.barrier.command("CLOSE")
    assert rig.barrier.state is OPENING
    assert rig.run(2.1) is OPEN
    rig.vehicle(False)
    assert rig.run(1.1) is CLOSING


def test_close_right_after_the_vehicle_left_waits_for_the_clear_delay():
    rig = rig_in(OPEN)
    rig.vehicle(True)
    rig.vehicle(False)
    rig.barrier.command("CLOSE")
    assert rig.barrier.state is OPEN
    assert rig.run(1.05) is CLOSING


def test_open_with_a_vehicle_waiting_opens():
    rig = make_rig(vehicle=True)
    assert rig.barrier.command("OPEN").state is OPENING
    assert rig.run(2.1) is OPEN


# --- fail safe: start-up, fail_safe(), faults -------------------------------------------------------------------

def test_starts_closed_when_the_boom_is_down():
    rig = make_rig()
    assert rig.barrier.state is CLOSED
    assert rig.sim.drives == [STOP]


def test_start_with_the_boom_up_returns_closed():
    rig = make_rig(position=1.0)
    assert rig.barrier.state is CLOSING
    assert rig.run(2.0) is CLOSED


def test_start_with_the_boom_up_and_a_vehicle_under_it_waits():
    rig = make_rig(position=1.0, vehicle=True)
    assert rig.barrier.state is OPEN
    assert rig.run(3.0) is OPEN
    rig.vehicle(False)
    assert rig.run(1.1) is CLOSING
    assert rig.run(2.0) is CLOSED


@pytest.mark.parametrize(("start", "vehicle", "after"), [
    (CLOSED, False, CLOSED), (OPENING, False, CLOSING), (OPEN, False, CLOSING), (CLOSING, False, CLOSING),
    (OPEN, True, OPEN), (OPENING, True, OPENING),
])
def test_fail_safe_returns_closed_unless_a_vehicle_is_under_the_boom(start, vehicle, after):
    rig = rig_in(start)
    if vehicle:
        rig.vehicle(True)
    rig.barrier.fail_safe("link lost")
    assert rig.barrier.state is after
    assert rig.barrier.fault is None
    if vehicle:
        assert rig.run(3.0) is OPEN
        rig.vehicle(False)
    assert rig.run(3.5) is CLOSED
    assert not rig.sim.lowered_on_vehicle


def test_jam_while_opening_is_a_fault_and_the_boom_returns_closed():
    rig = rig_in(OPENING)
    rig.run(1.0)
    rig.sim.jammed = True
    assert rig.run(1.95) is OPENING  # 2.95 s: within opening_s x travel_margin
    assert rig.run(0.1) is FAULT
    assert rig.barrier.fault is not None
    assert rig.barrier.fault.startswith("not open after")
    rig.sim.jammed = False  # freed: the boom goes back down by itself
    rig.run(1.5)
    assert rig.sim.position == 0.0
    assert rig.sim.motion is STOP
    assert rig.barrier.state is FAULT  # latched until a CLOSE
    assert rig.barrier.command("OPEN").accepted is False
    assert rig.barrier.command("CLOSE").state is CLOSED
    assert rig.barrier.command("OPEN").state is OPENING


def test_jam_while_closing_stops_the_motor_and_stays_in_fault():
    rig = rig_in(CLOSING)
    rig.sim.jammed = True
    assert rig.run(3.1) is FAULT
    assert rig.sim.motion is STOP
    rig.run(5.0)
    assert rig.sim.motion is STOP  # jammed: it does not keep pushing
    assert rig.barrier.command("CLOSE").state is FAULT  # not down: the fault stays


@pytest.mark.parametrize("vehicle", [False, True])
def test_sensor_failure_is_a_fault_and_returns_closed_when_the_loop_is_clear(vehicle):
    rig = rig_in(OPEN)
    if vehicle:
        rig.vehicle(True)
    rig.sim.fail_reads = True
    assert rig.run(0.1) is FAULT
    assert rig.barrier.vehicle_present is None
    assert rig.sim.motion is STOP  # presence unknown: no movement
    rig.run(1.0)
    assert rig.sim.motion is STOP
    rig.sim.fail_reads = False
    rig.run(0.1)
    assert rig.sim.motion is (STOP if vehicle else DOWN)
    if vehicle:
        rig.vehicle(False)
    rig.run(3.5)
    assert rig.sim.position == 0.0
    assert not rig.sim.lowered_on_vehicle
    assert rig.barrier.command("CLOSE").state is CLOSED


def test_motor_failure_is_a_fault():
    rig = rig_in(CLOSED)
    rig.sim.fail_drives = True
    result = rig.barrier.command("OPEN")
    assert rig.barrier.state is FAULT
    assert result.accepted  # taken, but the motor failed: the state says so
    assert rig.barrier.fault is not None
    assert rig.barrier.fault.startswith("motor command up failed")
    rig.sim.fail_drives = False
    assert rig.barrier.command("OPEN").accepted is False
    assert rig.barrier.command("CLOSE").state is CLOSED


def test_fail_enters_fault_from_outside():
    rig = rig_in(OPEN)
    rig.barrier.fail("controller internal error")
    assert rig.barrier.state is FAULT
    assert rig.barrier.fault == "controller internal error"
    rig.run(2.5)
    assert rig.sim.position == 0.0


def test_state_changes_are_reported():
    changes: list[tuple[BarrierState, BarrierState]] = []
    clock = Clock()
    sim = SimulatedBarrier(clock=clock)
    barrier = Barrier(sim, CONFIG, clock=clock, on_change=lambda old, new, _why: changes.append((old, new)))
    barrier.command("OPEN")
    for _ in range(50):
        clock.now += 0.1
        barrier.tick()
    assert changes == [(CLOSED, OPENING), (OPENING, OPEN)]


# --- a driver with scripted sensors, as a PLC driver would be -----------------------------------------------------

@dataclass
class ScriptedDriver:
    """A BarrierDriver whose sensor readings the test sets directly."""

    sensors: Sensors
    motions: list[Motion]

    def drive(self, motion: Motion) -> None:
        self.motions.append(motion)

    def read(self) -> Sensors:
        return self.sensors


@pytest.mark.parametrize(
    ("sensors", "fault"),
    [
        (Sensors(up_limit=True, down_limit=True, vehicle_present=False), "both limit switches on"),
        (Sensors(up_limit=False, down_limit=False, vehicle_present=False), "boom left the closed position"),
    ],
)
def test_inconsistent_sensors_are_a_fault(sensors, fault):
    driver = ScriptedDriver(Sensors(up_limit=False, down_limit=True, vehicle_present=False), [])
    barrier = Barrier(driver, CONFIG, clock=Clock())
    assert barrier.state is CLOSED
    driver.sensors = sensors
    assert barrier.tick() is FAULT
    assert barrier.fault == fault
    assert driver.motions[-1] is STOP


def test_unreadable_driver_at_start_is_a_fault():
    class Dead:
        def drive(self, motion: Motion) -> None:
            raise BarrierHardwareError("no PLC")

        def read(self) -> Sensors:
            raise BarrierHardwareError("no PLC")

    barrier = Barrier(Dead(), CONFIG, clock=Clock())
    assert barrier.state is FAULT
    assert barrier.tick() is FAULT
    assert barrier.command("OPEN").accepted is False


@pytest.mark.parametrize(
    ("field", "value"),
    [("opening_s", 0.0), ("closing_s", -1.0), ("max_open_s", 0.0), ("clear_delay_s", -0.1), ("travel_margin", 0.9)],
)
def test_config_is_checked(field, value):
    with pytest.raises(ValueError, match=field):
        BarrierConfig(**{field: value})
