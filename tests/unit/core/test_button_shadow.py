import json
import string
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support import load_event

from swan.core.button_shadow import from_reported, from_shadow_state, to_reported, to_update
from swan.core.countdown import (
    CLICK_TYPES,
    RECENT_LIMIT,
    RULE_SETS,
    SOURCES,
    Countdown,
    NumberedPush,
    Push,
)
from swan.core.errors import InvalidPayloadError
from swan.core.jsondoc import compact_size
from swan.local.core.shadow import MAX_SHADOW_BYTES, UpdateAccepted, apply_update

LAST = Push(at=1764087120.0, by="pi-kitchen", source="pi", click_type="SINGLE")
EARLIER = Push(at=1764087020.0, by="G030JF0553648RUH", source="button", click_type="DOUBLE")
COUNTDOWN = Countdown(
    period_seconds=6480,
    deadline=1764093600.0,
    phase="counting",
    last_push=LAST,
    pushes=4242,
    run_started_at=1763900000.0,
    failures=3,
    failed_at=None,
    updated_at=1764087120.01,
    recent=(NumberedPush(4242, LAST), NumberedPush(4241, EARLIER)),
    rule_set="swan",
    alarm_seconds=240.0,
)
# What a name may hold (a thing name, a button serial, "web"): nothing JSON escapes.
NAME_CHARACTERS = string.ascii_letters + string.digits + ":_-"
# The longest text a float or a count can take in JSON (counts below 2**63: at a thousand
# pushes a second that is 292 million years of them).
LONGEST_FLOAT = -2.2250738585072014e-308
LARGEST_COUNT = 2**63 - 1
# The largest `reported` section there can be: every float and count at its longest,
# every name 128 characters, `recent` full. 3,370 bytes, well under AWS's 8 KB for a
# state document; a full section with typical values is about 1.5 KB.
WORST_CASE_BYTES = 3370
SIX_KB = 6 * 1024


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
        "recent": [
            {
                "n": 4242,
                "at": 1764087120.0,
                "by": "pi-kitchen",
                "source": "pi",
                "clickType": "SINGLE",
            },
            {
                "n": 4241,
                "at": 1764087020.0,
                "by": "G030JF0553648RUH",
                "source": "button",
                "clickType": "DOUBLE",
            },
        ],
        "ruleSet": "swan",
        "alarmSeconds": 240.0,
    }


def test_the_code_typed_at_the_prompt_is_never_stored():
    typed = Push(1.0, "web", "web", code="4 8")
    pushed = replace(COUNTDOWN, last_push=typed, recent=(NumberedPush(4242, typed),))
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


def test_a_shadow_written_before_the_page_needed_more_reads_with_defaults():
    # Written before `recent`, `ruleSet` and `alarmSeconds`: no recent pushes, the
    # original's rules, the alarm of its period (the last quarter of a 30 s demo).
    older = {"recent", "ruleSet", "alarmSeconds"}
    stored = {k: v for k, v in to_reported(COUNTDOWN).items() if k not in older}
    countdown = from_reported({**stored, "periodSeconds": 30})
    assert countdown.recent == ()
    assert countdown.rule_set == "anytime"
    assert countdown.alarm_seconds == 7.5
    assert from_reported(stored).alarm_seconds == 240


def test_the_recent_pushes_of_every_run_read_back_newest_first():
    countdown = from_reported(to_reported(replace(COUNTDOWN, phase="failed")))
    assert [entry.number for entry in countdown.recent] == [4242, 4241]
    assert countdown.recent[1].push == EARLIER


def test_a_shadow_with_nothing_reported_has_no_countdown():
    assert from_shadow_state({}) is None
    assert from_shadow_state({"desired": {"brightness": 3}}) is None


RECENT_PUSH = {"at": 1.0, "by": "pi-kitchen", "source": "pi", "clickType": "SINGLE"}


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
        (
            {"lastPush": {"at": 1.0, "by": "a b", "source": "pi", "clickType": "SINGLE"}},
            "lastPush.by",
        ),
        ({"failedAt": float("inf")}, "failedAt"),
        ({"ruleSet": "lost"}, "ruleSet"),
        ({"alarmSeconds": "soon"}, "alarmSeconds"),
        ({"alarmSeconds": -1}, "alarmSeconds"),
        ({"alarmSeconds": 6481}, "alarmSeconds"),
        ({"recent": {"n": 1}}, "recent"),
        ({"recent": "4242"}, "recent"),
        ({"recent": [{"n": 4242 - i, **RECENT_PUSH} for i in range(RECENT_LIMIT + 1)]}, "recent"),
        ({"recent": ["4242"]}, "recent[0]"),
        ({"recent": [RECENT_PUSH]}, "recent[0].n"),
        ({"recent": [{**RECENT_PUSH, "n": 0}]}, "recent[0].n"),
        ({"recent": [{**RECENT_PUSH, "n": 1.5}]}, "recent[0].n"),
        ({"recent": [{**RECENT_PUSH, "n": 4243}]}, "recent[0].n"),
        ({"recent": [{**RECENT_PUSH, "n": 7}, {**RECENT_PUSH, "n": 9}]}, "recent[1].n"),
        ({"recent": [{**RECENT_PUSH, "n": 7}, {**RECENT_PUSH, "n": 7}]}, "recent[1].n"),
        ({"recent": [{**RECENT_PUSH, "n": 7, "at": "now"}]}, "recent[0].at"),
        ({"recent": [{**RECENT_PUSH, "n": 7, "by": "x" * 129}]}, "recent[0].by"),
        ({"recent": [{**RECENT_PUSH, "n": 7, "by": 'pi"kitchen'}]}, "recent[0].by"),
        ({"recent": [{**RECENT_PUSH, "n": 7, "source": "fax"}]}, "recent[0].source"),
        ({"recent": [{**RECENT_PUSH, "n": 7, "clickType": "TRIPLE"}]}, "recent[0].clickType"),
    ],
)
def test_a_bad_document_names_the_bad_field(change, field):
    document = {**to_reported(COUNTDOWN), **change}
    with pytest.raises(InvalidPayloadError) as raised:
        from_reported(document)
    assert raised.value.field == field
    assert field in str(raised.value)


@pytest.mark.parametrize("field", ["by", "source", "clickType", "at"])
def test_a_recent_push_missing_a_field_is_named(field):
    entry = {k: v for k, v in {"n": 5, **RECENT_PUSH}.items() if k != field}
    with pytest.raises(InvalidPayloadError) as raised:
        from_reported({**to_reported(COUNTDOWN), "recent": [entry]})
    assert raised.value.field == f"recent[0].{field}"


def test_a_missing_field_is_named():
    document = to_reported(COUNTDOWN)
    del document["runStartedAt"]
    with pytest.raises(InvalidPayloadError, match="runStartedAt: is required"):
        from_reported(document)


NAMES = st.text(NAME_CHARACTERS, min_size=1, max_size=128)
PUSHES = st.builds(
    Push,
    at=st.floats(allow_nan=False, allow_infinity=False),
    by=NAMES,
    source=st.sampled_from(SOURCES),
    click_type=st.sampled_from(CLICK_TYPES),
)


@st.composite
def countdowns(draw):
    """Any countdown the handlers can write (floats and counts of any size they can take)."""
    period = draw(st.floats(min_value=1e-3, max_value=1e12))
    pushes = draw(st.integers(min_value=0, max_value=LARGEST_COUNT))
    numbers = draw(
        st.lists(
            st.integers(min_value=1, max_value=max(1, pushes)),
            unique=True,
            max_size=min(pushes, RECENT_LIMIT),
        )
    )
    times = st.floats(allow_nan=False, allow_infinity=False)
    return Countdown(
        period_seconds=period,
        deadline=draw(times),
        phase=draw(st.sampled_from(["counting", "failed"])),
        last_push=draw(st.none() | PUSHES),
        pushes=pushes,
        run_started_at=draw(times),
        failures=draw(st.integers(min_value=0, max_value=LARGEST_COUNT)),
        failed_at=draw(st.none() | times),
        updated_at=draw(times),
        write_credit=draw(st.floats(min_value=0, max_value=2)),
        recent=tuple(
            NumberedPush(number, draw(PUSHES)) for number in sorted(numbers, reverse=True)
        ),
        rule_set=draw(st.sampled_from(RULE_SETS)),
        alarm_seconds=draw(st.floats(min_value=0, max_value=period)),
    )


@given(countdowns())
def test_round_trip_through_json(countdown):
    wire = json.dumps(to_reported(countdown)).encode()
    assert from_reported(wire) == countdown


def worst_case():
    name = "x" * 128
    push = Push(LONGEST_FLOAT, name, "button", "DOUBLE")
    longest = LONGEST_FLOAT
    return Countdown(
        period_seconds=longest,
        deadline=longest,
        phase="counting",
        last_push=push,
        pushes=LARGEST_COUNT,
        run_started_at=longest,
        failures=LARGEST_COUNT,
        failed_at=longest,
        updated_at=longest,
        write_credit=longest,
        recent=tuple(NumberedPush(LARGEST_COUNT - i, push) for i in range(RECENT_LIMIT)),
        rule_set="anytime",
        alarm_seconds=longest,
    )


def test_the_largest_reported_section_stays_well_within_the_shadows_8_kb():
    """A full `reported` section at its largest is 3,370 bytes (AWS counts compact JSON,
    8 KB at most); the shadow service takes it."""
    largest = to_reported(worst_case())
    assert compact_size(largest) == WORST_CASE_BYTES
    assert WORST_CASE_BYTES < SIX_KB < MAX_SHADOW_BYTES
    accepted = apply_update(None, json.dumps({"state": {"reported": largest}}).encode(), now=1)
    assert isinstance(accepted, UpdateAccepted)


@given(countdowns())
def test_no_reported_section_is_larger_than_the_worst_case(countdown):
    assert compact_size(to_reported(countdown)) <= WORST_CASE_BYTES
