"""Turning a site file into bus sockets: which keys a component uses and where it connects.

Every component has its own CURVE key pair in the site's keys folder; servers (the broker, the clearance and
planner services, gate controllers) admit exactly the public keys found there. Plain (unencrypted) links are used
only when the site file says ``security: development`` together with ``allow_insecure_development: true``.
"""

from __future__ import annotations

from bus.curve import Security, generate_keys, load_keypair, load_public, missing_keypairs
from bus.pubsub import Publisher, Subscriber
from smartgate.site import Site

BROKER = "broker"


def ensure_keys(site: Site) -> None:
    """Create the key pairs the site's components need; existing pairs are kept."""
    if site.bus.security == "curve":
        generate_keys(site.bus.keys_dir, missing_keypairs(site.bus.keys_dir, site.component_names()))


def server_security(site: Site, component: str) -> Security:
    """Security for a component that binds (and so authenticates the peers that connect)."""
    if site.bus.security != "curve":
        return Security.development()
    return Security.curve(load_keypair(site.bus.keys_dir, component), authorized_dir=site.bus.keys_dir)


def client_security(site: Site, component: str, server: str) -> Security:
    """Security for ``component`` connecting to the server component ``server``."""
    if site.bus.security != "curve":
        return Security.development()
    keys = site.bus.keys_dir
    return Security.curve(load_keypair(keys, component), server_public=load_public(keys, server))


def event_publisher(site: Site, component: str) -> Publisher:
    """A publisher into the site broker's stream of events and telemetry."""
    return Publisher(site.bus.endpoints.publish, client_security(site, component, BROKER), connect=True)


def event_subscriber(site: Site, component: str, topics: list[bytes]) -> Subscriber:
    """A subscriber to the site broker; ``[b""]`` for everything."""
    return Subscriber(site.bus.endpoints.subscribe, topics, client_security(site, component, BROKER))
