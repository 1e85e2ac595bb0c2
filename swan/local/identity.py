"""Device identity for the local stand-in: the registry, the device gateway in front of the
broker, and provisioning.

On start the local CA is registered with auto-registration (as `swan deploy` does on AWS)
and the template's IoT policies are created in the registry; new device certificates signed
by the CA are then registered just in time through the gateway and the register_device
handler. `provision` does the same registration directly, for the stack's own devices (the
virtual Pi, the bench) and for tests.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from swan.adapters.mqtt import Endpoint
from swan.certs.authority import certificate_pem
from swan.local.core.broker_limits import AWS_LIMITS, BrokerLimits
from swan.local.core.policy import PolicyContext, Principal, parse_policy_text
from swan.local.gateway import DeviceGateway, GatewayPlan
from swan.local.policies import DEVICE_POLICY
from swan.local.registry import Registry

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from swan.adapters.clock import Clock
    from swan.certs.files import CertificateStore
    from swan.local.deployment import Deployment
    from swan.local.gateway import CertificateRecordLike
    from swan.local.mosquitto import BrokerPlan

log = logging.getLogger(__name__)


class DeviceIdentity:
    """The registry and the gateway, started and stopped together."""

    def __init__(  # noqa: PLR0913  (each is a separate outside thing)
        self,
        *,
        registry_file: Path,
        certs: CertificateStore,
        deployment: Deployment,
        broker: BrokerPlan,
        host: str,
        port: int,
        publish: Callable[[str, bytes], object],
        clock: Clock,
        limits: BrokerLimits = AWS_LIMITS,
    ) -> None:
        self._certs = certs
        self._deployment = deployment
        self._broker = broker
        self._clock = clock
        self.registry = Registry(registry_file, clock)
        self.device_policy = deployment.policies[DEVICE_POLICY].name
        server = certs.server_files
        self.gateway = DeviceGateway(
            GatewayPlan(host, port, server.certificate, server.key),
            self.registry,
            publish=publish,
            clock=clock,
            upstream=self._upstream,
            principal=self._principal,
            limits=limits,
        )

    def start(self) -> None:
        ca = self._certs.load_ca()
        self.registry.register_ca(certificate_pem(ca.certificate), auto_registration=True)
        for policy in self._deployment.policies.values():
            # As CloudFormation would: refused as AWS IoT refuses it (swan up stops with the
            # AWS error), unchanged if unchanged, else a new default version.
            document = json.dumps(policy.document)
            self.registry.deploy_policy(policy.logical_id, policy.name, document)
        self.gateway.start()

    def stop(self) -> None:
        self.gateway.stop()
        self.registry.close()

    @property
    def port(self) -> int:
        """The device port, as bound (the plan may ask for any free port, 0)."""
        return self.gateway.port

    def provision(self, thing: str) -> Endpoint:
        """An mTLS endpoint for `thing`, registered and active: its certificate issued by the
        local CA if it has none, the thing created, DevicePolicy and the thing attached."""
        stored = self._certs.ensure_device(thing, now=datetime.now(UTC))
        certificate = stored.issued.certificate
        ca = self.registry.ca_for(certificate)
        record = self.registry.register_certificate(
            certificate_pem(certificate), ca_id=ca.id if ca else None, status="ACTIVE"
        )
        if record.status != "ACTIVE":
            record = self.registry.set_certificate_status(record.id, "ACTIVE")
        self.registry.create_thing(thing)
        self.registry.attach_policy(self.device_policy, record.arn)
        self.registry.attach_thing_principal(thing, record.arn)
        return self.endpoint(thing)

    def endpoint(self, thing: str) -> Endpoint:
        """The mTLS endpoint of `thing` (with the certificate files it has; none are issued)."""
        files = self._certs.device_files(thing)
        return Endpoint(
            "localhost",
            self.port,
            thing,
            ca_file=self._certs.ca_files.certificate,
            cert_file=files.certificate,
            key_file=files.key,
        )

    # ------------------------------------------------------------ for the gateway

    def _upstream(self, _record: CertificateRecordLike) -> Path:
        """Every certificate is a device's: the broker's device listener, behind the policy
        check (its ACL is DevicePolicy's, as a second line)."""
        return self._broker.device_socket

    def _principal(self, record: CertificateRecordLike, client_id: str) -> Principal:
        """Every policy attached to the certificate, evaluated together (an explicit Deny in
        any of them wins), for a connection as `client_id`, the certificate's thing."""
        documents = [
            parse_policy_text(policy.document)
            for policy in self.registry.attached_policies(record.arn)
        ]
        context = self._deployment.context
        return Principal.of(
            documents,
            PolicyContext(
                thing_name=client_id,
                client_id=client_id,
                region=context.region,
                account=context.account_id,
                partition=context.partition,
            ),
        )
