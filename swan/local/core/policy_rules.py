"""What AWS IoT's control plane accepts as an IoT policy, and how a policy's versions move.

`swan.local.core.policy` says what a policy allows; this module says which policies AWS IoT stores
at all, the rules `CreatePolicy`, `CreatePolicyVersion` and `AttachPolicy` enforce:

- A policy name is 1 to 128 of `[a-zA-Z0-9_+=,.@-]` (`swan.core.names.POLICY_NAME`).
- A policy document is 1 to 2,048 characters, whitespace not counted; it is JSON, and
  `swan.local.core.policy.parse_policy` accepts it (a `Version`, statements with an `Effect`, an
  `Action` and a `Resource`). Sources: the `policyDocument` member of
  https://docs.aws.amazon.com/iot/latest/apireference/API_CreatePolicy.html and
  https://docs.aws.amazon.com/iot/latest/apireference/API_CreatePolicyVersion.html.
- A policy keeps at most five versions; a sixth is refused (`VersionsLimitExceededException`)
  until one is deleted, and the default version cannot be deleted (the CreatePolicyVersion
  and DeletePolicyVersion API references).
- At most ten policies are attached to one certificate or Amazon Cognito identity
  (`LimitExceededException`): "Maximum number of policies that can be attached to a
  certificate or Amazon Cognito identity", AWS IoT Core quotas,
  https://docs.aws.amazon.com/general/latest/gr/iot-core.html.

Which characters are "whitespace" AWS does not say; here it is every character Python
calls whitespace, inside strings too (the count AWS gives for documents whose strings hold
none, like the template's, is the same either way).

`plan_update` is how CloudFormation updates an `AWS::IoT::Policy` whose document changed
(the resource provider's UpdateHandler, aws-cloudformation-resource-providers-iot,
`aws-iot-policy/.../UpdateHandler.java`): an unchanged document changes nothing; a changed
one becomes a new default version; at five versions the oldest is deleted first (when the
oldest is the default, the newest becomes the default before it goes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from swan.core.errors import SwanError
from swan.core.jsondoc import JsonDecodeFailedError, decode_json, json_equal
from swan.core.names import POLICY_NAME
from swan.local.core.policy import PolicyDocumentError, parse_policy

if TYPE_CHECKING:
    from collections.abc import Sequence

    from swan.local.core.policy import PolicyDocument

MAX_POLICY_NAME_LENGTH: Final = 128
MAX_DOCUMENT_CHARACTERS: Final = 2048
"""Characters of a policy document, whitespace not counted (CreatePolicy, CreatePolicyVersion)."""
MAX_POLICY_VERSIONS: Final = 5
"""Versions one policy keeps (CreatePolicyVersion)."""
MAX_POLICIES_PER_TARGET: Final = 10
"""Policies attached to one certificate or Cognito identity (AWS IoT Core quotas)."""


class PolicyNameError(SwanError, ValueError):
    """A policy name AWS IoT refuses (the API answers InvalidRequestException)."""

    def __init__(self, name: str, problem: str) -> None:
        self.name = name
        self.problem = problem
        super().__init__(f"invalid policy name {name!r}: {problem}")


class PolicyTooLongError(PolicyDocumentError):
    """A document over the size AWS IoT stores (the API answers MalformedPolicyException)."""

    def __init__(self, characters: int) -> None:
        self.characters = characters
        self.limit = MAX_DOCUMENT_CHARACTERS
        super().__init__(
            "document",
            f"{characters:,} characters without whitespace; AWS IoT allows at most "
            f"{MAX_DOCUMENT_CHARACTERS:,}",
        )


class PolicyVersionsLimitError(SwanError, ValueError):
    """A policy has all the versions it may have (VersionsLimitExceededException)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.limit = MAX_POLICY_VERSIONS
        super().__init__(
            f"policy {name!r} already has the maximum of {MAX_POLICY_VERSIONS} versions;"
            " delete one (DeletePolicyVersion) before creating another"
        )


class PolicyAttachmentLimitError(SwanError, ValueError):
    """A target has all the policies it may have attached (LimitExceededException)."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.limit = MAX_POLICIES_PER_TARGET
        super().__init__(
            f"{target} already has the maximum of {MAX_POLICIES_PER_TARGET} policies attached"
        )


# ---------------------------------------------------------------- names and documents


def check_policy_name(name: str) -> str:
    """`name`, if AWS IoT takes it as a policy name; else `PolicyNameError`."""
    if not name:
        raise PolicyNameError(name, "it is empty")
    if len(name) > MAX_POLICY_NAME_LENGTH:
        raise PolicyNameError(name, f"longer than {MAX_POLICY_NAME_LENGTH} characters")
    if not POLICY_NAME.fullmatch(name):
        raise PolicyNameError(name, "use only letters, digits and _+=,.@-")
    return name


def document_size(document: str) -> int:
    """The size AWS IoT holds a policy document to: its characters, whitespace not counted."""
    return sum(not character.isspace() for character in document)


def check_policy_document(document: str) -> PolicyDocument:
    """The parsed document, if AWS IoT would store it; else `PolicyDocumentError`.

    `UnsupportedPolicyError` (a subclass) means AWS would take it but The Swan cannot
    evaluate it (a `Condition`): refused here, rather than allowing more than AWS would.
    """
    size = document_size(document)
    if size == 0:
        raise PolicyDocumentError("document", "it is empty")
    if size > MAX_DOCUMENT_CHARACTERS:
        raise PolicyTooLongError(size)
    return parse_policy(decode_policy(document))


def decode_policy(document: str) -> Any:
    """The JSON value of a policy document's text; `PolicyDocumentError` if it is not JSON."""
    try:
        return decode_json(document)
    except (JsonDecodeFailedError, RecursionError) as error:
        problem = "nested too deeply" if isinstance(error, RecursionError) else str(error)
        raise PolicyDocumentError("document", f"not JSON: {problem}") from None


# ---------------------------------------------------------------- limits on counts


def check_new_version(name: str, versions: int) -> None:
    """Refuse a new version of a policy that has `versions` already."""
    if versions >= MAX_POLICY_VERSIONS:
        raise PolicyVersionsLimitError(name)


def check_attachment(target: str, attached: int) -> None:
    """Refuse another policy for a target that has `attached` already."""
    if attached >= MAX_POLICIES_PER_TARGET:
        raise PolicyAttachmentLimitError(target)


# ---------------------------------------------------------------- CloudFormation's update


@dataclass(frozen=True)
class StoredVersion:
    """One version of a stored policy: its id, whether it is the default, its JSON value."""

    version_id: int
    is_default: bool
    document: Any


@dataclass(frozen=True)
class Unchanged:
    """The default version already holds the document: nothing to do."""


@dataclass(frozen=True)
class NewDefaultVersion:
    """Create the document as a new default version, after deleting `retire` if it is set
    (the oldest, to stay within the five versions a policy keeps)."""

    retire: int | None = None


def plan_update(versions: Sequence[StoredVersion], document: Any) -> Unchanged | NewDefaultVersion:
    """What CloudFormation does to a policy holding `versions` to make `document` (a JSON
    value) its policy: nothing if the default version holds it already, else a new default
    version, deleting the oldest first when the policy has all the versions it may have."""
    if any(v.is_default and json_equal(v.document, document) for v in versions):
        return Unchanged()
    if len(versions) < MAX_POLICY_VERSIONS:
        return NewDefaultVersion()
    return NewDefaultVersion(retire=min(v.version_id for v in versions))
