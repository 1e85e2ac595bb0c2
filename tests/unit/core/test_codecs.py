import contextlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support import load_event

from swan.core.codecs import (
    ButtonClick,
    CertificateRegistered,
    PushAccepted,
    PushRejected,
    PushRequest,
    ShadowDelta,
    ShadowDocuments,
    ShadowErrorResponse,
    ShadowGetAccepted,
    ShadowSnapshot,
)
from swan.core.errors import InvalidPayloadError


def raises_on(field):
    return pytest.raises(InvalidPayloadError, match=rf"^invalid .*: {field}: ")


class TestButtonClick:
    def test_the_hardware_payload(self):
        click = ButtonClick.from_payload(json.dumps(load_event("iot_button_click_single")).encode())
        assert click == ButtonClick("G030JF0553648RUH", "SINGLE", 1650)
        assert click.to_payload() == load_event("iot_button_click_single")

    def test_aws_examples_write_the_voltage_with_a_space(self):
        click = ButtonClick.from_payload(load_event("iot_button_click_long"))
        assert click == ButtonClick("G030JF055364XVRB", "LONG", 2000)

    @pytest.mark.parametrize("click_type", ["SINGLE", "DOUBLE", "LONG"])
    def test_every_click_type(self, click_type):
        payload = {"serialNumber": "G030", "clickType": click_type}
        assert ButtonClick.from_payload(payload).click_type == click_type

    def test_the_battery_voltage_is_optional(self):
        click = ButtonClick.from_payload({"serialNumber": "G030", "clickType": "DOUBLE"})
        assert click.battery_millivolts is None
        assert "batteryVoltage" not in click.to_payload()

    @pytest.mark.parametrize(
        ("change", "field"),
        [
            ({"clickType": "TRIPLE"}, "clickType"),
            ({"clickType": "single"}, "clickType"),
            ({"clickType": None}, "clickType"),
            ({"serialNumber": ""}, "serialNumber"),
            ({"serialNumber": "G030/../x"}, "serialNumber"),
            ({"serialNumber": 42}, "serialNumber"),
            ({"batteryVoltage": "1.6V"}, "batteryVoltage"),
            ({"batteryVoltage": 1650}, "batteryVoltage"),
        ],
    )
    def test_a_bad_click_names_the_field(self, change, field):
        payload = {**load_event("iot_button_click_single"), **change}
        with raises_on(field):
            ButtonClick.from_payload(payload)

    def test_not_json_at_all(self):
        with raises_on("payload") as raised:
            ButtonClick.from_payload(b"click!")
        assert isinstance(raised.value, ValueError)


class TestPushRequest:
    def test_a_browsers_request(self):
        request = PushRequest.from_payload(load_event("push_request_web"))
        assert request == PushRequest("web-7f3a9c1e-0001", "web")
        assert request.to_payload() == load_event("push_request_web")

    def test_the_code_travels_with_the_request(self):
        request = PushRequest("t1", "cli", code="4 8 15 16 23 42")
        assert PushRequest.from_payload(json.dumps(request.to_payload())) == request

    @pytest.mark.parametrize(
        ("change", "field"),
        [
            ({"clientToken": "x" * 65}, "clientToken"),
            ({"clientToken": None}, "clientToken"),
            ({"source": "button"}, "source"),
            ({"code": "4" * 65}, "code"),
        ],
    )
    def test_a_bad_request_names_the_field(self, change, field):
        with raises_on(field):
            PushRequest.from_payload({**load_event("push_request_web"), **change})


class TestPushReplies:
    def test_accepted_round_trip(self):
        reply = PushAccepted("tok", 1764093600.0, 4242)
        assert PushAccepted.from_payload(json.dumps(reply.to_payload())) == reply

    def test_rejected_carries_the_reason_and_the_wait(self):
        reply = PushRejected("tok", "rate_limited", "too fast: one push per 1 s", 0.75)
        assert reply.to_payload() == {
            "clientToken": "tok",
            "reason": "rate_limited",
            "message": "too fast: one push per 1 s",
            "retryAfter": 0.75,
        }
        assert PushRejected.from_payload(json.dumps(reply.to_payload())) == reply

    def test_an_unparseable_request_is_rejected_without_a_token(self):
        reply = PushRejected(None, "invalid_request", "invalid push request: payload: not JSON")
        assert reply.to_payload() == {"reason": "invalid_request", "message": reply.message}
        assert PushRejected.from_payload(reply.to_payload()) == reply

    def test_an_unknown_reason_is_refused(self):
        with raises_on("reason"):
            PushRejected.from_payload({"reason": "bored", "message": "m"})


class TestCertificateRegistered:
    def test_the_jitr_event(self):
        event = CertificateRegistered.from_payload(load_event("jitr_registered"))
        assert event.certificate_status == "PENDING_ACTIVATION"
        assert event.timestamp == 1764087120
        assert event.certificate_registration_timestamp == "1764087120123"
        assert event.to_payload() == load_event("jitr_registered")

    @pytest.mark.parametrize("stamp", [None, 1764087120123, "2026-11-25T18:00:00Z"])
    def test_the_registration_timestamp_comes_in_many_shapes(self, stamp):
        payload = {**load_event("jitr_registered"), "certificateRegistrationTimestamp": stamp}
        event = CertificateRegistered.from_payload(payload)
        assert event.certificate_registration_timestamp == (None if stamp is None else str(stamp))

    @pytest.mark.parametrize(
        ("change", "field"),
        [
            ({"certificateId": "ABC"}, "certificateId"),
            ({"caCertificateId": "0" * 63}, "caCertificateId"),
            ({"timestamp": "now"}, "timestamp"),
            ({"certificateRegistrationTimestamp": ["x"]}, "certificateRegistrationTimestamp"),
            ({"certificateRegistrationTimestamp": True}, "certificateRegistrationTimestamp"),
            ({"awsAccountId": None}, "awsAccountId"),
        ],
    )
    def test_a_bad_event_names_the_field(self, change, field):
        with raises_on(field):
            CertificateRegistered.from_payload({**load_event("jitr_registered"), **change})


class TestShadowMessages:
    def test_documents(self):
        documents = ShadowDocuments.from_payload(load_event("shadow_update_documents"))
        assert documents.previous is not None
        assert documents.previous.version == 41
        assert documents.current.version == 42
        assert documents.current.reported["pushes"] == 4242
        assert documents.current.desired == {}
        assert documents.client_token == "push-pi-kitchen-0042"

    def test_documents_of_a_new_shadow_have_no_previous(self):
        payload = {"current": {"state": {}, "version": 1}, "timestamp": 5}
        documents = ShadowDocuments.from_payload(payload)
        assert documents.previous is None
        assert documents.current == ShadowSnapshot(1)
        assert documents.client_token is None

    def test_get_accepted_with_delta(self):
        payload = {
            "state": {"desired": {"b": 3}, "reported": {"b": 1}, "delta": {"b": 3}},
            "metadata": {},
            "version": 9,
            "timestamp": 10,
            "clientToken": "t",
        }
        accepted = ShadowGetAccepted.from_payload(json.dumps(payload).encode())
        assert accepted.snapshot == ShadowSnapshot(9, {"b": 3}, {"b": 1})
        assert accepted.delta == {"b": 3}

    def test_get_accepted_of_an_empty_shadow(self):
        accepted = ShadowGetAccepted.from_payload({"version": 2, "timestamp": 10})
        assert accepted.snapshot == ShadowSnapshot(2)
        assert accepted.delta == {}

    def test_delta(self):
        delta = ShadowDelta.from_payload(
            {"state": {"brightness": 3}, "metadata": {}, "version": 4, "timestamp": 9}
        )
        assert delta == ShadowDelta({"brightness": 3}, 4, 9, None)

    def test_error_response(self):
        error = ShadowErrorResponse.from_payload(
            {"code": 409, "message": "Version conflict", "clientToken": "t", "timestamp": 1}
        )
        assert error == ShadowErrorResponse(409, "Version conflict", "t")

    def test_a_documents_message_without_current_is_refused(self):
        with raises_on("current"):
            ShadowDocuments.from_payload({"previous": {"version": 1}, "timestamp": 2})

    def test_a_non_object_section_is_refused(self):
        with raises_on("current.state.reported"):
            ShadowDocuments.from_payload(
                {"current": {"state": {"reported": [1]}, "version": 1}, "timestamp": 2}
            )


@given(
    serial=st.from_regex(r"[A-Za-z0-9]{1,64}", fullmatch=True),
    click=st.sampled_from(["SINGLE", "DOUBLE", "LONG"]),
    millivolts=st.none() | st.integers(min_value=0, max_value=99999),
)
def test_clicks_round_trip(serial, click, millivolts):
    original = ButtonClick(serial, click, millivolts)
    assert ButtonClick.from_payload(json.dumps(original.to_payload()).encode()) == original


@given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_garbage_is_refused_with_a_value_error_never_a_crash(raw):
    for codec in (ButtonClick, PushRequest, CertificateRegistered, ShadowDocuments):
        with contextlib.suppress(InvalidPayloadError):
            codec.from_payload(raw)


@pytest.mark.parametrize(
    ("payload", "token"),
    [
        ({"clientToken": "tok-1", "source": "nope"}, "tok-1"),
        ({"clientToken": "\ud800", "source": "pi"}, None),  # no Unicode: never echoed
        ({"clientToken": "x" * 65, "source": "pi"}, None),  # longer than a token may be
        ({"clientToken": 7}, None),
        ({}, None),
    ],
)
def test_a_refused_request_is_answered_with_its_token_only_when_it_is_a_valid_one(payload, token):
    assert PushRequest.answerable_token(payload) == token


def test_a_string_field_that_is_not_unicode_text_is_invalid():
    with pytest.raises(InvalidPayloadError, match="clientToken: is not Unicode text"):
        PushRequest.from_payload({"clientToken": "\udfff", "source": "pi"})
