import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support import load_event

from swan.core.button_shadow import from_reported, from_shadow_state, to_reported, to_update
from swan.core.countdown import CLICK_TYPES, SOURCES, Countdown, Push
from swan.core.errors import InvalidPayloadError

COUNTDOWN = Countdown(
    period_seconds=6480,
    deadline=1764093600.0,
    phase="counting",
    last_push=Push(at=1764087120.0, by="pi-kitchen", source="pi", click_type="SINGLE"),
    pushes=4242,
    run_started_at=1763900000.0,
    failures=3,
    failed_at=None,
    updated_at=1764087120.01,
)


def test_the_document_of_the_architecture():
    assert to_reported(COUNTDOWN) == {
        "periodSeconds": 6480,
        "deadline": 1764093600.0,
        "phase": "counting",
        "lastPush": {"at": 1764087120.0, "by": "pi-kitchen", "source": "pi", "clickType": "SINGLE"},
        "pushes": 4242,
        "runStartedAt": 1763900000.0,
        "failures": 3,
        "failedAt": None,
        "updatedAt": 1764087120.01,
        "writeCredit": 0.0,
    }


def test_the_code_typed_at_the_prompt_is_never_stored():
    pushed = Countdown(**{**COUNTDOWN.__dict__, "last_push": Push(1.0, "web", "web", code="4 8")})
    assert "code" not in json.dumps(to_reported(pushed))


def test_an_update_request_with_and_without_a_version_check():
    assert to_update(COUNTDOWN) == {"state": {"reported": to_reported(COUNTDOWN)}}
    assert to_update(COUNTDOWN, version=7)["version"] == 7


def test_reading_back_the_stored_document():
    stored = {k: v for k, v in to_reported(COUNTDOWN).items() if v is not None}
    assert from_reported(json.dumps(stored).encode()) == COUNTDOWN


def test_reading_the_current_state_of_a_documents_message():
    documents = load_event("shadow_update_documents")
    countdown = from_shadow_state(documents["current"]["state"])
    assert countdown is not None
    assert countdown.pushes == 4242
    assert countdown.last_push == Push(1764087120.0, "pi-kitchen", "pi", "SINGLE")


def test_a_shadow_with_nothing_reported_has_no_countdown():
    assert from_shadow_state({}) is None
    assert from_shadow_state({"desired": {"brightness": 3}}) is None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"phase": "alarm"}, "phase"),
        ({"deadline": "soon"}, "deadline"),
        ({"deadline": True}, "deadline"),
        ({"pushes": -1}, "pushes"),
        ({"pushes": 1.5}, "pushes"),
        (
            {"lastPush": {"at": 1.0, "by": "x", "source": "fax", "clickType": "SINGLE"}},
            "lastPush.source",
        ),
        ({"lastPush": {"at": 1.0, "by": "", "source": "pi", "clickType": "SINGLE"}}, "lastPush.by"),
        ({"lastPush": "yesterday"}, "lastPush"),
        ({"failedAt": float("inf")}, "failedAt"),
    ],
)
def test_a_bad_document_names_the_bad_field(change, field):
    document = {**to_reported(COUNTDOWN), **change}
    with pytest.raises(InvalidPayloadError) as raised:
        from_reported(document)
    assert raised.value.field == field
    assert field in str(raised.value)


def test_a_missing_field_is_named():
    document = to_reported(COUNTDOWN)
    del document["runStartedAt"]
    with pytest.raises(InvalidPayloadError, match="runStartedAt: is required"):
        from_reported(document)


@given(
    deadline=st.floats(min_value=0, max_value=4e9),
    phase=st.sampled_from(["counting", "failed"]),
    pushes=st.integers(min_value=0, max_value=10**9),
    failures=st.integers(min_value=0, max_value=10**6),
    by=st.text(min_size=1, max_size=40),
    source=st.sampled_from(SOURCES),
    click=st.sampled_from(CLICK_TYPES),
    failed_at=st.none() | st.floats(min_value=0, max_value=4e9),
    pushed=st.booleans(),
)
def test_round_trip_through_json(
    deadline, phase, pushes, failures, by, source, click, failed_at, pushed
):
    countdown = Countdown(
        period_seconds=6480.0,
        deadline=deadline,
        phase=phase,
        last_push=Push(deadline - 6480, by, source, click) if pushed else None,
        pushes=pushes,
        run_started_at=deadline - 7000,
        failures=failures,
        failed_at=failed_at,
        updated_at=deadline - 6000,
    )
    wire = json.dumps(to_reported(countdown)).encode()
    assert from_reported(wire) == countdown
