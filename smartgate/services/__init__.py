"""The system's services, each run as its own process: ``python -m smartgate.services NAME --site FILE``.

Services talk only through the bus. Each one stops cleanly on SIGTERM or SIGINT, publishes a heartbeat every
second and its counters as telemetry, and logs to stderr (the demo sends that to ``<data_dir>/logs``).
"""
