"""The local stand-in's broker and device identity, as `swan up` runs them, for the tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest
from identity_support import running_identity, service_endpoint

from swan.adapters.mqtt import connect
from swan.certs.files import CertificateStore
from swan.local.mosquitto import Mosquitto
from swan.local.stack import broker_plan, local_deployment

if TYPE_CHECKING:
    from collections.abc import Iterator

    from swan.adapters.mqtt import CrtTransport
    from swan.local.identity import DeviceIdentity


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("browser") is None:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def state_dir(tmp_path_factory: pytest.TempPathFactory):
    return tmp_path_factory.mktemp("state")


@pytest.fixture(scope="session")
def pki(state_dir) -> CertificateStore:
    store = CertificateStore(state_dir / "certs")
    store.ensure_server(now=datetime.now(UTC))
    return store


@pytest.fixture(scope="session")
def deployment():
    return local_deployment()[1]


@pytest.fixture(scope="session")
def broker(state_dir, deployment) -> Iterator[Mosquitto]:
    with Mosquitto(broker_plan(state_dir, deployment)) as running:
        yield running


@pytest.fixture
def service(broker: Mosquitto) -> Iterator[CrtTransport]:
    """A connection on the internal listener, as the project's services connect."""
    transport = connect(service_endpoint(broker))
    yield transport
    transport.close()


@pytest.fixture(scope="session")
def identity(broker, pki, deployment, state_dir) -> Iterator[DeviceIdentity]:
    """The registry and the device gateway in front of the broker (no functions: devices
    are provisioned, not registered just in time)."""
    with running_identity(broker, pki, deployment, state_dir / "registry.db") as running:
        yield running
