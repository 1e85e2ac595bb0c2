"""The button shadow document (thing `button`, classic shadow): the countdown as JSON.

Only the push and expire handlers write it; everyone else reads it. The shape is the one
in ARCHITECTURE.md ("The button shadow"), plus what a client with no server and no
settings of its own (the static page) needs: `recent` (the latest pushes of every run,
newest first, each with its number `n`), `ruleSet` and `alarmSeconds`.

AWS keeps at most 8 KB of `desired` plus `reported` (AWS IoT Core quotas, "Device Shadow
service limits": maximum size of a JSON state document). The fields here are bounded so
that the largest `reported` section stays well under that: `by` is a name (a thing name,
a button serial or `web`: 1-128 of a-z A-Z 0-9 : _ -, nothing JSON must escape) and
`recent` holds at most RECENT_LIMIT pushes; tests/unit/core/test_button_shadow.py builds
the worst case and measures it. An update replaces an array whole (AWS IoT developer
guide, "Device Shadow service documents", array values), so every write sends `recent` in
full.

Shadows written before `recent`, `ruleSet` and `alarmSeconds` existed read as no recent
pushes, the `anytime` rules and the alarm of their period.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from swan.core import names
from swan.core.countdown import (
    CLICK_TYPES,
    RECENT_LIMIT,
    RULE_SETS,
    SOURCES,
    STORED_PHASES,
    Countdown,
    NumberedPush,
    Push,
    alarm_window,
)
from swan.core.errors import InvalidThingNameError
from swan.core.fields import Payload, PayloadReader

KIND = "button shadow"


def to_reported(countdown: Countdown) -> dict[str, Any]:
    """The `reported` section that stores `countdown`."""
    return {
        "periodSeconds": countdown.period_seconds,
        "deadline": countdown.deadline,
        "phase": countdown.phase,
        "lastPush": _push_to_json(countdown.last_push) if countdown.last_push else None,
        "pushes": countdown.pushes,
        "runStartedAt": countdown.run_started_at,
        "failures": countdown.failures,
        "failedAt": countdown.failed_at,
        "updatedAt": countdown.updated_at,
        "writeCredit": countdown.write_credit,
        "recent": [{"n": e.number, **_push_to_json(e.push)} for e in countdown.recent],
        "ruleSet": countdown.rule_set,
        "alarmSeconds": countdown.alarm_seconds,
    }


def to_update(countdown: Countdown, *, version: int | None = None) -> dict[str, Any]:
    """An update request document writing `countdown`, optionally version-checked.

    Fields that are None are sent as null, which deletes them from the shadow.
    """
    request: dict[str, Any] = {"state": {"reported": to_reported(countdown)}}
    if version is not None:
        request["version"] = version
    return request


def from_reported(reported: Payload) -> Countdown:
    """Read the `reported` section back; raises InvalidPayloadError naming the bad field."""
    fields = PayloadReader.decode(KIND, reported)
    phase = fields.choice("phase", STORED_PHASES)
    last_push = fields.optional_mapping("lastPush")
    period = fields.number("periodSeconds")
    pushes = fields.count("pushes")
    return Countdown(
        period_seconds=period,
        deadline=fields.number("deadline"),
        phase=phase,
        last_push=_push_from_json(last_push) if last_push else None,
        pushes=pushes,
        run_started_at=fields.number("runStartedAt"),
        failures=fields.count("failures"),
        failed_at=fields.optional_number("failedAt"),
        updated_at=fields.number("updatedAt"),
        write_credit=fields.optional_number("writeCredit") or 0.0,
        recent=_recent_from_json(fields, pushes),
        rule_set=fields.choice("ruleSet", RULE_SETS) if fields.has("ruleSet") else "anytime",
        alarm_seconds=_alarm_from_json(fields, period),
    )


def from_shadow_state(state: Mapping[str, Any]) -> Countdown | None:
    """The countdown in a shadow document's `state`, or None when nothing was reported yet."""
    reported = state.get("reported")
    if not reported:
        return None
    return from_reported(reported)


def _push_to_json(push: Push) -> dict[str, Any]:
    # The code typed at the prompt is checked, never stored.
    return {"at": push.at, "by": push.by, "source": push.source, "clickType": push.click_type}


def _push_from_json(fields: PayloadReader) -> Push:
    by = fields.string("by")
    try:
        names.check_thing_name(by)
    except InvalidThingNameError as error:
        fields.fail("by", f"must be a name: {error.problem}")
    return Push(
        at=fields.number("at"),
        by=by,
        source=fields.choice("source", SOURCES),
        click_type=fields.choice("clickType", CLICK_TYPES),
    )


def _recent_from_json(fields: PayloadReader, pushes: int) -> tuple[NumberedPush, ...]:
    """`recent`: at most RECENT_LIMIT pushes, newest first, none numbered above `pushes`."""
    if not fields.has("recent"):
        return ()
    entries = fields.data["recent"]
    if not isinstance(entries, list | tuple):
        fields.fail("recent", "must be an array")
    if len(entries) > RECENT_LIMIT:
        fields.fail("recent", f"must hold at most {RECENT_LIMIT} pushes")
    recent: list[NumberedPush] = []
    for index, entry in enumerate(entries):
        where = f"recent[{index}]"
        if not isinstance(entry, Mapping):
            fields.fail(where, "must be an object")
        item = PayloadReader(fields.kind, entry, where)
        number = item.count("n")
        if not 0 < number <= pushes:
            item.fail("n", "must be a push number, 1 to pushes")
        if recent and number >= recent[-1].number:
            item.fail("n", "must be below the one before (newest first)")
        recent.append(NumberedPush(number, _push_from_json(item)))
    return tuple(recent)


def _alarm_from_json(fields: PayloadReader, period: float) -> float:
    if not fields.has("alarmSeconds"):
        return alarm_window(period)
    alarm = fields.number("alarmSeconds")
    if not 0 <= alarm <= period:
        fields.fail("alarmSeconds", "must be between 0 and periodSeconds")
    return alarm
