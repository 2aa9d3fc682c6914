"""Field devices in simulation: IGVs that execute (or refuse) commanded moves, fault plans, lossy links, the checks
of executed trajectories, and the device simulator process that speaks the bus messages a real fleet adapter would."""

from control.fieldsim.device_service import TICK_S, DeviceSimulator
from control.fieldsim.faults import Fault, FaultKind, fault_plan
from control.fieldsim.igv_devices import DeviceError, IGVDevices
from control.fieldsim.link import LossyLink
from control.fieldsim.trajectory import TrajectoryLog

__all__ = ["TICK_S", "DeviceError", "DeviceSimulator", "Fault", "FaultKind", "IGVDevices", "LossyLink",
           "TrajectoryLog", "fault_plan"]
