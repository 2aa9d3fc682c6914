"""Fleet settings are checked when made."""

from __future__ import annotations

import pytest

from control.fleet.config import FleetConfig


def test_defaults_are_consistent():
    config = FleetConfig(igvs=50)
    assert config.low_battery < config.full_battery
    assert 1.0 / config.drain_per_tick * config.tick_s / 3600.0 == pytest.approx(2.78, rel=0.01)  # hours driving


@pytest.mark.parametrize(("fields", "message"), [
    ({"igvs": -1}, "igvs"),
    ({"igvs": True}, "igvs"),
    ({"igvs": 2.5}, "igvs"),
    ({"tick_s": 0.0}, "tick_s"),
    ({"tick_s": float("nan")}, "tick_s"),
    ({"drain_per_tick": -0.1}, "drain_per_tick"),
    ({"charge_per_tick": 2.0}, "charge_per_tick"),
    ({"low_battery": 0.9, "full_battery": 0.5}, "low_battery"),
    ({"full_battery": 1.5}, "full_battery"),
    ({"reassign_every_ticks": 0}, "reassign_every_ticks"),
])
def test_bad_settings_are_refused(fields, message):
    with pytest.raises(ValueError, match=message):
        FleetConfig(**{"igvs": 3, **fields})
