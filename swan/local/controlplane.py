"""The AWS IoT control-plane API (boto3's `iot` client) over the local device registry.

Handlers and tools use boto3 unchanged, pointed at `ControlPlane.url` (`endpoint_url=` or
`AWS_ENDPOINT_URL_IOT`). Routes, request and response shapes follow botocore's iot model;
timestamps are epoch seconds, as rest-json sends them. Errors carry `x-amzn-ErrorType`, so
botocore raises its modeled exceptions (`client.exceptions.ResourceNotFoundException`, ...).

    POST /cacertificate                     RegisterCACertificate
    GET|PUT /cacertificate/{id}             DescribeCACertificate, UpdateCACertificate
    GET /cacertificates                     ListCACertificates
    GET /registrationcode                   GetRegistrationCode
    GET|PUT /certificates/{id}              DescribeCertificate, UpdateCertificate
    GET /certificates                       ListCertificates
    GET /certificates-by-ca/{caId}          ListCertificatesByCA
    POST /certificate/register              RegisterCertificate
    POST|GET|DELETE /things/{name}          CreateThing, DescribeThing, DeleteThing
    GET /things                             ListThings
    PUT|DELETE|GET /things/{name}/principals  Attach/DetachThingPrincipal, ListThingPrincipals
    GET /principals/things                  ListPrincipalThings
    GET /policies                           ListPolicies
    POST|GET|DELETE /policies/{name}        CreatePolicy, GetPolicy, DeletePolicy
    POST|GET /policies/{name}/version       CreatePolicyVersion, ListPolicyVersions
    GET|PATCH|DELETE /policies/{name}/version/{id}
                                            GetPolicyVersion, SetDefaultPolicyVersion,
                                            DeletePolicyVersion
    PUT|POST /target-policies/{name}        AttachPolicy, DetachPolicy
    POST /attached-policies/{target}        ListAttachedPolicies
    GET /endpoint                           DescribeEndpoint

Choices where the local registry is stricter or smaller than AWS:
- A CA registration may come without a verification certificate; one that is given must be
  signed by the CA and carry the registration code as its common name (DEFAULT mode).
- Provisioning templates (JITP, `registrationConfig`) and thing types do not exist locally:
  asking for them is refused rather than ignored.
- A thing with principals attached is not deleted (InvalidRequestException).
- A policy document with a `Condition` is refused (InvalidRequestException): the local
  stand-in does not evaluate conditions, and ignoring one would allow more than AWS does.

Policies are refused as AWS IoT refuses them (swan.local.core.policy_rules has the limits and
their sources): a name that is not 1-128 of `[a-zA-Z0-9_+=,.@-]` (InvalidRequestException);
a document over 2,048 characters without whitespace, not JSON, or without Version,
Statement, Effect, Action or Resource (MalformedPolicyException); a sixth version
(VersionsLimitExceededException); an eleventh policy for one target (LimitExceededException).
"""

from __future__ import annotations

import base64
import binascii
import functools
import logging
import re
from datetime import UTC, datetime
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Final, TypeVar

from swan.certs import checks
from swan.certs.authority import certificate_id, load_certificate_pem
from swan.certs.errors import InvalidPemError, UnfitCertificateError
from swan.core.errors import InvalidThingNameError, SwanError
from swan.core.names import check_thing_name
from swan.local.httpapi import (
    IOT_ERRORS,
    ApiError,
    JsonApi,
    Request,
    Response,
    ServerLimits,
)
from swan.local.registry_errors import (
    InvalidCertificateError,
    RegistryDatabaseError,
    RegistryError,
    ResourceConflictError,
    UnknownResourceError,
)
from swan.local.registry_store import CA_STATUSES, CERTIFICATE_STATUSES

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from cryptography import x509

    from swan.adapters.clock import Clock
    from swan.local.registry import Registry
    from swan.local.registry_store import (
        CaRecord,
        CertificateRecord,
        PolicyRecord,
        PolicyVersionRecord,
        ThingRecord,
    )

log = logging.getLogger(__name__)

MAX_PAGE: Final = 250
DEFAULT_PAGE: Final = 25
DATA_ENDPOINTS: Final = ("iot:Data", "iot:Data-ATS")
OTHER_ENDPOINTS: Final = ("iot:CredentialProvider", "iot:Jobs")
# Statuses AWS keeps for itself: UpdateCertificate refuses to set them.
INTERNAL_STATUSES: Final = ("PENDING_TRANSFER", "PENDING_ACTIVATION")
_HEX_ID: Final = re.compile(r"[0-9a-fA-F]{64}")
_VERSION_ID: Final = re.compile(r"[0-9]{1,18}")  # botocore's PolicyVersionId: [0-9]+
_SEGMENT: Final = r"[^/]+"
_T = TypeVar("_T")


class ControlPlaneError(SwanError, OSError):
    """The HTTP API cannot listen where it was told to."""

    def __init__(self, host: str, port: int, cause: object) -> None:
        self.host = host
        self.port = port
        super().__init__(f"the iot control-plane API cannot listen on {host}:{port}: {cause}")


class ControlPlane:
    """The iot REST API over `registry`, served on a thread (`start`, `stop`)."""

    def __init__(
        self,
        registry: Registry,
        clock: Clock,
        *,
        endpoint_address: str = "localhost",
        host: str = "127.0.0.1",
        port: int = 0,
        limits: ServerLimits | None = None,
    ) -> None:
        self.registry = registry
        self.endpoint_address = endpoint_address
        self._clock = clock
        try:
            self.api = JsonApi("iot", host, port, errors=IOT_ERRORS, limits=limits)
        except OSError as error:
            raise ControlPlaneError(host, port, error) from error
        for method, pattern, handler in self._routes():
            self.api.route(method, pattern, _answering_errors(handler))

    @property
    def url(self) -> str:
        return self.api.url

    def start(self) -> None:
        self.api.start()

    def stop(self) -> None:
        self.api.stop()

    def _routes(self) -> list[tuple[str, str, Callable[[Request], Response]]]:
        ca = rf"/cacertificate/(?P<ca>{_SEGMENT})"
        certificate = rf"/certificates/(?P<certificate>{_SEGMENT})"
        thing = rf"/things/(?P<thing>{_SEGMENT})"
        policy = rf"/policies/(?P<policy>{_SEGMENT})"
        version = rf"{policy}/version/(?P<version>{_SEGMENT})"
        target_policy = rf"/target-policies/(?P<policy>{_SEGMENT})"
        return [
            ("POST", "/cacertificate", self.register_ca_certificate),
            ("GET", ca, self.describe_ca_certificate),
            ("PUT", ca, self.update_ca_certificate),
            ("GET", "/cacertificates", self.list_ca_certificates),
            ("GET", "/registrationcode", self.get_registration_code),
            ("GET", certificate, self.describe_certificate),
            ("PUT", certificate, self.update_certificate),
            ("GET", "/certificates", self.list_certificates),
            ("GET", rf"/certificates-by-ca/(?P<ca>{_SEGMENT})", self.list_certificates_by_ca),
            ("POST", "/certificate/register", self.register_certificate),
            ("POST", thing, self.create_thing),
            ("GET", thing, self.describe_thing),
            ("DELETE", thing, self.delete_thing),
            ("GET", "/things", self.list_things),
            ("PUT", f"{thing}/principals", self.attach_thing_principal),
            ("DELETE", f"{thing}/principals", self.detach_thing_principal),
            ("GET", f"{thing}/principals", self.list_thing_principals),
            ("GET", "/principals/things", self.list_principal_things),
            ("GET", "/policies", self.list_policies),
            ("POST", policy, self.create_policy),
            ("GET", policy, self.get_policy),
            ("DELETE", policy, self.delete_policy),
            ("POST", f"{policy}/version", self.create_policy_version),
            ("GET", f"{policy}/version", self.list_policy_versions),
            ("GET", version, self.get_policy_version),
            ("PATCH", version, self.set_default_policy_version),
            ("DELETE", version, self.delete_policy_version),
            ("PUT", target_policy, self.attach_policy),
            ("POST", target_policy, self.detach_policy),
            ("POST", rf"/attached-policies/(?P<target>{_SEGMENT})", self.list_attached_policies),
            ("GET", "/endpoint", self.describe_endpoint),
        ]

    # ------------------------------------------------------------ CA certificates

    def register_ca_certificate(self, request: Request) -> Response:
        body = request.json()
        _refuse_provisioning(body)
        mode = _optional_text(body, "certificateMode") or "DEFAULT"
        if mode not in ("DEFAULT", "SNI_ONLY"):
            raise _invalid(f"certificateMode {mode!r}: use DEFAULT or SNI_ONLY")
        ca = self._certificate(_text(body, "caCertificate"), "caCertificate")
        now = _utc(self._clock.now())
        _fit(lambda: checks.check_ca_certificate(ca, now=now))
        verification_pem = _optional_text(body, "verificationCertificate")
        if verification_pem and mode == "SNI_ONLY":
            raise _invalid("verificationCertificate must be empty in SNI_ONLY mode")
        if verification_pem:
            verification = self._certificate(verification_pem, "verification")
            code = self.registry.registration_code()
            _fit(lambda: checks.check_verification_certificate(verification, ca, code, now=now))
        ca_id = certificate_id(ca)
        existing = self.registry.ca(ca_id)
        if existing is not None:
            raise ResourceConflictError("CA certificate", ca_id, existing.arn, "")
        record = self.registry.register_ca(
            _text(body, "caCertificate"),
            auto_registration=_flag(request.query, "allowAutoRegistration"),
            status="ACTIVE" if _flag(request.query, "setAsActive") else "INACTIVE",
        )
        log.info("CA %s registered (%s)", record.id, record.status)
        return Response(200, {"certificateArn": record.arn, "certificateId": record.id})

    def describe_ca_certificate(self, request: Request) -> Response:
        record = self._ca(request.params["ca"])
        certificate = record.certificate
        description = {
            "certificateArn": record.arn,
            "certificateId": record.id,
            "status": record.status,
            "certificatePem": record.pem,
            "ownedBy": self.registry.account_id,
            "creationDate": record.created_at,
            "lastModifiedDate": record.last_modified,
            "autoRegistrationStatus": "ENABLE" if record.auto_registration else "DISABLE",
            "customerVersion": 1,
            "validity": _validity(certificate),
        }
        return Response(200, {"certificateDescription": description})

    def update_ca_certificate(self, request: Request) -> Response:
        body = request.json()
        _refuse_provisioning(body)
        ca_id = self._ca(request.params["ca"]).id
        status = request.query.get("newStatus")
        if status is not None and status not in CA_STATUSES:
            raise _invalid(f"newStatus {status!r}: use one of {', '.join(CA_STATUSES)}")
        auto = request.query.get("newAutoRegistrationStatus")
        if auto is not None and auto not in ("ENABLE", "DISABLE"):
            raise _invalid(f"newAutoRegistrationStatus {auto!r}: use ENABLE or DISABLE")
        self.registry.set_ca(
            ca_id,
            status=status,
            auto_registration=None if auto is None else auto == "ENABLE",
        )
        return Response(200, {})

    def list_ca_certificates(self, request: Request) -> Response:
        records = _ordered(self.registry.cas(), request.query)
        page, marker = _page(records, request.query, "pageSize", "marker")
        listed = [
            {
                "certificateArn": ca.arn,
                "certificateId": ca.id,
                "status": ca.status,
                "creationDate": ca.created_at,
            }
            for ca in page
        ]
        return Response(200, _with_next({"certificates": listed}, "nextMarker", marker))

    def get_registration_code(self, _request: Request) -> Response:
        return Response(200, {"registrationCode": self.registry.registration_code()})

    # ------------------------------------------------------------ device certificates

    def describe_certificate(self, request: Request) -> Response:
        record = self._device_certificate(request.params["certificate"])
        description: dict[str, Any] = {
            "certificateArn": record.arn,
            "certificateId": record.id,
            "status": record.status,
            "certificatePem": record.pem,
            "ownedBy": self.registry.account_id,
            "creationDate": record.created_at,
            "lastModifiedDate": record.last_modified,
            "customerVersion": 1,
            "transferData": {},
            "validity": _validity(record.certificate),
            "certificateMode": "DEFAULT",
        }
        if record.ca_id is not None:
            description["caCertificateId"] = record.ca_id
        return Response(200, {"certificateDescription": description})

    def update_certificate(self, request: Request) -> Response:
        cert_id = _certificate_id(request.params["certificate"])
        status = request.query.get("newStatus")
        if status is None:
            raise _invalid("newStatus is required")
        if status in INTERNAL_STATUSES:
            raise _invalid(f"{status} is a status AWS IoT sets itself; it cannot be set")
        if status not in CERTIFICATE_STATUSES:
            raise _invalid(f"newStatus {status!r}: use ACTIVE, INACTIVE or REVOKED")
        self.registry.set_certificate_status(cert_id, status)
        return Response(200, {})

    def list_certificates(self, request: Request) -> Response:
        return self._certificate_list(self.registry.certificates(), request.query)

    def list_certificates_by_ca(self, request: Request) -> Response:
        ca_id = _certificate_id(request.params["ca"])
        return self._certificate_list(self.registry.certificates(ca_id=ca_id), request.query)

    def register_certificate(self, request: Request) -> Response:
        body = request.json()
        pem = _text(body, "certificatePem")
        certificate = self._certificate(pem, "certificatePem")
        ca = self._signing_ca(certificate, _optional_text(body, "caCertificatePem"))
        now = _utc(self._clock.now())
        _fit(lambda: checks.check_client_certificate(certificate, ca.certificate, now=now))
        status = _optional_text(body, "status")
        if status is None:
            status = "ACTIVE" if _flag(request.query, "setAsActive") else "INACTIVE"
        if status not in CERTIFICATE_STATUSES:
            raise _invalid(f"status {status!r}: use one of {', '.join(CERTIFICATE_STATUSES)}")
        existing = self.registry.certificate(certificate_id(certificate))
        if existing is not None:
            raise ResourceConflictError("certificate", existing.id, existing.arn, "")
        record = self.registry.register_certificate(
            pem,
            ca_id=ca.id,
            status=status,
        )
        return Response(200, {"certificateArn": record.arn, "certificateId": record.id})

    # ------------------------------------------------------------ things

    def create_thing(self, request: Request) -> Response:
        name = _thing_name(request.params["thing"])
        body = request.json()
        for unsupported in ("thingTypeName", "billingGroupName"):
            if body.get(unsupported):
                raise ApiError(
                    404,
                    "ResourceNotFoundException",
                    f"{unsupported} {body[unsupported]!r} does not exist (none do locally)",
                )
        thing = self.registry.create_thing(name, _attributes(body))
        return Response(
            200, {"thingName": thing.name, "thingArn": thing.arn, "thingId": thing.thing_id}
        )

    def describe_thing(self, request: Request) -> Response:
        thing = self._thing(request.params["thing"])
        return Response(
            200,
            {
                "defaultClientId": thing.name,
                "thingName": thing.name,
                "thingId": thing.thing_id,
                "thingArn": thing.arn,
                "attributes": thing.attributes,
                "version": thing.version,
            },
        )

    def delete_thing(self, request: Request) -> Response:
        name = _thing_name(request.params["thing"])
        expected = _optional_int(request.query, "expectedVersion")
        self.registry.delete_thing(name, expected_version=expected)
        return Response(200, {})

    def list_things(self, request: Request) -> Response:
        query = request.query
        things = self.registry.things()
        if query.get("thingTypeName"):
            things = []  # there are no thing types locally
        attribute = query.get("attributeName")
        if attribute:
            value = query.get("attributeValue")
            prefix = _flag(query, "usePrefixAttributeValue")
            things = [t for t in things if _attribute_matches(t, attribute, value, prefix=prefix)]
        page, token = _page(things, query, "maxResults", "nextToken")
        listed = [
            {
                "thingName": t.name,
                "thingArn": t.arn,
                "attributes": t.attributes,
                "version": t.version,
            }
            for t in page
        ]
        return Response(200, _with_next({"things": listed}, "nextToken", token))

    def attach_thing_principal(self, request: Request) -> Response:
        thing = _thing_name(request.params["thing"])
        self.registry.attach_thing_principal(thing, _principal(request))
        return Response(200, {})

    def detach_thing_principal(self, request: Request) -> Response:
        thing = _thing_name(request.params["thing"])
        self.registry.detach_thing_principal(thing, _principal(request))
        return Response(200, {})

    def list_thing_principals(self, request: Request) -> Response:
        thing = _thing_name(request.params["thing"])
        principals = self.registry.thing_principals(thing)
        page, token = _page(principals, request.query, "maxResults", "nextToken")
        return Response(200, _with_next({"principals": page}, "nextToken", token))

    def list_principal_things(self, request: Request) -> Response:
        principal = self._known_principal(_principal(request))
        things = self.registry.principal_things(principal)
        page, token = _page(things, request.query, "maxResults", "nextToken")
        return Response(200, _with_next({"things": page}, "nextToken", token))

    # ------------------------------------------------------------ policies

    def create_policy(self, request: Request) -> Response:
        name = request.params["policy"]
        policy = self.registry.create_policy(name, _policy_document(request.json()))
        return Response(
            200,
            {
                "policyName": policy.name,
                "policyArn": policy.arn,
                "policyDocument": policy.document,
                "policyVersionId": policy.version_id,
            },
        )

    def get_policy(self, request: Request) -> Response:
        policy = self._policy(request.params["policy"])
        return Response(
            200,
            {
                "policyName": policy.name,
                "policyArn": policy.arn,
                "policyDocument": policy.document,
                "defaultVersionId": policy.version_id,
                "creationDate": policy.created_at,
                "lastModifiedDate": policy.last_modified,
            },
        )

    def delete_policy(self, request: Request) -> Response:
        self.registry.delete_policy(request.params["policy"])
        return Response(200, {})

    def list_policies(self, request: Request) -> Response:
        policies = sorted(self.registry.policies(), key=lambda p: p.created_at)
        page, marker = _page(_ordered(policies, request.query), request.query, "pageSize", "marker")
        listed = [{"policyName": p.name, "policyArn": p.arn} for p in page]
        return Response(200, _with_next({"policies": listed}, "nextMarker", marker))

    def create_policy_version(self, request: Request) -> Response:
        version = self.registry.create_policy_version(
            request.params["policy"],
            _policy_document(request.json()),
            set_as_default=_flag(request.query, "setAsDefault"),
        )
        return Response(
            200,
            {
                "policyArn": version.arn,
                "policyDocument": version.document,
                "policyVersionId": version.version_id,
                "isDefaultVersion": version.is_default,
            },
        )

    def list_policy_versions(self, request: Request) -> Response:
        versions = self.registry.policy_versions(request.params["policy"])
        listed = [
            {
                "versionId": v.version_id,
                "isDefaultVersion": v.is_default,
                "createDate": v.created_at,
            }
            for v in versions
        ]
        return Response(200, {"policyVersions": listed})

    def get_policy_version(self, request: Request) -> Response:
        version = self._policy_version(request)
        return Response(
            200,
            {
                "policyArn": version.arn,
                "policyName": version.policy,
                "policyDocument": version.document,
                "policyVersionId": version.version_id,
                "isDefaultVersion": version.is_default,
                "creationDate": version.created_at,
                "lastModifiedDate": version.created_at,  # a version never changes
            },
        )

    def set_default_policy_version(self, request: Request) -> Response:
        self.registry.set_default_policy_version(
            request.params["policy"], _version_id(request.params["version"])
        )
        return Response(200, {})

    def delete_policy_version(self, request: Request) -> Response:
        self.registry.delete_policy_version(
            request.params["policy"], _version_id(request.params["version"])
        )
        return Response(200, {})

    def attach_policy(self, request: Request) -> Response:
        target = _text(request.json(), "target")
        self.registry.attach_policy(request.params["policy"], target)
        return Response(200, {})

    def detach_policy(self, request: Request) -> Response:
        target = _text(request.json(), "target")
        self.registry.detach_policy(request.params["policy"], target)
        return Response(200, {})

    def list_attached_policies(self, request: Request) -> Response:
        target = self._known_principal(request.params["target"])
        policies = self.registry.attached_policies(target)
        page, marker = _page(policies, request.query, "pageSize", "marker")
        listed = [{"policyName": p.name, "policyArn": p.arn} for p in page]
        return Response(200, _with_next({"policies": listed}, "nextMarker", marker))

    # ------------------------------------------------------------ endpoint

    def describe_endpoint(self, request: Request) -> Response:
        kind = request.query.get("endpointType") or "iot:Data"
        if kind in OTHER_ENDPOINTS:
            raise _invalid(f"the {kind} endpoint is not served locally")
        if kind not in DATA_ENDPOINTS:
            raise _invalid(f"endpointType {kind!r} is not valid")
        return Response(200, {"endpointAddress": self.endpoint_address})

    # ------------------------------------------------------------ helpers

    def _certificate(self, pem: str, field: str) -> x509.Certificate:
        try:
            return load_certificate_pem(pem.encode(), field)
        except InvalidPemError as error:
            raise InvalidCertificateError(str(error)) from None

    def _signing_ca(self, certificate: x509.Certificate, ca_pem: str | None) -> CaRecord:
        if ca_pem is None:
            found = self.registry.ca_for(certificate)
            if found is None:
                raise InvalidCertificateError("no registered CA certificate signed it")
            return found
        ca_id = certificate_id(self._certificate(ca_pem, "caCertificatePem"))
        ca = self.registry.ca(ca_id)
        if ca is None:
            raise InvalidCertificateError(f"the CA certificate {ca_id} is not registered")
        return ca

    def _ca(self, raw_id: str) -> CaRecord:
        ca_id = _certificate_id(raw_id)
        record = self.registry.ca(ca_id)
        if record is None:
            raise UnknownResourceError("CA certificate", ca_id)
        return record

    def _device_certificate(self, raw_id: str) -> CertificateRecord:
        cert_id = _certificate_id(raw_id)
        record = self.registry.certificate(cert_id)
        if record is None:
            raise UnknownResourceError("certificate", cert_id)
        return record

    def _policy(self, name: str) -> PolicyRecord:
        policy = self.registry.policy(name)
        if policy is None:
            raise UnknownResourceError("policy", name)
        return policy

    def _policy_version(self, request: Request) -> PolicyVersionRecord:
        return self.registry.policy_version(
            request.params["policy"], _version_id(request.params["version"])
        )

    def _thing(self, raw_name: str) -> ThingRecord:
        name = _thing_name(raw_name)
        thing = self.registry.thing(name)
        if thing is None:
            raise UnknownResourceError("thing", name)
        return thing

    def _known_principal(self, principal: str) -> str:
        """A certificate ARN must name a registered certificate; other principals pass."""
        if ":cert/" in principal:
            cert_id = self.registry.certificate_id_of(principal)
            if cert_id is None or self.registry.certificate(cert_id) is None:
                raise UnknownResourceError("certificate", principal)
        return principal

    def _certificate_list(
        self, records: list[CertificateRecord], query: Mapping[str, str]
    ) -> Response:
        page, marker = _page(_ordered(records, query), query, "pageSize", "marker")
        listed = [
            {
                "certificateArn": c.arn,
                "certificateId": c.id,
                "status": c.status,
                "certificateMode": "DEFAULT",
                "creationDate": c.created_at,
            }
            for c in page
        ]
        return Response(200, _with_next({"certificates": listed}, "nextMarker", marker))


# ---------------------------------------------------------------- errors, by type


def _answering_errors(handler: Callable[[Request], Response]) -> Callable[[Request], Response]:
    """The one place registry errors become AWS errors."""

    @functools.wraps(handler)
    def answer(request: Request) -> Response:
        try:
            return handler(request)
        except RegistryError as error:
            return _error_response(error)

    return answer


def _error_response(error: RegistryError) -> Response:
    """Each kind of registry error names its AWS error (`aws_error`)."""
    status, kind = error.aws_error
    extra: dict[str, str] = {}
    if isinstance(error, ResourceConflictError):
        extra = {"resourceId": error.name, "resourceArn": error.arn}
    if status >= HTTPStatus.INTERNAL_SERVER_ERROR:
        if isinstance(error, RegistryDatabaseError):
            log.error("iot API: %s", error)
        else:
            log.error("iot API: unexpected registry error: %s", error)
    return Response(status, {"message": str(error), **extra}, {"x-amzn-ErrorType": kind})


def _invalid(message: str) -> ApiError:
    return ApiError(400, "InvalidRequestException", message)


# ---------------------------------------------------------------- request parts


def _text(body: Mapping[str, Any], name: str) -> str:
    value = _optional_text(body, name)
    if value is None:
        raise _invalid(f"{name} is required")
    return value


def _optional_text(body: Mapping[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _invalid(f"{name} must be a string")
    return value


def _flag(query: Mapping[str, str], name: str) -> bool:
    value = query.get(name, "false").lower()
    if value not in ("true", "false"):
        raise _invalid(f"{name} must be true or false")
    return value == "true"


def _optional_int(query: Mapping[str, str], name: str) -> int | None:
    value = query.get(name)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise _invalid(f"{name} must be a whole number") from None


def _policy_document(body: Mapping[str, Any]) -> str:
    """The request's policy document, as given (an empty one is the registry's to refuse)."""
    document = body.get("policyDocument")
    if not isinstance(document, str):
        raise _invalid("policyDocument is required, as a string")
    return document


def _version_id(raw: str) -> int:
    if not _VERSION_ID.fullmatch(raw):
        raise _invalid(f"policy version id {raw!r}: a number")
    return int(raw)


def _certificate_id(raw: str) -> str:
    if not _HEX_ID.fullmatch(raw):
        raise _invalid(f"certificate id {raw!r}: 64 hexadecimal digits")
    return raw.lower()


def _thing_name(raw: str) -> str:
    try:
        return check_thing_name(raw)
    except InvalidThingNameError as error:
        raise _invalid(str(error)) from None


def _principal(request: Request) -> str:
    principal = request.headers.get("x-amzn-principal")
    if not principal:
        raise _invalid("the x-amzn-principal header is required")
    return principal


def _attributes(body: Mapping[str, Any]) -> dict[str, str]:
    payload = body.get("attributePayload") or {}
    attributes = payload.get("attributes") if isinstance(payload, dict) else None
    if attributes is None:
        return {}
    if not isinstance(attributes, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in attributes.items()
    ):
        raise _invalid("attributePayload.attributes must map names to strings")
    return attributes


def _refuse_provisioning(body: Mapping[str, Any]) -> None:
    if body.get("registrationConfig"):
        raise _invalid("provisioning templates (JITP, registrationConfig) do not run locally")


def _attribute_matches(thing: ThingRecord, name: str, value: str | None, *, prefix: bool) -> bool:
    if name not in thing.attributes:
        return False
    if value is None:
        return True
    actual = thing.attributes[name]
    return actual.startswith(value) if prefix else actual == value


# ---------------------------------------------------------------- responses


def _ordered(records: list[_T], query: Mapping[str, str]) -> list[_T]:
    """Oldest first with `isAscendingOrder=true`, else newest first."""
    return records if _flag(query, "isAscendingOrder") else records[::-1]


def _page(
    items: Sequence[_T], query: Mapping[str, str], size_name: str, marker_name: str
) -> tuple[list[_T], str | None]:
    """One page of `items` and the marker of the next page (None on the last one)."""
    size = _optional_int(query, size_name)
    size = DEFAULT_PAGE if size is None else size
    if not 1 <= size <= MAX_PAGE:
        raise _invalid(f"{size_name} must be 1 to {MAX_PAGE}")
    start = _decode_marker(query.get(marker_name), marker_name)
    end = start + size
    marker = base64.b64encode(str(end).encode()).decode() if end < len(items) else None
    return list(items[start:end]), marker


def _decode_marker(marker: str | None, name: str) -> int:
    if not marker:
        return 0
    try:
        start = int(base64.b64decode(marker, validate=True).decode())
    except (ValueError, binascii.Error):
        start = -1
    if start < 0:
        raise _invalid(f"{name} is not one this API gave out")
    return start


def _with_next(body: dict[str, Any], name: str, marker: str | None) -> dict[str, Any]:
    return body if marker is None else {**body, name: marker}


def _validity(certificate: x509.Certificate) -> dict[str, float]:
    return {
        "notBefore": certificate.not_valid_before_utc.timestamp(),
        "notAfter": certificate.not_valid_after_utc.timestamp(),
    }


def _fit(check: Callable[[], None]) -> None:
    """Run one of AWS IoT's certificate checks (swan.certs.checks), answering as AWS does."""
    try:
        check()
    except UnfitCertificateError as error:
        if error.fault == "wrong_registration_code":
            raise ApiError(400, "RegistrationCodeValidationException", str(error)) from None
        raise InvalidCertificateError(str(error)) from None


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)
