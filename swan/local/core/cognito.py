"""Amazon Cognito identity pools, as the two public calls a browser makes see them: `GetId`
for an unauthenticated identity, then `GetCredentialsForIdentity` for the pool's
unauthenticated role (the "enhanced" flow).

Pure rules, no I/O: what a request must look like, which pool configuration lets an
unauthenticated identity in, whether the role's trust policy lets Cognito assume it, and
AWS's answer when it does not. `swan.local.cognito` serves them.

Requests are checked as the botocore model of `cognito-identity` (2014-06-30) declares them,
and refused as AWS's JSON 1.1 front end refuses them, all with HTTP 400:
- a member of the wrong JSON type: `SerializationException`;
- a member missing, too short, too long or off its pattern: `ValidationException`,
  "1 validation error detected: Value 'x' at 'identityPoolId' failed to satisfy constraint:
  Member must satisfy regular expression pattern: [\\w-]+:[0-9a-f-]+" (several joined with
  "; " after "N validation errors detected: "), as AWS answered it in
  https://github.com/aws/amazon-freertos/issues/1829 and
  https://github.com/hashicorp/terraform/issues/22474 (member names in lowerCamelCase).

The service's own answers, with the messages AWS sends:
- an unknown pool: `ResourceNotFoundException`, "IdentityPool 'us-east-1:...' not found."
  (https://github.com/awslabs/aws-sdk-android-samples/issues/163);
- an unknown identity: `ResourceNotFoundException`, "Identity 'us-west-2:...' not found."
  (https://github.com/aws-amplify/amplify-js/issues/2301);
- a pool without unauthenticated access: `NotAuthorizedException`, "Unauthenticated access
  is not supported for this identity pool." (https://github.com/aws/aws-sdk-js-v3/issues/3113);
- a `Logins` entry for a provider the pool does not name: `NotAuthorizedException`, "Token is
  not from a supported provider of this identity pool."
  (https://github.com/aws-amplify/amplify-flutter/issues/851);
- more requests of an operation in a second than the account's quota for it:
  `TooManyRequestsException`, "Rate exceeded" (the model's "Thrown when a request is
  throttled"; the message as Cognito sends it, https://github.com/aws-amplify/amplify-js/issues/13608);
- no unauthenticated role, or one whose trust policy does not let
  `cognito-identity.amazonaws.com` assume it (`sts:AssumeRoleWithWebIdentity`) with `aud` =
  the pool id and `amr` holding `unauthenticated`: `InvalidIdentityPoolConfigurationException`,
  "Invalid identity pool configuration. Check assigned IAM roles for this pool." (the model's
  documentation of that error; the trust policy is Amazon Cognito's own example,
  https://docs.aws.amazon.com/cognito/latest/developerguide/role-trust-and-permissions.html).

Credentials issued this way are an assumed-role session named `CognitoIdentityCredentials`:
`arn:aws:sts::<account>:assumed-role/<role name>/CognitoIdentityCredentials`, as CloudTrail
and IAM's refusals show them (https://github.com/igvteam/igv/pull/691,
https://github.com/aws-amplify/amplify-js/issues/1643).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from swan.core.errors import SwanError
from swan.core.tokenbucket import refilled
from swan.local.core.policy import COGNITO_IDENTITY_VARIABLE, Decision
from swan.local.core.trust import trust_decision

if TYPE_CHECKING:
    from swan.local.core.iam import RequestContext
    from swan.local.core.trust import TrustStatement

TARGET_PREFIX: Final = "AWSCognitoIdentityService"
GET_ID: Final = f"{TARGET_PREFIX}.GetId"
GET_CREDENTIALS_FOR_IDENTITY: Final = f"{TARGET_PREFIX}.GetCredentialsForIdentity"

COGNITO_IDENTITY: Final = "cognito-identity.amazonaws.com"
ASSUME_ROLE_ACTION: Final = "sts:AssumeRoleWithWebIdentity"
AUDIENCE_KEY: Final = f"{COGNITO_IDENTITY}:aud"
AUTHENTICATION_METHODS_KEY: Final = f"{COGNITO_IDENTITY}:amr"
SUBJECT_KEY: Final = COGNITO_IDENTITY_VARIABLE  # the identity id, in policies and trust alike
UNAUTHENTICATED: Final = "unauthenticated"
SESSION_NAME: Final = "CognitoIdentityCredentials"

# The model's IdentityPoolId and IdentityId: 1 to 55 characters, REGION:GUID. Java's \w
# (Coral validates with java.util.regex) is ASCII only.
ID_PATTERN_TEXT: Final = r"[\w-]+:[0-9a-f-]+"
_ID_PATTERN: Final = re.compile(ID_PATTERN_TEXT, re.ASCII)
_ACCOUNT_PATTERN_TEXT: Final = r"\d+"
_ACCOUNT_PATTERN: Final = re.compile(_ACCOUNT_PATTERN_TEXT, re.ASCII)

SERIALIZATION: Final = "SerializationException"
VALIDATION: Final = "ValidationException"
RESOURCE_NOT_FOUND: Final = "ResourceNotFoundException"
NOT_AUTHORIZED: Final = "NotAuthorizedException"
INVALID_CONFIGURATION: Final = "InvalidIdentityPoolConfigurationException"
TOO_MANY_REQUESTS: Final = "TooManyRequestsException"
RATE_EXCEEDED: Final = "Rate exceeded"
UNAUTHENTICATED_NOT_SUPPORTED: Final = (
    "Unauthenticated access is not supported for this identity pool."
)
UNSUPPORTED_PROVIDER: Final = "Token is not from a supported provider of this identity pool."
INVALID_CONFIGURATION_MESSAGE: Final = (
    "Invalid identity pool configuration. Check assigned IAM roles for this pool."
)


class CognitoError(SwanError, ValueError):
    """What Cognito Identity answers a request it refuses: the error type and message (HTTP
    400, as every one of its client errors)."""

    status: Final = 400

    def __init__(self, error_type: str, message: str) -> None:
        self.error_type = error_type
        self.message = message
        super().__init__(f"{error_type}: {message}")


def pool_not_found(pool_id: str) -> CognitoError:
    return CognitoError(RESOURCE_NOT_FOUND, f"IdentityPool '{pool_id}' not found.")


def identity_not_found(identity_id: str) -> CognitoError:
    return CognitoError(RESOURCE_NOT_FOUND, f"Identity '{identity_id}' not found.")


# ---------------------------------------------------------------- pools and roles


@dataclass(frozen=True)
class PoolRole:
    """A role an identity pool hands out: its ARN and its trust policy."""

    logical_id: str
    arn: str
    trust: tuple[TrustStatement, ...]

    @property
    def name(self) -> str:
        return self.arn.rsplit("/", 1)[-1]

    @property
    def session_arn(self) -> str:
        """Who signs with credentials Cognito issued for this role."""
        account = self.arn.split(":")[4]
        return f"arn:aws:sts::{account}:assumed-role/{self.name}/{SESSION_NAME}"


@dataclass(frozen=True)
class IdentityPool:
    """An identity pool as the template deploys it."""

    logical_id: str
    pool_id: str
    name: str
    allow_unauthenticated: bool
    login_providers: frozenset[str] = frozenset()
    unauthenticated_role: PoolRole | None = None

    @property
    def region(self) -> str:
        return self.pool_id.split(":", 1)[0]


def require_unauthenticated_access(pool: IdentityPool) -> None:
    """AWS's refusal when the pool takes no unauthenticated identities."""
    if not pool.allow_unauthenticated:
        raise CognitoError(NOT_AUTHORIZED, UNAUTHENTICATED_NOT_SUPPORTED)


def unauthenticated_role(pool: IdentityPool, identity_id: str) -> PoolRole:
    """The role credentials for `identity_id` carry, or the `CognitoError` AWS answers."""
    require_unauthenticated_access(pool)
    role = pool.unauthenticated_role
    if role is None:
        raise CognitoError(INVALID_CONFIGURATION, INVALID_CONFIGURATION_MESSAGE)
    context: RequestContext = {
        AUDIENCE_KEY: pool.pool_id,
        AUTHENTICATION_METHODS_KEY: (UNAUTHENTICATED,),
        SUBJECT_KEY: identity_id,
    }
    principal = f"Federated:{COGNITO_IDENTITY}"
    if trust_decision(role.trust, principal, ASSUME_ROLE_ACTION, context) is not Decision.ALLOW:
        raise CognitoError(INVALID_CONFIGURATION, INVALID_CONFIGURATION_MESSAGE)
    return role


def check_logins(pool: IdentityPool, logins: Mapping[str, str]) -> None:
    """An unauthenticated caller names no login; a provider the pool does not have is
    refused as AWS refuses it. Tokens of the pool's own providers cannot be checked here
    (no identity provider runs locally): refused too, saying so."""
    if any(provider not in pool.login_providers for provider in logins):
        raise CognitoError(NOT_AUTHORIZED, UNSUPPORTED_PROVIDER)
    if logins:
        raise CognitoError(
            NOT_AUTHORIZED, "Invalid login token. Authenticated identities are not served locally."
        )


# ---------------------------------------------------------------- requests


@dataclass(frozen=True)
class GetIdRequest:
    pool_id: str
    account_id: str | None = None
    logins: Mapping[str, str] | None = None


@dataclass(frozen=True)
class GetCredentialsRequest:
    identity_id: str
    logins: Mapping[str, str] | None = None
    custom_role_arn: str | None = None


@dataclass(frozen=True)
class _Text:
    """A string member's constraints in the model."""

    name: str  # as the validation message names it
    minimum: int = 0
    maximum: int | None = None
    pattern: re.Pattern[str] | None = None
    required: bool = False


_ID_MAX: Final = 55
_POOL_ID: Final = _Text("identityPoolId", 1, _ID_MAX, _ID_PATTERN, required=True)
_IDENTITY_ID: Final = _Text("identityId", 1, _ID_MAX, _ID_PATTERN, required=True)
_ACCOUNT_ID: Final = _Text("accountId", 1, 15, _ACCOUNT_PATTERN)
_CUSTOM_ROLE_ARN: Final = _Text("customRoleArn", 20, 2048)
_LOGINS_MAX: Final = 10
_PROVIDER_MAX: Final = 128
_TOKEN_MAX: Final = 50000


def get_id_request(body: Mapping[str, Any]) -> GetIdRequest:
    """`GetId`'s input, or the `CognitoError` AWS answers it with."""
    problems: list[str] = []
    pool_id = _text(body, "IdentityPoolId", _POOL_ID, problems)
    account_id = _text(body, "AccountId", _ACCOUNT_ID, problems)
    logins = _logins(body, problems)
    _raise_validation(problems)
    return GetIdRequest(str(pool_id), account_id, logins)


def get_credentials_request(body: Mapping[str, Any]) -> GetCredentialsRequest:
    """`GetCredentialsForIdentity`'s input, or the `CognitoError` AWS answers it with."""
    problems: list[str] = []
    identity_id = _text(body, "IdentityId", _IDENTITY_ID, problems)
    logins = _logins(body, problems)
    custom_role_arn = _text(body, "CustomRoleArn", _CUSTOM_ROLE_ARN, problems)
    _raise_validation(problems)
    return GetCredentialsRequest(str(identity_id), logins, custom_role_arn)


def _raise_validation(problems: list[str]) -> None:
    if problems:
        count = len(problems)
        detected = f"{count} validation error{'s' if count > 1 else ''} detected: "
        raise CognitoError(VALIDATION, detected + "; ".join(problems))


def _failed(value: str | None, name: str, constraint: str) -> str:
    shown = "null" if value is None else f"'{value}'"
    return f"Value {shown} at '{name}' failed to satisfy constraint: {constraint}"


def _text(body: Mapping[str, Any], member: str, rule: _Text, problems: list[str]) -> str | None:
    value = body.get(member)
    if value is None:  # JSON null is an absent member
        if rule.required:
            problems.append(_failed(None, rule.name, "Member must not be null"))
        return None
    if not isinstance(value, str):
        raise CognitoError(SERIALIZATION, f"{member}: expected a string, found {_kind(value)}")
    if rule.maximum is not None and len(value) > rule.maximum:
        constraint = f"Member must have length less than or equal to {rule.maximum}"
        problems.append(_failed(value, rule.name, constraint))
    if len(value) < rule.minimum:
        constraint = f"Member must have length greater than or equal to {rule.minimum}"
        problems.append(_failed(value, rule.name, constraint))
    if rule.pattern is not None and rule.pattern.fullmatch(value) is None:
        constraint = f"Member must satisfy regular expression pattern: {rule.pattern.pattern}"
        problems.append(_failed(value, rule.name, constraint))
    return value


def _logins(body: Mapping[str, Any], problems: list[str]) -> Mapping[str, str] | None:
    value = body.get("Logins")
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise CognitoError(SERIALIZATION, f"Logins: expected a map, found {_kind(value)}")
    for provider, token in value.items():
        if not isinstance(token, str):
            raise CognitoError(SERIALIZATION, f"Logins.{provider}: expected a string")
    # The tokens are sensitive in the model: the message does not repeat the map.
    failed = "Value at 'logins' failed to satisfy constraint: "
    if len(value) > _LOGINS_MAX:
        problems.append(f"{failed}Member must have length less than or equal to {_LOGINS_MAX}")
    if not all(1 <= len(provider) <= _PROVIDER_MAX for provider in value):
        problems.append(f"{failed}Map keys must satisfy constraint: {_lengths(_PROVIDER_MAX)}")
    if not all(1 <= len(token) <= _TOKEN_MAX for token in value.values()):
        problems.append(f"{failed}Map value must satisfy constraint: {_lengths(_TOKEN_MAX)}")
    return dict(value)


def _lengths(maximum: int) -> str:
    return (
        f"[Member must have length less than or equal to {maximum},"
        " Member must have length greater than or equal to 1]"
    )


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, Mapping):
        return "an object"
    return "a string"


def is_identity_id(text: str) -> bool:
    """Whether `text` has the shape of an identity or pool id (REGION:GUID, 1-55 chars)."""
    return len(text) <= _ID_MAX and _ID_PATTERN.fullmatch(text) is not None


# ---------------------------------------------------------------- answers


def credentials_answer(
    identity_id: str,
    access_key_id: str,
    secret_key: str,
    session_token: str,
    expiration: int,
) -> dict[str, Any]:
    """`GetCredentialsForIdentity`'s output; `Expiration` in epoch seconds, as the JSON
    protocol writes a timestamp (the AWS SDK for JavaScript reads it with
    `parseEpochTimestamp(expectNumber(...))`, so it must be a JSON number)."""
    return {
        "IdentityId": identity_id,
        "Credentials": {
            "AccessKeyId": access_key_id,
            "SecretKey": secret_key,
            "SessionToken": session_token,
            "Expiration": expiration,
        },
    }


# ---------------------------------------------------------------- request rate quotas


@dataclass(frozen=True)
class RequestQuotas:
    """How many requests a second one account may make of each operation in a Region:
    Amazon Cognito's "identity pools (federated identities) API operation request rate
    quotas" (https://docs.aws.amazon.com/cognito/latest/developerguide/quotas.html): GetId
    25, GetCredentialsForIdentity 200, both adjustable on request. A second's worth may
    come at once; beyond that a request is refused, not queued."""

    get_id: float = 25.0
    get_credentials_for_identity: float = 200.0

    def per_second(self, target: str) -> float:
        return self.get_id if target == GET_ID else self.get_credentials_for_identity


@dataclass(frozen=True)
class Budget:
    """What is left of an operation's quota (`tokens`) as of `at` (epoch seconds)."""

    tokens: float
    at: float


def spend(budget: Budget | None, per_second: float, now: float) -> Budget:
    """The budget after one more request at `now` (None: none made yet, a full second's
    worth), or `TooManyRequestsException` when the quota has none left."""
    tokens = (
        per_second
        if budget is None
        else refilled(budget.tokens, budget.at, now, rate=per_second, capacity=per_second)
    )
    if tokens < 1:
        raise CognitoError(TOO_MANY_REQUESTS, RATE_EXCEEDED)
    return Budget(tokens - 1, now)
