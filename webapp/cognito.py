"""Cognito unauthenticated credentials for the web backend (boto3 `cognito-identity`).

The backend asks the stack's identity pool for an identity once (`GetId`) and for that
identity's temporary credentials whenever it needs new ones (`GetCredentialsForIdentity`).
Both calls are public: no keys on the machine, so the client does not sign its requests.
The credentials can do what the pool's unauthenticated role allows, nothing else.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Final

from swan.core.errors import SwanError
from webapp.credentials import Credentials

if TYPE_CHECKING:
    from collections.abc import Callable

log = logging.getLogger(__name__)

# The identity is gone or no longer welcome: ask the pool for a new one (once).
IDENTITY_LOST: Final = frozenset({"ResourceNotFoundException", "NotAuthorizedException"})


class CognitoError(SwanError, ConnectionError):
    """A Cognito call failed; `code` is AWS's error code when it answered with one."""

    def __init__(self, call: str, cause: object, code: str | None = None) -> None:
        self.call = call
        self.cause = cause
        self.code = code
        super().__init__(f"Cognito {call} failed: {cause}")


def cognito_client(region: str) -> Any:
    """A boto3 `cognito-identity` client that sends unsigned requests (the calls used here
    need no credentials, and the machine has none)."""
    import boto3  # noqa: PLC0415  (boto3 only where the AWS mode runs)
    from botocore import UNSIGNED  # noqa: PLC0415
    from botocore.config import Config  # noqa: PLC0415

    return boto3.client(
        "cognito-identity", region_name=region, config=Config(signature_version=UNSIGNED)
    )


class CognitoIdentity:
    """One unauthenticated identity of `identity_pool_id`; `fetch` gets its credentials."""

    def __init__(self, client: Any, identity_pool_id: str, clock: Callable[[], float]) -> None:
        self._client = client
        self._pool = identity_pool_id
        self._clock = clock
        self.identity_id: str | None = None

    def fetch(self) -> Credentials:
        """New temporary credentials; CognitoError says which call failed and why."""
        known = self.identity_id is not None
        try:
            return self._credentials(self._identity())
        except CognitoError as error:
            if not known or error.code not in IDENTITY_LOST:
                raise
            log.warning(
                "Cognito identity %s lost (%s), asking for a new one", self.identity_id, error
            )
            self.identity_id = None
            return self._credentials(self._identity())

    def _identity(self) -> str:
        if self.identity_id is None:
            answer = self._call("GetId", self._client.get_id, IdentityPoolId=self._pool)
            self.identity_id = str(answer["IdentityId"])
            log.info("Cognito identity %s from pool %s", self.identity_id, self._pool)
        return self.identity_id

    def _credentials(self, identity_id: str) -> Credentials:
        fetched_at = self._clock()
        answer = self._call(
            "GetCredentialsForIdentity",
            self._client.get_credentials_for_identity,
            IdentityId=identity_id,
        )
        try:
            found = answer["Credentials"]
            return Credentials(
                access_key_id=str(found["AccessKeyId"]),
                secret_access_key=str(found["SecretKey"]),
                session_token=str(found["SessionToken"]),
                expiration=found["Expiration"].timestamp(),
                fetched_at=fetched_at,
            )
        except (KeyError, TypeError, AttributeError) as error:
            raise CognitoError(
                "GetCredentialsForIdentity", f"unexpected answer: {error!r}"
            ) from error

    def _call(self, name: str, call: Callable[..., Any], **parameters: str) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

        try:
            return call(**parameters)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code")
            raise CognitoError(name, error, code) from error
        except BotoCoreError as error:
            raise CognitoError(name, error) from error
