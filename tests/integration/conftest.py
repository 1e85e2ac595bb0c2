"""A real Mosquitto, configured as `swan up` configures it, for the integration tests."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest
from support import free_port, unique

from swan.adapters.mqtt import Endpoint, connect
from swan.certs.files import CertificateStore
from swan.local.mosquitto import Account, BrokerPlan, Mosquitto
from swan.local.stack import internal_socket

if TYPE_CHECKING:
    from collections.abc import Iterator

    from swan.adapters.mqtt import CrtTransport


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("browser") is None:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> CertificateStore:
    store = CertificateStore(tmp_path_factory.mktemp("state") / "certs")
    store.ensure_server(now=datetime.now(UTC))
    return store


@pytest.fixture(scope="session")
def broker_plan(pki: CertificateStore, tmp_path_factory: pytest.TempPathFactory) -> BrokerPlan:
    ca = pki.ca_files
    server = pki.server_files
    return BrokerPlan(
        directory=tmp_path_factory.mktemp("broker"),
        device_port=free_port(),
        internal_socket=internal_socket(tmp_path_factory.mktemp("sock")),
        web_port=free_port(),
        ca_file=ca.certificate,
        cert_file=server.certificate,
        key_file=server.key,
        service=Account("swan-services", secrets.token_urlsafe(16)),
        web=Account("swan-web", secrets.token_urlsafe(16)),
    )


@pytest.fixture(scope="session")
def broker(broker_plan: BrokerPlan) -> Iterator[Mosquitto]:
    with Mosquitto(broker_plan) as running:
        yield running


@pytest.fixture
def service(broker: Mosquitto) -> Iterator[CrtTransport]:
    """A connection on the internal listener, as the project's services connect."""
    plan = broker.plan
    transport = connect(
        Endpoint.local(
            plan.internal_socket, unique("svc-"), plan.service.username, plan.service.password
        )
    )
    yield transport
    transport.close()


def device_endpoint(broker: Mosquitto, pki: CertificateStore, thing: str) -> Endpoint:
    """A device's mTLS endpoint, with a certificate issued for `thing`."""
    stored = pki.ensure_device(thing, now=datetime.now(UTC))
    return Endpoint(
        "localhost",
        broker.plan.device_port,
        thing,
        ca_file=pki.ca_files.certificate,
        cert_file=stored.files.certificate,
        key_file=stored.files.key,
    )
