"""Device identity through the AWS IoT control plane (boto3 `iot`): the register handler's port.

On AWS this is IoT Core's registry; locally the control-plane stand-in
(swan.local.controlplane) serves the same API, chosen only by `AWS_ENDPOINT_URL_IOT`.
`MemoryDeviceRegistry` is a real implementation held in memory, for tests.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, Final, Protocol

from swan.core.errors import SwanError

ACTIVE: Final = "ACTIVE"
REVOKED: Final = "REVOKED"
PENDING_ACTIVATION: Final = "PENDING_ACTIVATION"


@dataclass(frozen=True)
class DeviceCertificate:
    """A device certificate as the registry describes it."""

    certificate_id: str
    arn: str
    status: str
    pem: str
    ca_certificate_id: str | None  # None when the registry does not say


@dataclass(frozen=True)
class CaCertificate:
    certificate_id: str
    arn: str
    status: str
    auto_registration: bool
    pem: str


class CertificateStateError(SwanError, RuntimeError):
    """The registry refused a status change (a revoked certificate stays revoked)."""

    def __init__(self, certificate_id: str, detail: str) -> None:
        self.certificate_id = certificate_id
        self.detail = detail
        super().__init__(f"certificate {certificate_id}: the status cannot change: {detail}")


class MissingResourceError(SwanError, LookupError):
    """The in-memory registry's ResourceNotFoundException."""

    def __init__(self, kind: str, name: str) -> None:
        self.kind = kind
        self.name = name
        super().__init__(f"no {kind} {name!r}")


class DeviceRegistry(Protocol):
    """What the register handler asks of the registry. Every write is idempotent."""

    def describe_certificate(self, certificate_id: str) -> DeviceCertificate | None: ...

    def describe_ca_certificate(self, certificate_id: str) -> CaCertificate | None: ...

    def create_thing(self, thing_name: str) -> None:
        """Make sure the thing exists."""
        ...

    def attach_policy(self, policy_name: str, target: str) -> None: ...

    def attach_thing_principal(self, thing_name: str, principal: str) -> None: ...

    def activate_certificate(self, certificate_id: str) -> None:
        """Set the certificate ACTIVE; raises CertificateStateError if that is not allowed."""
        ...


class IotDeviceRegistry:
    """`DeviceRegistry` over boto3's `iot` client. Errors other than the expected ones
    (not found on describe, already exists on create, a refused state change) propagate."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def describe_certificate(self, certificate_id: str) -> DeviceCertificate | None:
        try:
            response = self._client.describe_certificate(certificateId=certificate_id)
        except self._client.exceptions.ResourceNotFoundException:
            return None
        description = response["certificateDescription"]
        return DeviceCertificate(
            certificate_id=description["certificateId"],
            arn=description["certificateArn"],
            status=description["status"],
            pem=description["certificatePem"],
            ca_certificate_id=description.get("caCertificateId"),
        )

    def describe_ca_certificate(self, certificate_id: str) -> CaCertificate | None:
        try:
            response = self._client.describe_ca_certificate(certificateId=certificate_id)
        except self._client.exceptions.ResourceNotFoundException:
            return None
        description = response["certificateDescription"]
        return CaCertificate(
            certificate_id=description["certificateId"],
            arn=description["certificateArn"],
            status=description["status"],
            # Absent means not enabled: never register on a guess.
            auto_registration=description.get("autoRegistrationStatus") == "ENABLE",
            pem=description["certificatePem"],
        )

    def create_thing(self, thing_name: str) -> None:
        # Already there with attributes of its own: that is all we need.
        with contextlib.suppress(self._client.exceptions.ResourceAlreadyExistsException):
            self._client.create_thing(thingName=thing_name)

    def attach_policy(self, policy_name: str, target: str) -> None:
        self._client.attach_policy(policyName=policy_name, target=target)

    def attach_thing_principal(self, thing_name: str, principal: str) -> None:
        self._client.attach_thing_principal(thingName=thing_name, principal=principal)

    def activate_certificate(self, certificate_id: str) -> None:
        try:
            self._client.update_certificate(certificateId=certificate_id, newStatus=ACTIVE)
        except self._client.exceptions.CertificateStateException as error:
            message = error.response.get("Error", {}).get("Message", "")
            raise CertificateStateError(certificate_id, message) from error


class MemoryDeviceRegistry:
    """A `DeviceRegistry` in memory with AWS's rules for these calls; `calls` records
    every write in order, as (operation, arguments...)."""

    def __init__(self, account_id: str = "123456789012", region: str = "us-east-1") -> None:
        self._prefix = f"arn:aws:iot:{region}:{account_id}"
        self.certificates: dict[str, DeviceCertificate] = {}
        self.cas: dict[str, CaCertificate] = {}
        self.things: set[str] = set()
        self.policies: set[str] = set()
        self.policy_targets: dict[str, set[str]] = {}
        self.thing_principals: dict[str, set[str]] = {}
        self.calls: list[tuple[str, ...]] = []

    # ------------------------------------------------------------ setting up

    def add_ca(
        self, certificate_id: str, pem: str, *, status: str = ACTIVE, auto_registration: bool = True
    ) -> CaCertificate:
        ca = CaCertificate(
            certificate_id,
            f"{self._prefix}:cacert/{certificate_id}",
            status,
            auto_registration,
            pem,
        )
        self.cas[certificate_id] = ca
        return ca

    def add_certificate(
        self,
        certificate_id: str,
        pem: str,
        *,
        ca_certificate_id: str | None,
        status: str = PENDING_ACTIVATION,
    ) -> DeviceCertificate:
        certificate = DeviceCertificate(
            certificate_id,
            f"{self._prefix}:cert/{certificate_id}",
            status,
            pem,
            ca_certificate_id,
        )
        self.certificates[certificate_id] = certificate
        return certificate

    def set_status(self, certificate_id: str, status: str) -> None:
        certificate = self.certificates[certificate_id]
        self.certificates[certificate_id] = DeviceCertificate(
            certificate.certificate_id,
            certificate.arn,
            status,
            certificate.pem,
            certificate.ca_certificate_id,
        )

    # ------------------------------------------------------------ the port

    def describe_certificate(self, certificate_id: str) -> DeviceCertificate | None:
        return self.certificates.get(certificate_id)

    def describe_ca_certificate(self, certificate_id: str) -> CaCertificate | None:
        return self.cas.get(certificate_id)

    def create_thing(self, thing_name: str) -> None:
        self.calls.append(("create_thing", thing_name))
        self.things.add(thing_name)

    def attach_policy(self, policy_name: str, target: str) -> None:
        self.calls.append(("attach_policy", policy_name, target))
        if policy_name not in self.policies:
            raise MissingResourceError("policy", policy_name)
        self.policy_targets.setdefault(target, set()).add(policy_name)

    def attach_thing_principal(self, thing_name: str, principal: str) -> None:
        self.calls.append(("attach_thing_principal", thing_name, principal))
        if thing_name not in self.things:
            raise MissingResourceError("thing", thing_name)
        self.thing_principals.setdefault(thing_name, set()).add(principal)

    def activate_certificate(self, certificate_id: str) -> None:
        self.calls.append(("activate_certificate", certificate_id))
        status = self.certificates[certificate_id].status
        if status == REVOKED:
            raise CertificateStateError(certificate_id, "it is REVOKED")
        self.set_status(certificate_id, ACTIVE)
