"""What a SigV4-signed request claims, read and checked without any cryptography.

A request carries its signature either in the `Authorization` header or, presigned, in the
query string. Before a signature is recomputed the claim around it must hold: the shape
AWS defines, a credential scope for this API's region and service on the request's own
date, a time within AWS's skew, and `host` among the signed headers. Each failure is a
`SignatureRefusedError` naming a `Refusal` (what went wrong) and carrying AWS's message;
which HTTP error type each API answers with is its server's business.

AWS's documents:
- the shape and the scope: "Elements of an AWS API request signature" and "Create a signed
  AWS API request", https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-signing-elements.html
  and https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html
- the skew: "In most cases, a request must reach AWS within five minutes of the time stamp
  in the request. Otherwise, AWS denies the request." (Protect against potential replay
  attacks, https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_aws-signing.html)
- the presigned URL's lifetime, at most 604,800 seconds (seven days): X-Amz-Expires in
  https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html
- the messages are the ones AWS's front end answers with (quoted in
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-troubleshooting.html:
  "Missing Authentication Token", "The request signature we calculated does not match the
  signature you provided"); the rest as AWS's endpoints word them.
"""

from __future__ import annotations

import enum
import ipaddress
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Final

from swan.core.errors import SwanError

if TYPE_CHECKING:
    from collections.abc import Mapping

ALGORITHM: Final = "AWS4-HMAC-SHA256"
TERMINATOR: Final = "aws4_request"
AMZ_DATE_FORMAT: Final = "%Y%m%dT%H%M%SZ"
ALLOWED_SKEW: Final = timedelta(minutes=5)
MAX_PRESIGNED_EXPIRES: Final = 604_800

MISMATCH_MESSAGE: Final = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. "
    "Consult the service documentation for details."
)
INVALID_TOKEN_MESSAGE: Final = "The security token included in the request is invalid."  # noqa: S105
EXPIRED_TOKEN_MESSAGE: Final = "The security token included in the request is expired"  # noqa: S105

_AMZ_DATE = re.compile(r"\d{8}T\d{6}Z")
_SIGNATURE = re.compile(r"[0-9a-f]{64}")


class Refusal(enum.Enum):
    """Why a request's signature is refused; each API maps these to its own error types."""

    MISSING = "missing"  # no signature at all
    INCOMPLETE = "incomplete"  # a signature whose shape is not SigV4's
    UNKNOWN_KEY = "unknown key"  # an access key id, or a session token, nobody issued
    EXPIRED_TOKEN = "expired token"  # noqa: S105  temporary credentials past their expiry
    INVALID = "invalid"  # scope, time or the signature itself is wrong


class SignatureRefusedError(SwanError, PermissionError):
    """A request AWS would refuse before reading it: `refusal` says why, `message` as AWS."""

    def __init__(self, refusal: Refusal, message: str) -> None:
        self.refusal = refusal
        self.message = message
        super().__init__(f"{refusal.value}: {message}")


@dataclass(frozen=True)
class SignedClaim:
    """The signature and what the signer says about it, from the header or the query."""

    access_key_id: str
    scope_date: str  # YYYYMMDD
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str
    amz_date: str  # YYYYMMDD'T'HHMMSS'Z'
    expires: int | None = None  # seconds, presigned URLs only


def parse_authorization(header: str, amz_date: str | None) -> SignedClaim:
    """The claim of an `Authorization: AWS4-HMAC-SHA256 Credential=...` header."""
    algorithm, _, rest = header.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise SignatureRefusedError(
            Refusal.INCOMPLETE,
            f"Unsupported Authorization Type. Only {ALGORITHM} is supported.",
        )
    fields: dict[str, str] = {}
    for part in rest.split(","):
        name, equals, value = part.strip().partition("=")
        if equals:
            fields[name] = value
    missing = [
        f"Authorization header requires '{name}' parameter."
        for name in ("Credential", "Signature", "SignedHeaders")
        if not fields.get(name)
    ]
    if amz_date is None:
        missing.append("Authorization header requires existence of either a 'X-Amz-Date' header.")
    if missing:
        raise SignatureRefusedError(
            Refusal.INCOMPLETE, " ".join([*missing, f"Authorization={header}"])
        )
    assert amz_date is not None  # noqa: S101  (narrowed by `missing` above)
    return _claim(fields["Credential"], fields["SignedHeaders"], fields["Signature"], amz_date)


def parse_presigned(query: Mapping[str, str], *, expires_required: bool = True) -> SignedClaim:
    """The claim of a presigned URL's `X-Amz-*` query parameters (already URL-decoded).

    Without `expires_required` a URL may leave X-Amz-Expires out (AWS IoT's WebSocket
    endpoint takes the URL the AWS IoT Device SDKs presign with none); it is then good for
    the five minutes of skew only."""
    names = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-SignedHeaders")
    missing = [name for name in (*names, "X-Amz-Date") if not query.get(name)]
    if missing:
        raise SignatureRefusedError(
            Refusal.INCOMPLETE,
            "AWS query-string parameters must include "
            + ", ".join(f"'{name}'" for name in missing)
            + ". Re-examine the query-string parameters.",
        )
    if query["X-Amz-Algorithm"] != ALGORITHM:
        raise SignatureRefusedError(
            Refusal.INCOMPLETE,
            f"X-Amz-Algorithm only supports '{ALGORITHM}'",
        )
    given = query.get("X-Amz-Expires")
    expires = None if given is None and not expires_required else _expires(given)
    claim = _claim(
        query["X-Amz-Credential"],
        query["X-Amz-SignedHeaders"],
        query["X-Amz-Signature"],
        query["X-Amz-Date"],
    )
    return SignedClaim(**{**claim.__dict__, "expires": expires})


def check_claim(claim: SignedClaim, *, region: str, service: str, now: datetime) -> None:
    """The scope names this API's region and service on the request's date; the request
    is within AWS's skew of `now` (a presigned URL: not past its expiry either); `host`
    is signed."""
    if claim.scope_date != claim.amz_date[:8]:
        raise SignatureRefusedError(
            Refusal.INVALID,
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
            f"from HTTP: '{claim.scope_date}' != '{claim.amz_date[:8]}', from "
            f"'{claim.amz_date}'.",
        )
    if claim.region != region:
        raise SignatureRefusedError(
            Refusal.INVALID, f"Credential should be scoped to a valid region, not '{claim.region}'."
        )
    if claim.service != service:
        raise SignatureRefusedError(
            Refusal.INVALID, f"Credential should be scoped to correct service: '{service}'."
        )
    if "host" not in claim.signed_headers:
        raise SignatureRefusedError(
            Refusal.INCOMPLETE, "'Host' must be a 'SignedHeader' in the AWS Authorization."
        )
    _check_time(claim, now)


def _check_time(claim: SignedClaim, now: datetime) -> None:
    signed_at = datetime.strptime(claim.amz_date, AMZ_DATE_FORMAT).replace(tzinfo=UTC)
    if signed_at - now > ALLOWED_SKEW:
        raise SignatureRefusedError(
            Refusal.INVALID,
            f"Signature not yet current: {claim.amz_date} is still later than "
            f"{_stamp(now + ALLOWED_SKEW)} ({_stamp(now)} + 5 min.)",
        )
    if claim.expires is not None:
        if now > signed_at + timedelta(seconds=claim.expires):
            raise SignatureRefusedError(
                Refusal.INVALID,
                f"Signature expired: {claim.amz_date} is now earlier than {_stamp(now)} "
                f"(X-Amz-Expires={claim.expires})",
            )
    elif now - signed_at > ALLOWED_SKEW:
        raise SignatureRefusedError(
            Refusal.INVALID,
            f"Signature expired: {claim.amz_date} is now earlier than "
            f"{_stamp(now - ALLOWED_SKEW)} ({_stamp(now)} - 5 min.)",
        )


def is_loopback_host(host: str | None) -> bool:
    """Whether a `Host` header names this machine by a loopback name (127.0.0.1, any of
    127/8, localhost, [::1]), with or without a port: anything else is a page that
    rebound its own DNS name to 127.0.0.1, and is refused before anything else."""
    if not host:
        return False
    name, port = _split_host(host.strip())
    if port is not None and not (port.isdigit() and 0 < int(port) < 65536):  # noqa: PLR2004
        return False
    if name.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _split_host(host: str) -> tuple[str, str | None]:
    if host.startswith("["):
        name, bracket, rest = host[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            return "", None
        return name, rest[1:] if rest else None
    name, colon, port = host.partition(":")
    return name, port if colon else None


def _claim(credential: str, signed_headers: str, signature: str, amz_date: str) -> SignedClaim:
    parts = credential.split("/")
    if len(parts) != 5 or parts[4] != TERMINATOR or not all(parts):  # noqa: PLR2004
        raise SignatureRefusedError(
            Refusal.INCOMPLETE,
            f"Credential should have 5 parts and end with '{TERMINATOR}': '{credential}'",
        )
    if not _AMZ_DATE.fullmatch(amz_date) or not _valid_date(amz_date):
        raise SignatureRefusedError(
            Refusal.INCOMPLETE,
            f"Date must be in ISO-8601 'basic format'. Got '{amz_date}'. See "
            "http://en.wikipedia.org/wiki/ISO_8601",
        )
    if not _SIGNATURE.fullmatch(signature):
        raise SignatureRefusedError(Refusal.INVALID, MISMATCH_MESSAGE)
    access_key_id, scope_date, region, service, _ = parts
    headers = tuple(signed_headers.split(";"))
    return SignedClaim(access_key_id, scope_date, region, service, headers, signature, amz_date)


def _valid_date(amz_date: str) -> bool:
    try:
        datetime.strptime(amz_date, AMZ_DATE_FORMAT)  # noqa: DTZ007  (the format ends in Z)
    except ValueError:
        return False
    return True


def _expires(value: str | None) -> int:
    if value is None or not value.isdigit():
        raise SignatureRefusedError(
            Refusal.INCOMPLETE,
            "X-Amz-Expires must be a non-negative integer number of seconds",
        )
    seconds = int(value)
    if seconds > MAX_PRESIGNED_EXPIRES:
        raise SignatureRefusedError(
            Refusal.INCOMPLETE,
            f"X-Amz-Expires must be less than a week (in seconds) that is {MAX_PRESIGNED_EXPIRES}",
        )
    return seconds


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(AMZ_DATE_FORMAT)
