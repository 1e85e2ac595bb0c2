"""What the device registry refuses, each with the error AWS IoT answers (`aws_error`: the
HTTP status and botocore's error type) that the control plane sends and `swan up` names."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from swan.adapters.sqlite import DatabaseError
from swan.core.errors import SwanError
from swan.local.core.policy_rules import PolicyAttachmentLimitError, PolicyVersionsLimitError

if TYPE_CHECKING:
    from swan.local.core.policy import PolicyDocumentError, UnsupportedPolicyError


class RegistryError(SwanError):
    """Base of what the registry refuses. `aws_error` is what AWS IoT answers with for each
    kind (HTTP status, botocore's error type): the control plane sends it, and `swan up`
    names it."""

    aws_error: ClassVar[tuple[int, str]] = (500, "InternalFailureException")


class RegistryDatabaseError(RegistryError, DatabaseError):
    """The database file cannot be opened, read or written: it names the file."""

    what = "device registry database"


class UnknownResourceError(RegistryError, LookupError):
    aws_error = (404, "ResourceNotFoundException")

    def __init__(self, kind: str, name: str) -> None:
        self.kind = kind
        self.name = name
        super().__init__(f"no {kind} {name!r} is registered")


class ResourceConflictError(RegistryError, ValueError):
    """The resource exists, differently from what was asked for."""

    aws_error = (409, "ResourceAlreadyExistsException")

    def __init__(self, kind: str, name: str, arn: str, problem: str) -> None:
        self.kind = kind
        self.name = name
        self.arn = arn
        super().__init__(" ".join(filter(None, (f"{kind} {name!r} already exists", problem))))


class CertificateStateError(RegistryError, ValueError):
    """A status change AWS does not allow: nothing leaves REVOKED."""

    aws_error = (406, "CertificateStateException")

    def __init__(self, certificate_id: str, status: str, new_status: str) -> None:
        self.certificate_id = certificate_id
        self.status = status
        self.new_status = new_status
        super().__init__(f"certificate {certificate_id} is {status}; it cannot become {new_status}")


class InvalidCertificateError(RegistryError, ValueError):
    """A PEM that is not a certificate, or not one the operation can take."""

    aws_error = (400, "CertificateValidationException")

    def __init__(self, problem: str) -> None:
        self.problem = problem
        super().__init__(f"invalid certificate: {problem}")


class InvalidValueError(RegistryError, ValueError):
    """A name, status or document of the wrong shape."""

    aws_error = (400, "InvalidRequestException")

    def __init__(self, field: str, value: object, problem: str) -> None:
        self.field = field
        self.value = value
        self.problem = problem
        super().__init__(f"invalid {field} {value!r}: {problem}")


class InvalidPolicyError(InvalidValueError):
    """A policy document AWS IoT refuses (swan.local.core.policy_rules); `where` names the part."""

    aws_error = (400, "MalformedPolicyException")

    def __init__(self, name: str, error: PolicyDocumentError) -> None:
        self.where = error.where
        problem = error.problem if error.where == "document" else f"{error.where}: {error.problem}"
        super().__init__("policy document of", name, problem)


class UnsupportedPolicyDocumentError(InvalidValueError):
    """A document AWS IoT would store but the stand-in cannot evaluate (a Condition): refused,
    so that nothing is allowed here that AWS would deny."""

    def __init__(self, name: str, error: UnsupportedPolicyError) -> None:
        self.where = error.where
        super().__init__(
            "policy document of", name, f"{error.where}: {error.problem} (not evaluated locally)"
        )


class PolicyConflictError(RegistryError, ValueError):
    """A policy or version that cannot be deleted as it stands: the default version, or a
    policy still attached or with versions besides its default."""

    aws_error = (409, "DeleteConflictException")

    def __init__(self, name: str, problem: str) -> None:
        self.name = name
        self.problem = problem
        super().__init__(f"policy {name!r} cannot be deleted: {problem}")


class TooManyVersionsError(RegistryError, PolicyVersionsLimitError):
    aws_error = (409, "VersionsLimitExceededException")


class TooManyPoliciesError(RegistryError, PolicyAttachmentLimitError):
    aws_error = (410, "LimitExceededException")


class ThingInUseError(RegistryError, ValueError):
    aws_error = (400, "InvalidRequestException")

    def __init__(self, name: str, principals: list[str]) -> None:
        self.name = name
        self.principals = principals
        super().__init__(
            f"thing {name!r} still has {len(principals)} principal(s) attached; detach them first"
        )


class VersionMismatchError(RegistryError, ValueError):
    aws_error = (409, "VersionConflictException")

    def __init__(self, name: str, version: int, expected: int) -> None:
        self.name = name
        self.version = version
        self.expected = expected
        super().__init__(f"thing {name!r} is at version {version}, not {expected}")


class PolicyDeploymentError(RegistryError, ValueError):
    """A template's policy that AWS IoT would refuse, as CloudFormation reports it: the
    resource, and the AWS error type and message that fail it."""

    def __init__(self, logical_id: str, error: RegistryError) -> None:
        self.logical_id = logical_id
        self.error = error
        super().__init__(f"{logical_id} (AWS::IoT::Policy) failed: {error.aws_error[1]}: {error}")
