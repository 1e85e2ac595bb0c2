"""What a SigV4 claim must be before its signature is worth recomputing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from swan.local.core.sigv4 import (
    Refusal,
    SignatureRefusedError,
    SignedClaim,
    check_claim,
    is_loopback_host,
    parse_authorization,
    parse_presigned,
)

NOW = datetime(2025, 11, 25, 12, 0, 0, tzinfo=UTC)
DATE = "20251125T120000Z"
SIGNATURE = "ab" * 32
HEADER = (
    "AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20251125/us-east-1/iot/aws4_request, "
    f"SignedHeaders=host;x-amz-date, Signature={SIGNATURE}"
)


def presigned(**changes: str) -> dict[str, str]:
    query = {
        "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
        "X-Amz-Credential": "ASIAEXAMPLE/20251125/us-east-1/iotdevicegateway/aws4_request",
        "X-Amz-Date": DATE,
        "X-Amz-Expires": "300",
        "X-Amz-SignedHeaders": "host",
        "X-Amz-Signature": SIGNATURE,
    }
    return {key: value for key, value in {**query, **changes}.items() if value}


def refusal(call: object, *args: object, **kwargs: object) -> SignatureRefusedError:
    with pytest.raises(SignatureRefusedError) as caught:
        call(*args, **kwargs)  # type: ignore[operator]
    return caught.value


def test_an_authorization_header_is_read_into_its_claim() -> None:
    assert parse_authorization(HEADER, DATE) == SignedClaim(
        "AKIAEXAMPLE", "20251125", "us-east-1", "iot", ("host", "x-amz-date"), SIGNATURE, DATE
    )


def test_another_algorithm_is_incomplete() -> None:
    error = refusal(parse_authorization, "AWS4-HMAC-SHA512 Credential=x", DATE)
    assert error.refusal is Refusal.INCOMPLETE
    assert isinstance(error, PermissionError)


def test_a_header_lacking_its_parts_names_each_as_aws_does() -> None:
    error = refusal(parse_authorization, "AWS4-HMAC-SHA256 Credential=a, junk", None)
    assert error.refusal is Refusal.INCOMPLETE
    assert "requires 'Signature' parameter" in error.message
    assert "requires 'SignedHeaders' parameter" in error.message
    assert "'X-Amz-Date'" in error.message
    assert "requires 'Credential'" not in error.message


@pytest.mark.parametrize(
    "credential",
    [
        "AKIA/20251125/us-east-1/iot",
        "AKIA/20251125/us-east-1/iot/aws5_request",
        "/20251125/r/s/aws4_request",
    ],
)
def test_a_credential_not_of_five_parts_ending_aws4_request_is_incomplete(credential: str) -> None:
    header = HEADER.replace("AKIAEXAMPLE/20251125/us-east-1/iot/aws4_request", credential)
    assert refusal(parse_authorization, header, DATE).refusal is Refusal.INCOMPLETE


@pytest.mark.parametrize("date", ["2025-11-25T12:00:00Z", "20251325T120000Z"])
def test_a_date_not_in_iso_8601_basic_format_is_incomplete(date: str) -> None:
    assert refusal(parse_authorization, HEADER, date).refusal is Refusal.INCOMPLETE


def test_a_signature_that_is_not_64_hex_digits_cannot_match() -> None:
    header = HEADER.replace(SIGNATURE, "XYZ")
    assert refusal(parse_authorization, header, DATE).refusal is Refusal.INVALID


def test_a_presigned_query_is_read_with_its_expiry() -> None:
    claim = parse_presigned(presigned())
    assert (claim.service, claim.signed_headers, claim.expires) == (
        "iotdevicegateway",
        ("host",),
        300,
    )


def test_a_presigned_query_lacking_parameters_names_them() -> None:
    error = refusal(parse_presigned, presigned(**{"X-Amz-Signature": "", "X-Amz-Date": ""}))
    assert "'X-Amz-Signature', 'X-Amz-Date'" in error.message


def test_a_presigned_query_of_another_algorithm_is_incomplete() -> None:
    error = refusal(parse_presigned, presigned(**{"X-Amz-Algorithm": "AWS4-ECDSA-P256-SHA256"}))
    assert error.refusal is Refusal.INCOMPLETE


@pytest.mark.parametrize("expires", ["", "-1", "soon", "604801"])
def test_a_presigned_expiry_must_be_whole_seconds_up_to_a_week(expires: str) -> None:
    assert (
        refusal(parse_presigned, presigned(**{"X-Amz-Expires": expires})).refusal
        is Refusal.INCOMPLETE
    )


def test_a_presigned_url_may_last_a_week() -> None:
    assert parse_presigned(presigned(**{"X-Amz-Expires": "604800"})).expires == 604_800


def test_a_url_without_an_expiry_is_refused_unless_the_api_allows_it() -> None:
    without = presigned(**{"X-Amz-Expires": ""})
    assert refusal(parse_presigned, without).refusal is Refusal.INCOMPLETE
    claim = parse_presigned(without, expires_required=False)
    assert claim.expires is None
    scope = {"region": "us-east-1", "service": "iotdevicegateway"}
    check_claim(claim, **scope, now=NOW + timedelta(seconds=300))  # good for the skew only
    error = refusal(check_claim, claim, **scope, now=NOW + timedelta(seconds=301))
    assert error.message.startswith("Signature expired:")
    bad = presigned(**{"X-Amz-Expires": "soon"})
    assert refusal(parse_presigned, bad, expires_required=False).refusal is Refusal.INCOMPLETE


def test_a_claim_for_this_api_now_passes() -> None:
    check_claim(parse_authorization(HEADER, DATE), region="us-east-1", service="iot", now=NOW)


def test_the_scope_date_must_be_the_requests_date() -> None:
    error = refusal(
        check_claim,
        parse_authorization(HEADER, "20251126T000000Z"),
        region="us-east-1",
        service="iot",
        now=NOW,
    )
    assert error.message.startswith("Date in Credential scope does not match")


def test_the_scope_names_the_region_and_the_service() -> None:
    claim = parse_authorization(HEADER, DATE)
    assert (
        "region, not 'us-east-1'"
        in refusal(check_claim, claim, region="eu-west-1", service="iot", now=NOW).message
    )
    assert (
        "service: 'iotdata'"
        in refusal(check_claim, claim, region="us-east-1", service="iotdata", now=NOW).message
    )


def test_host_must_be_signed() -> None:
    claim = parse_authorization(HEADER.replace("host;x-amz-date", "x-amz-date"), DATE)
    error = refusal(check_claim, claim, region="us-east-1", service="iot", now=NOW)
    assert error.refusal is Refusal.INCOMPLETE


@given(seconds=st.integers(-300, 300))
def test_a_header_signature_holds_within_five_minutes_either_side(seconds: int) -> None:
    claim = parse_authorization(HEADER, DATE)
    check_claim(claim, region="us-east-1", service="iot", now=NOW + timedelta(seconds=seconds))


def test_a_header_signature_past_five_minutes_has_expired_and_one_ahead_is_not_current() -> None:
    claim = parse_authorization(HEADER, DATE)
    late = refusal(
        check_claim, claim, region="us-east-1", service="iot", now=NOW + timedelta(seconds=301)
    )
    assert late.message == (
        f"Signature expired: {DATE} is now earlier than 20251125T120001Z "
        "(20251125T120501Z - 5 min.)"
    )
    early = refusal(
        check_claim, claim, region="us-east-1", service="iot", now=NOW - timedelta(seconds=301)
    )
    assert early.message.startswith(f"Signature not yet current: {DATE} is still later than")


def test_a_presigned_url_holds_until_its_expiry_not_five_minutes() -> None:
    claim = parse_presigned(presigned(**{"X-Amz-Expires": "900"}))
    scope = {"region": "us-east-1", "service": "iotdevicegateway"}
    check_claim(claim, **scope, now=NOW + timedelta(seconds=900))
    error = refusal(check_claim, claim, **scope, now=NOW + timedelta(seconds=901))
    assert error.message.startswith("Signature expired:")


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "127.0.0.1:8080",
        "127.3.2.1:1",
        "localhost",
        "LOCALHOST:65535",
        "[::1]",
        "[::1]:443",
    ],
)
def test_loopback_names_are_loopback(host: str) -> None:
    assert is_loopback_host(host)


@pytest.mark.parametrize(
    "host",
    [
        None,
        "",
        "evil.example",
        "evil.example:80",
        "localhost.evil.example",
        "10.0.0.1",
        "127.0.0.1:0",
        "127.0.0.1:65536",
        "127.0.0.1:http",
        "[::1",
        "[::1]x",
        "[::2]:80",
        "::1",
    ],
)
def test_other_hosts_are_not_loopback(host: str | None) -> None:
    assert not is_loopback_host(host)
