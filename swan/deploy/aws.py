"""The AWS side of `swan deploy`, through boto3: the account, the device CA's registration
with AWS IoT (just-in-time registration), the IoT endpoint, the stack's outputs, the site's
upload to S3 and the CloudFront invalidation. Tested against moto."""

from __future__ import annotations

import mimetypes
import time
import uuid
import zipfile
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from swan.certs.authority import certificate_id, certificate_pem
from swan.core.errors import SwanError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
    from datetime import datetime
    from pathlib import Path

    from swan.certs.files import CertificateStore

ACTIVE: Final = "ACTIVE"
ENABLE: Final = "ENABLE"
# index.html names the hashed asset files of one export: it must never be served stale.
NO_CACHE: Final = "no-cache"
LONG_CACHE: Final = "public, max-age=31536000, immutable"
S3_DELETE_BATCH: Final = 1000


class StackNotDeployedError(SwanError, LookupError):
    def __init__(self, stack: str, detail: str) -> None:
        self.stack = stack
        super().__init__(f"stack {stack}: {detail}")


class AnotherSwanError(SwanError, ValueError):
    """The region already has The Swan's button thing, made by another stack (or by hand)."""

    def __init__(self, stack: str, thing: str) -> None:
        self.stack = stack
        self.thing = thing
        super().__init__(
            f"this account's region already has the thing {thing!r} of another Swan stack (or"
            f" one made by hand), so stack {stack} would fail on it: AWS IoT thing names and"
            " topic rules are per account and region, and a second Swan would share the first"
            " one's button shadow and topic rules; deploy that stack again, or use another"
            " --region"
        )


class UnsafeArchiveError(SwanError, ValueError):
    def __init__(self, archive: Path, member: str) -> None:
        self.archive = archive
        self.member = member
        super().__init__(f"{archive}: {member} would be unpacked outside the site")


@dataclass(frozen=True)
class RegisteredCa:
    certificate_id: str
    reused: bool  # the account had it already


def account_id(sts: Any) -> str:
    return str(sts.get_caller_identity()["Account"])


def _same_certificate(first: str, second: str) -> bool:
    return first.strip().replace("\r\n", "\n") == second.strip().replace("\r\n", "\n")


def _describe_ca(iot: Any, certificate_id: str) -> dict[str, Any] | None:
    try:
        response = iot.describe_ca_certificate(certificateId=certificate_id)
    except iot.exceptions.ResourceNotFoundException:
        return None
    return dict(response["certificateDescription"])


def _switch_on(iot: Any, description: Mapping[str, Any]) -> None:
    """ACTIVE, with auto-registration: what just-in-time registration needs of the CA."""
    if description.get("status") != ACTIVE or description.get("autoRegistrationStatus") != ENABLE:
        iot.update_ca_certificate(
            certificateId=description["certificateId"],
            newStatus=ACTIVE,
            newAutoRegistrationStatus=ENABLE,
        )


def register_ca(
    iot: Any, store: CertificateStore, *, now: datetime, known: Iterable[str] = ()
) -> RegisteredCa:
    """Register the store's CA with AWS IoT for just-in-time registration, once.

    The account may have it already: under an id a previous deployment recorded (`known`),
    or under the id AWS gives a certificate (the SHA-256 of its DER); it is then kept, and
    made ACTIVE with auto-registration if it was not. Otherwise: the account's registration
    code, a verification certificate with it as common name signed by the CA (kept in the
    store), and the registration itself.
    """
    ca = store.ensure_ca(now=now)
    pem = certificate_pem(ca.issued.certificate).decode()
    for candidate in (*known, certificate_id(ca.issued.certificate)):
        description = _describe_ca(iot, candidate)
        if description is not None and _same_certificate(description["certificatePem"], pem):
            _switch_on(iot, description)
            return RegisteredCa(candidate, reused=True)
    code = iot.get_registration_code()["registrationCode"]
    verification = store.create_verification(code, now=now, force=True)
    try:
        registered = iot.register_ca_certificate(
            caCertificate=pem,
            verificationCertificate=certificate_pem(verification.issued.certificate).decode(),
            setAsActive=True,
            allowAutoRegistration=True,
            certificateMode="DEFAULT",
        )
    except iot.exceptions.ResourceAlreadyExistsException as error:
        existing = str(error.response.get("resourceId", ""))
        description = _describe_ca(iot, existing) if existing else None
        if description is None:
            raise
        _switch_on(iot, description)
        return RegisteredCa(existing, reused=True)
    return RegisteredCa(str(registered["certificateId"]), reused=False)


def check_one_swan(iot: Any, cloudformation: Callable[[], Any], stack: str, thing: str) -> None:
    """Raise `AnotherSwanError` if `thing` exists but is not the ButtonThing of `stack`.

    Thing names are unique per account and region
    (https://docs.aws.amazon.com/iot/latest/apireference/API_CreateThing.html), and the
    template's topic rules listen on fixed topics: one Swan per region.
    """
    try:
        iot.describe_thing(thingName=thing)
    except iot.exceptions.ResourceNotFoundException:
        return
    client = cloudformation()
    try:
        detail = client.describe_stack_resource(StackName=stack, LogicalResourceId="ButtonThing")
    except client.exceptions.ClientError:
        raise AnotherSwanError(stack, thing) from None
    if detail["StackResourceDetail"].get("PhysicalResourceId") != thing:
        raise AnotherSwanError(stack, thing)


def iot_endpoint(iot: Any) -> str:
    """The account's device endpoint (Amazon Root CA 1 signs its certificate)."""
    return str(iot.describe_endpoint(endpointType="iot:Data-ATS")["endpointAddress"])


def stack_outputs(cloudformation: Any, stack: str) -> dict[str, str]:
    try:
        stacks = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    except cloudformation.exceptions.ClientError as error:
        raise StackNotDeployedError(stack, "not found (did sam deploy finish?)") from error
    outputs = stacks[0].get("Outputs", [])
    return {output["OutputKey"]: output["OutputValue"] for output in outputs}


def unpack_site(archive: Path, directory: Path) -> list[Path]:
    """The files of `reflex export`'s frontend.zip, unpacked into `directory`."""
    with zipfile.ZipFile(archive) as site:
        for member in site.namelist():
            target = (directory / member).resolve()
            if not target.is_relative_to(directory.resolve()):
                raise UnsafeArchiveError(archive, member)
        site.extractall(directory)
    return sorted(path for path in directory.rglob("*") if path.is_file())


def upload_site(s3: Any, bucket: str, directory: Path) -> tuple[int, int]:
    """Put every file under `directory` into `bucket` and remove what is not there any more;
    (files uploaded, files removed)."""
    files = sorted(path for path in directory.rglob("*") if path.is_file())
    keys = set()
    for path in files:
        key = path.relative_to(directory).as_posix()
        keys.add(key)
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        cache = NO_CACHE if path.suffix in (".html", ".json", ".txt", ".xml") else LONG_CACHE
        s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=path.read_bytes(),
            ContentType=content_type,
            CacheControl=cache,
        )
    stale = [
        item["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        for item in page.get("Contents", [])
        if item["Key"] not in keys
    ]
    for start in range(0, len(stale), S3_DELETE_BATCH):
        batch = stale[start : start + S3_DELETE_BATCH]
        s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": key} for key in batch]})
    return len(files), len(stale)


def invalidate(cloudfront: Any, distribution_id: str) -> str:
    """Invalidate the whole site; the invalidation's id."""
    response = cloudfront.create_invalidation(
        DistributionId=distribution_id,
        InvalidationBatch={
            "Paths": {"Quantity": 1, "Items": ["/*"]},
            "CallerReference": f"swan-deploy-{time.time_ns()}-{uuid.uuid4().hex[:8]}",
        },
    )
    return str(response["Invalidation"]["Id"])
