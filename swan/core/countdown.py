"""The countdown: one shared deadline, pushed back by every accepted push.

The state is an absolute deadline, never a running counter, so every client can project
the remaining time from its own clock while the server stays the authority. Times are
epoch seconds stamped by the server; a client's clock is never trusted.

The alarm window lives here, and only here: `alarm_window` is the last 4 minutes of a
period, or the last quarter of a shorter one (a 60 s demo sounds its alarm for the last
15 s, not for the whole run). `Rules` and `Countdown` take it as their default, the
countdown carries it in the button shadow (`alarmSeconds`), and `phase_at` reads the
countdown's own, so the push handler, `swan status` (text and JSON), `swan up`'s console, the
Pi's LEDs (swan.core.render) and the page agree. The page's JavaScript has the same rule
(`alarmFor` in webapp/components/swan_view.js) for a shadow without `alarmSeconds`;
tests/unit/webapp holds the two to each other over a table of periods.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from typing import Final, Literal, get_args

from swan.core.errors import InvalidSettingError

DEFAULT_PERIOD_SECONDS: Final = 108 * 60
# The longest alarm: the Swan station's 4 minutes. Read `alarm_window`, not this.
ALARM_SECONDS: Final = 4 * 60
# The default of an alarm field: derived from the period by `alarm_window` (NaN is never
# a valid alarm, so it cannot be mistaken for one given).
ALARM_FROM_PERIOD: Final = math.nan
# How many of the latest pushes the button shadow keeps (`Countdown.recent`): the page
# shows them, and has no other history to read.
RECENT_LIMIT: Final = 12
SWAN_CODE: Final = (4, 8, 15, 16, 23, 42)

Phase = Literal["counting", "alarm", "failed"]
StoredPhase = Literal["counting", "failed"]
Source = Literal["web", "pi", "button", "cli"]
ClickType = Literal["SINGLE", "DOUBLE", "LONG"]
RuleSet = Literal["anytime", "swan"]
RefusalReason = Literal["rate_limited", "too_early", "wrong_code"]

SOURCES: Final[tuple[Source, ...]] = get_args(Source)
CLICK_TYPES: Final[tuple[ClickType, ...]] = get_args(ClickType)
RULE_SETS: Final[tuple[RuleSet, ...]] = get_args(RuleSet)
STORED_PHASES: Final[tuple[StoredPhase, ...]] = get_args(StoredPhase)


def alarm_window(period_seconds: float) -> float:
    """The alarm for a period: the last 4 minutes, or the last quarter of a shorter period
    (a 30 s demo still gets its alarm). The one home of this rule: see the module's docstring."""
    return min(float(ALARM_SECONDS), period_seconds / 4)


@dataclass(frozen=True)
class Rules:
    """How the countdown behaves. The defaults are the Swan station's, with the original's rules."""

    period_seconds: float = DEFAULT_PERIOD_SECONDS
    # The period's `alarm_window` unless given (a test may want none).
    alarm_seconds: float = ALARM_FROM_PERIOD
    rule_set: RuleSet = "anytime"
    # One principal (a device, a browser) may push at most once per this many seconds.
    min_push_interval: float = 1.0
    # The button shadow is written at most this often (any one second); pushes in between
    # coalesce into the next write. AWS allows 20 shadow requests a second per thing, reads
    # included: each write costs the push handler a read too, and devices and pages read
    # the shadow when they connect, so 5 leaves half of the 20 to them.
    shadow_writes_per_second: float = 5.0

    @classmethod
    def for_period(cls, period_seconds: float, rule_set: RuleSet = "anytime") -> Rules:
        """Rules for any period, with the period's `alarm_window`."""
        return cls(period_seconds=period_seconds, rule_set=rule_set)

    def __post_init__(self) -> None:
        if not self.period_seconds > 0:
            raise InvalidSettingError("period_seconds", self.period_seconds, "must be positive")
        if math.isnan(self.alarm_seconds):
            object.__setattr__(self, "alarm_seconds", alarm_window(self.period_seconds))
        if not 0 <= self.alarm_seconds <= self.period_seconds:
            raise InvalidSettingError(
                "alarm_seconds", self.alarm_seconds, "must be between 0 and the period"
            )
        if self.rule_set not in RULE_SETS:
            raise InvalidSettingError("rule_set", self.rule_set, f"must be one of {RULE_SETS}")
        if not self.min_push_interval >= 0:
            raise InvalidSettingError("min_push_interval", self.min_push_interval, "must be >= 0")
        if not self.shadow_writes_per_second > 0:
            raise InvalidSettingError(
                "shadow_writes_per_second", self.shadow_writes_per_second, "must be positive"
            )


@dataclass(frozen=True)
class Push:
    """One push of the button, stamped with the server's time on arrival."""

    at: float
    by: str
    source: Source
    click_type: ClickType = "SINGLE"
    # What was typed at the `>:` prompt; only the `swan` rule set asks for it.
    code: str | None = None


@dataclass(frozen=True)
class NumberedPush:
    """A push with its number in history (counting every push of every run)."""

    number: int
    push: Push


@dataclass(frozen=True)
class Countdown:
    """The shared state, as stored in the button shadow's `reported` section."""

    period_seconds: float
    deadline: float
    phase: StoredPhase
    last_push: Push | None
    pushes: int
    run_started_at: float
    failures: int
    failed_at: float | None
    # When this state was written (server time), and the write budget left then: the
    # bookkeeping of swan.core.coalesce's token bucket.
    updated_at: float
    write_credit: float = 0.0
    # The latest pushes of every run, newest first, at most RECENT_LIMIT; a failure keeps them.
    recent: tuple[NumberedPush, ...] = ()
    # The rules the last push was admitted under, for clients that have no settings of
    # their own (the static page): which prompt to show and when the alarm sounds (unless
    # given, the period's `alarm_window`).
    rule_set: RuleSet = "anytime"
    alarm_seconds: float = ALARM_FROM_PERIOD

    def __post_init__(self) -> None:
        if math.isnan(self.alarm_seconds):
            object.__setattr__(self, "alarm_seconds", alarm_window(self.period_seconds))


@dataclass(frozen=True)
class Pressed:
    """A push was accepted: the new state, and whether it ended a run first."""

    countdown: Countdown
    new_run: bool
    failure_recorded: bool


@dataclass(frozen=True)
class Refused:
    """A push was refused; `retry_after` says when trying again can succeed, if known."""

    reason: RefusalReason
    message: str
    retry_after: float | None = None


def remember(recent: tuple[NumberedPush, ...], *pushes: NumberedPush) -> tuple[NumberedPush, ...]:
    """`recent` with `pushes` in their places: newest (highest number) first, one entry per
    number (the one already there stays), at most RECENT_LIMIT."""
    by_number = {entry.number: entry for entry in (*pushes, *recent)}  # the later wins
    ordered = sorted(by_number.values(), key=lambda entry: entry.number, reverse=True)
    return tuple(ordered[:RECENT_LIMIT])


def remaining(countdown: Countdown, now: float) -> float:
    """Seconds until the deadline: zero once failed, never more than a period (clock skew)."""
    if countdown.phase == "failed":
        return 0.0
    return min(countdown.period_seconds, max(0.0, countdown.deadline - now))


def clock_text(seconds_left: float) -> str:
    """Time left as `swan status`, `swan up`'s console and a Pi's caption show it, `mm:ss`
    (minutes past 99 as they come): rounded up, so it reads 00:01 until the last second is
    gone, give or take a millisecond of float noise."""
    minutes, seconds = divmod(int(max(0.0, seconds_left) + 0.999), 60)
    return f"{minutes:02d}:{seconds:02d}"


def phase_at(countdown: Countdown, now: float, alarm_seconds: float | None = None) -> Phase:
    """The phase a viewer sees at `now`, with the countdown's own alarm unless told another
    (the push handler admits a push under its new rules).

    A passed deadline is a failure even before the expire handler has written it.
    """
    if countdown.phase == "failed" or now >= countdown.deadline:
        return "failed"
    alarm = countdown.alarm_seconds if alarm_seconds is None else alarm_seconds
    if countdown.deadline - now <= alarm:
        return "alarm"
    return "counting"


def code_matches(entered: str | None) -> bool:
    """True when `entered` is the Numbers, however they are separated."""
    if entered is None:
        return False
    if re.search(r"[^\d\s,]", entered):
        return False
    return tuple(int(n) for n in re.findall(r"\d+", entered)) == SWAN_CODE


def press(
    current: Countdown | None,
    push: Push,
    rules: Rules,
    *,
    number: int | None = None,
    now: float | None = None,
) -> Pressed | Refused:
    """Admit one push under the rules, then apply it (see `apply_push`)."""
    if rules.rule_set == "swan":
        refusal = _swan_refusal(current, push, rules)
        if refusal is not None:
            return refusal
    return apply_push(current, push, rules, number=number, now=now)


def apply_push(
    current: Countdown | None,
    push: Push,
    rules: Rules,
    *,
    number: int | None = None,
    now: float | None = None,
) -> Pressed:
    """Apply an admitted push.

    `number` is the push's position in history (where every push is counted, even those
    coalesced into one shadow write); the stored count becomes at least that. `now` is when
    the new state is written, which can be a little after the push when writes coalesce.
    """
    written_at = push.at if now is None else now
    count = max((current.pushes if current else 0) + 1, number or 0)
    if current is None:
        fresh = _new_run(push, rules, pushes=count, failures=0, now=written_at, recent=())
        return Pressed(fresh, new_run=True, failure_recorded=False)
    if current.phase == "failed":
        fresh = _new_run(
            push,
            rules,
            pushes=count,
            failures=current.failures,
            now=written_at,
            recent=current.recent,
        )
        return Pressed(fresh, new_run=True, failure_recorded=False)
    if push.at >= current.deadline:
        # The world ended before anyone recorded it: count the failure, then start again.
        failures = current.failures + 1
        fresh = _new_run(
            push, rules, pushes=count, failures=failures, now=written_at, recent=current.recent
        )
        return Pressed(fresh, new_run=True, failure_recorded=True)
    latest = (
        push if current.last_push is None or push.at >= current.last_push.at else current.last_push
    )
    pushed = replace(
        current,
        period_seconds=rules.period_seconds,
        deadline=max(current.deadline, push.at + rules.period_seconds),
        last_push=latest,
        pushes=count,
        updated_at=written_at,
        recent=remember(current.recent, NumberedPush(count, push)),
        rule_set=rules.rule_set,
        alarm_seconds=rules.alarm_seconds,
    )
    return Pressed(pushed, new_run=False, failure_recorded=False)


def expire(current: Countdown, now: float) -> Countdown | None:
    """The failed state if the deadline has passed, or None when there is nothing to do.

    Idempotent: an already failed countdown, or one pushed meanwhile, is left alone.
    """
    if current.phase == "failed" or now < current.deadline:
        return None
    return replace(
        current,
        phase="failed",
        failures=current.failures + 1,
        failed_at=current.deadline,
        updated_at=now,
    )


def _new_run(
    push: Push,
    rules: Rules,
    *,
    pushes: int,
    failures: int,
    now: float,
    recent: tuple[NumberedPush, ...],
) -> Countdown:
    return Countdown(
        period_seconds=rules.period_seconds,
        deadline=push.at + rules.period_seconds,
        phase="counting",
        last_push=push,
        pushes=pushes,
        run_started_at=push.at,
        failures=failures,
        failed_at=None,
        updated_at=now,
        recent=remember(recent, NumberedPush(pushes, push)),
        rule_set=rules.rule_set,
        alarm_seconds=rules.alarm_seconds,
    )


def _swan_refusal(current: Countdown | None, push: Push, rules: Rules) -> Refused | None:
    if not code_matches(push.code):
        return Refused("wrong_code", "the code is 4 8 15 16 23 42, then Execute")
    if current is None:
        return None
    if phase_at(current, push.at, rules.alarm_seconds) == "counting":
        wait = current.deadline - rules.alarm_seconds - push.at
        minutes = rules.alarm_seconds / 60
        message = f"the prompt opens when the alarm sounds, {minutes:g} minutes before zero"
        return Refused("too_early", message, wait)
    return None
