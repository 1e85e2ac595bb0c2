"""A registry and device gateway of a test's own, in front of a running broker."""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING

from support import free_port, unique

from swan.adapters.clock import SystemClock
from swan.adapters.mqtt import Endpoint, connect
from swan.local.identity import DeviceIdentity

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from swan.certs.files import CertificateStore
    from swan.local.deployment import Deployment
    from swan.local.mosquitto import Mosquitto


def service_endpoint(broker: Mosquitto, client_id: str | None = None) -> Endpoint:
    plan = broker.plan
    return Endpoint.local(
        plan.internal_socket,
        client_id or unique("svc-"),
        plan.service.username,
        plan.service.password,
    )


@contextmanager
def running_identity(
    broker: Mosquitto, pki: CertificateStore, deployment: Deployment, registry_file: Path
) -> Iterator[DeviceIdentity]:
    """A registry in `registry_file` and a device gateway of its own, on a free port, on the
    event loop SWAN_EVENT_LOOP asks for."""
    events = connect(service_endpoint(broker, unique("identity-events-")))
    running = DeviceIdentity(
        registry_file=registry_file,
        certs=pki,
        deployment=deployment,
        broker=broker.plan,
        host="127.0.0.1",
        port=free_port(),
        publish=events.publish,
        clock=SystemClock(),
    )
    try:
        running.start()
        yield running
    finally:
        running.stop()
        events.close()
