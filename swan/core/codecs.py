"""The messages that cross the wire, as values: `from_payload` parses, `to_payload` builds.

Every `from_payload` takes raw bytes, text or an already decoded mapping and raises
`InvalidPayloadError` (a `ValueError`) naming the bad field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Final, Literal, get_args

from swan.core import names
from swan.core.countdown import CLICK_TYPES, ClickType, RefusalReason
from swan.core.errors import InvalidPayloadError
from swan.core.fields import Payload, PayloadReader

if TYPE_CHECKING:
    from collections.abc import Mapping

CLIENT_TOKEN_MAX_BYTES: Final = 64
# The hardware sends e.g. "1650mV"; AWS's own examples also show "2000 mV".
_BATTERY = re.compile(r"\s*(\d{1,5})\s*mV\s*", re.IGNORECASE)

PushSource = Literal["pi", "cli", "web"]
RejectionReason = RefusalReason | Literal["invalid_request"]
REJECTION_REASONS: Final[tuple[RejectionReason, ...]] = (
    *get_args(RefusalReason),
    "invalid_request",
)
PUSH_SOURCES: Final[tuple[PushSource, ...]] = get_args(PushSource)


@dataclass(frozen=True)
class ButtonClick:
    """What an AWS IoT Button publishes on `iotbutton/<serialNumber>`."""

    serial_number: str
    click_type: ClickType
    battery_millivolts: int | None = None

    KIND: ClassVar[str] = "IoT Button click"

    @classmethod
    def from_payload(cls, payload: Payload) -> ButtonClick:
        fields = PayloadReader.decode(cls.KIND, payload)
        serial = fields.string("serialNumber")
        if not names.BUTTON_SERIAL.fullmatch(serial):
            fields.fail("serialNumber", "must be 1-64 letters and digits")
        battery = fields.optional_string("batteryVoltage")
        millivolts = None
        if battery is not None:
            match = _BATTERY.fullmatch(battery)
            if match is None:
                fields.fail("batteryVoltage", 'must be millivolts like "1650mV"')
            millivolts = int(match.group(1))
        return cls(serial, fields.choice("clickType", CLICK_TYPES), millivolts)

    def to_payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = {"serialNumber": self.serial_number, "clickType": self.click_type}
        if self.battery_millivolts is not None:
            payload["batteryVoltage"] = f"{self.battery_millivolts}mV"
        return payload


@dataclass(frozen=True)
class PushRequest:
    """A push from a Pi or the CLI on `swan/push/<thing>`, or from a browser's identity on
    `swan/push/web/<identity id>`."""

    client_token: str
    source: PushSource
    # What was typed at the `>:` prompt, for the `swan` rule set.
    code: str | None = None

    KIND: ClassVar[str] = "push request"

    @classmethod
    def from_payload(cls, payload: Payload) -> PushRequest:
        fields = PayloadReader.decode(cls.KIND, payload)
        return cls(
            client_token=fields.string("clientToken", max_bytes=CLIENT_TOKEN_MAX_BYTES),
            source=fields.choice("source", PUSH_SOURCES),
            code=fields.optional_string("code", max_bytes=64),
        )

    @classmethod
    def answerable_token(cls, payload: Mapping[str, Any]) -> str | None:
        """The client token to echo in the answer to a request that failed to parse: the
        payload's own, when it is one a valid request could carry, else none."""
        try:
            return PayloadReader(cls.KIND, payload).string(
                "clientToken", max_bytes=CLIENT_TOKEN_MAX_BYTES
            )
        except InvalidPayloadError:
            return None

    def to_payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = {"clientToken": self.client_token, "source": self.source}
        if self.code is not None:
            payload["code"] = self.code
        return payload


@dataclass(frozen=True)
class PushAccepted:
    """The answer on `<request topic>/accepted`."""

    client_token: str
    deadline: float
    pushes: int

    KIND: ClassVar[str] = "push accepted"

    @classmethod
    def from_payload(cls, payload: Payload) -> PushAccepted:
        fields = PayloadReader.decode(cls.KIND, payload)
        return cls(
            client_token=fields.string("clientToken", max_bytes=CLIENT_TOKEN_MAX_BYTES),
            deadline=fields.number("deadline"),
            pushes=fields.count("pushes"),
        )

    def to_payload(self) -> dict[str, Any]:
        return {"clientToken": self.client_token, "deadline": self.deadline, "pushes": self.pushes}


@dataclass(frozen=True)
class PushRejected:
    """The answer on `<request topic>/rejected`, with the reason and when to try again."""

    client_token: str | None
    reason: RejectionReason
    message: str
    retry_after: float | None = None

    KIND: ClassVar[str] = "push rejected"

    @classmethod
    def from_payload(cls, payload: Payload) -> PushRejected:
        fields = PayloadReader.decode(cls.KIND, payload)
        return cls(
            client_token=fields.optional_string("clientToken", max_bytes=CLIENT_TOKEN_MAX_BYTES),
            reason=fields.choice("reason", REJECTION_REASONS),
            message=fields.string("message", max_bytes=1024),
            retry_after=fields.optional_number("retryAfter"),
        )

    def to_payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = {"reason": self.reason, "message": self.message}
        if self.client_token is not None:
            payload["clientToken"] = self.client_token
        if self.retry_after is not None:
            payload["retryAfter"] = self.retry_after
        return payload


@dataclass(frozen=True)
class CertificateRegistered:
    """The JITR event AWS publishes on `$aws/events/certificates/registered/<caCertificateId>`."""

    certificate_id: str
    ca_certificate_id: str
    timestamp: int
    certificate_status: str
    aws_account_id: str
    certificate_registration_timestamp: str | None = None

    KIND: ClassVar[str] = "certificate registered event"

    @classmethod
    def from_payload(cls, payload: Payload) -> CertificateRegistered:
        fields = PayloadReader.decode(cls.KIND, payload)
        ids = {name: fields.string(name) for name in ("certificateId", "caCertificateId")}
        for name, value in ids.items():
            if not names.CERTIFICATE_ID.fullmatch(value):
                fields.fail(name, "must be 64 lowercase hex digits")
        return cls(
            certificate_id=ids["certificateId"],
            ca_certificate_id=ids["caCertificateId"],
            timestamp=fields.count("timestamp"),
            certificate_status=fields.string("certificateStatus"),
            aws_account_id=fields.string("awsAccountId"),
            certificate_registration_timestamp=_text_or_none(
                fields, "certificateRegistrationTimestamp"
            ),
        )

    def to_payload(self) -> dict[str, Any]:
        return {
            "certificateId": self.certificate_id,
            "caCertificateId": self.ca_certificate_id,
            "timestamp": self.timestamp,
            "certificateStatus": self.certificate_status,
            "awsAccountId": self.aws_account_id,
            "certificateRegistrationTimestamp": self.certificate_registration_timestamp,
        }


@dataclass(frozen=True)
class ShadowSnapshot:
    """One version of a shadow document as a client sees it."""

    version: int
    desired: dict[str, Any] = field(default_factory=dict)
    reported: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_fields(cls, fields: PayloadReader) -> ShadowSnapshot:
        state = fields.optional_mapping("state")
        desired = state.optional_mapping("desired") if state else None
        reported = state.optional_mapping("reported") if state else None
        return cls(
            version=fields.count("version"),
            desired=dict(desired.data) if desired else {},
            reported=dict(reported.data) if reported else {},
        )


@dataclass(frozen=True)
class ShadowDocuments:
    """`/update/documents`: the shadow before and after an accepted update."""

    previous: ShadowSnapshot | None
    current: ShadowSnapshot
    timestamp: int
    client_token: str | None

    KIND: ClassVar[str] = "shadow documents"

    @classmethod
    def from_payload(cls, payload: Payload) -> ShadowDocuments:
        fields = PayloadReader.decode(cls.KIND, payload)
        previous = fields.optional_mapping("previous")
        return cls(
            previous=ShadowSnapshot.from_fields(previous) if previous else None,
            current=ShadowSnapshot.from_fields(fields.mapping("current")),
            timestamp=fields.count("timestamp"),
            client_token=fields.optional_string("clientToken", max_bytes=CLIENT_TOKEN_MAX_BYTES),
        )


@dataclass(frozen=True)
class ShadowGetAccepted:
    """`/get/accepted`: the whole document (delta included when desired and reported differ)."""

    snapshot: ShadowSnapshot
    delta: dict[str, Any]
    timestamp: int
    client_token: str | None

    KIND: ClassVar[str] = "shadow get accepted"

    @classmethod
    def from_payload(cls, payload: Payload) -> ShadowGetAccepted:
        fields = PayloadReader.decode(cls.KIND, payload)
        state = fields.optional_mapping("state")
        delta = state.optional_mapping("delta") if state else None
        return cls(
            snapshot=ShadowSnapshot.from_fields(fields),
            delta=dict(delta.data) if delta else {},
            timestamp=fields.count("timestamp"),
            client_token=fields.optional_string("clientToken", max_bytes=CLIENT_TOKEN_MAX_BYTES),
        )


@dataclass(frozen=True)
class ShadowDelta:
    """`/update/delta`: the desired values that differ from reported (flat, no wrapper)."""

    state: dict[str, Any]
    version: int
    timestamp: int
    client_token: str | None

    KIND: ClassVar[str] = "shadow delta"

    @classmethod
    def from_payload(cls, payload: Payload) -> ShadowDelta:
        fields = PayloadReader.decode(cls.KIND, payload)
        return cls(
            state=dict(fields.mapping("state").data),
            version=fields.count("version"),
            timestamp=fields.count("timestamp"),
            client_token=fields.optional_string("clientToken", max_bytes=CLIENT_TOKEN_MAX_BYTES),
        )


@dataclass(frozen=True)
class ShadowErrorResponse:
    """`/get|update|delete/rejected`: AWS's error document."""

    code: int
    message: str
    client_token: str | None

    KIND: ClassVar[str] = "shadow error"

    @classmethod
    def from_payload(cls, payload: Payload) -> ShadowErrorResponse:
        fields = PayloadReader.decode(cls.KIND, payload)
        return cls(
            code=fields.count("code"),
            message=fields.string("message", max_bytes=1024),
            client_token=fields.optional_string("clientToken", max_bytes=CLIENT_TOKEN_MAX_BYTES),
        )


def _text_or_none(fields: PayloadReader, name: str) -> str | None:
    # AWS has sent this as a string, a number and null over the years; keep it as text.
    value = fields.data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        fields.fail(name, "must be a string or a number")
    return str(value)
