"""``python -m smartgate.services NAME --site FILE``: run one service in this process until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import logging
import sys
import threading
from pathlib import Path

from smartgate.services.runtime import configure_logging, install_stop_handlers
from smartgate.site import Site, SiteConfigError, load_site

SERVICES = ("broker", "journal", "lane", "gate-controller", "clearance", "planner", "yard", "field-devices", "api")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m smartgate.services", description=__doc__)
    parser.add_argument("name", choices=SERVICES)
    parser.add_argument("--site", required=True, help="site YAML file")
    parser.add_argument("--data-dir", default=None, help="runtime folder (journal, keys, logs)")
    parser.add_argument("--lane", default=None, help="lane id (lane and gate-controller services)")
    parser.add_argument("--speed", type=float, default=1.0,
                        help="playback speed of recordings (lane and yard services; 0: as fast as possible)")
    parser.add_argument("--loop", action="store_true", help="replay recordings forever (lane service)")
    parser.add_argument("--heartbeat-s", type=float, default=1.0, metavar="S",
                        help="gate link heartbeat interval, the same on both sides (gate-controller, clearance)")
    parser.add_argument("--declarations", type=Path, default=None, metavar="PATH",
                        help="declarations JSON Lines file or folder, instead of the site's feed (clearance)")
    parser.add_argument("--operator", action="append", default=[], metavar="NAME",
                        help="an officer allowed to override decisions, repeatable (clearance)")
    parser.add_argument("--maps", type=Path, action="append", default=[], metavar="DIR",
                        help="folder of MovingAI .map files served by file stem, repeatable (planner)")
    parser.add_argument("--recording", type=Path, default=None, metavar="DIR",
                        help="yard recording to play instead of the site's (yard)")
    parser.add_argument("--igvs", type=int, default=8, metavar="N",
                        help="simulated IGVs, parked on the yard's parking spots (field-devices)")
    parser.add_argument("--environment", choices=("development", "production"), default="production",
                        help="development seeds users with the published development password (api)")
    parser.add_argument("--rate-per-s", type=float, default=None, metavar="R",
                        help="requests per second allowed to each client (api; default 200)")
    parser.add_argument("--add-user", default=None, metavar="NAME",
                        help="create an API user, password read from stdin, and exit (api, with --role)")
    parser.add_argument("--role", choices=("viewer", "operator", "admin"), default=None, help="role of --add-user")
    args = parser.parse_args(argv)
    configure_logging(args.name if args.lane is None else f"{args.name}-{args.lane}")
    stop = install_stop_handlers()
    try:
        site = load_site(args.site, data_dir=args.data_dir)
    except SiteConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    try:
        return _run(args, site, stop)
    except Exception:
        logging.getLogger("smartgate.services").exception("service %s failed", args.name)
        return 1


def _run(args: argparse.Namespace, site: Site, stop: threading.Event) -> int:
    """Import only the service asked for, so each process loads what it needs."""
    if args.name == "broker":
        from smartgate.services import broker

        return broker.run(site, stop)
    if args.name == "journal":
        from smartgate.services import journal_recorder

        return journal_recorder.run(site, stop)
    if args.name == "clearance":
        from smartgate.services import clearance

        options = clearance.ClearanceOptions(heartbeat_s=args.heartbeat_s, declarations=args.declarations,
                                             operators=tuple(args.operator))
        return clearance.run(site, stop, options)
    if args.name == "planner":
        from smartgate.services import planner

        return planner.run(site, stop, planner.PlannerProcessOptions(maps=tuple(args.maps)))
    if args.name == "yard":
        from smartgate.services import yard_occupancy

        return yard_occupancy.run(site, stop, yard_occupancy.YardOptions(recording=args.recording, speed=args.speed))
    if args.name == "api":
        return _run_api(args, site, stop)
    if args.name == "field-devices":
        from smartgate.services import field_devices

        if args.speed <= 0:
            print("the field-devices service needs --speed > 0 (simulated seconds per real second)", file=sys.stderr)
            return 2
        return field_devices.run(site, stop, speed=args.speed, igvs=args.igvs)
    if args.lane is None:
        print(f"the {args.name} service needs --lane", file=sys.stderr)
        return 2
    if args.name == "gate-controller":
        from smartgate.services import gate_controller

        return gate_controller.run(site, stop, args.lane,
                                   gate_controller.GateControllerOptions(heartbeat_s=args.heartbeat_s))
    from smartgate.services import lane_reader

    return lane_reader.run(site, stop, args.lane, speed=args.speed, loop=args.loop)


def _run_api(args: argparse.Namespace, site: Site, stop: threading.Event) -> int:
    from smartgate.services import api

    if args.add_user is not None:
        if args.role is None:
            print("--add-user needs --role viewer|operator|admin", file=sys.stderr)
            return 2
        return api.add_user(site, args.add_user, args.role, sys.stdin)
    if args.rate_per_s is not None and not args.rate_per_s > 0:
        print("--rate-per-s must be positive", file=sys.stderr)
        return 2
    return api.run(site, stop, api.ApiOptions(environment=args.environment, rate_per_s=args.rate_per_s))


if __name__ == "__main__":
    raise SystemExit(main())
