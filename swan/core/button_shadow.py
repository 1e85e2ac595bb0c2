"""The button shadow document (thing `button`, classic shadow): the countdown as JSON.

Only the push and expire handlers write it; everyone else reads it. The shape is the one
in ARCHITECTURE.md ("The button shadow").
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from swan.core.countdown import CLICK_TYPES, SOURCES, STORED_PHASES, Countdown, Push
from swan.core.fields import Payload, PayloadReader

if TYPE_CHECKING:
    from collections.abc import Mapping

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
    return Countdown(
        period_seconds=fields.number("periodSeconds"),
        deadline=fields.number("deadline"),
        phase=phase,
        last_push=_push_from_json(last_push) if last_push else None,
        pushes=fields.count("pushes"),
        run_started_at=fields.number("runStartedAt"),
        failures=fields.count("failures"),
        failed_at=fields.optional_number("failedAt"),
        updated_at=fields.number("updatedAt"),
        write_credit=fields.optional_number("writeCredit") or 0.0,
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
    return Push(
        at=fields.number("at"),
        by=fields.string("by"),
        source=fields.choice("source", SOURCES),
        click_type=fields.choice("clickType", CLICK_TYPES),
    )
