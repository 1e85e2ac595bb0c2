"""What the page shows, as plain values: the button shadow turned into the fields every
browser receives, the push history as the backend has seen it, and push answers turned
into notices. No I/O and no clock: callers pass `now`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any, Final, Literal

from swan.core.codecs import PushAccepted, PushRejected
from swan.core.countdown import Rules

if TYPE_CHECKING:
    from collections.abc import Sequence

    from swan.core.countdown import Countdown, Push

HISTORY_LIMIT: Final = 12
NO_ANSWER_SECONDS: Final = 5.0

SOURCE_LABELS: Final = {
    "web": "web",
    "pi": "Raspberry Pi",
    "button": "IoT Button",
    "cli": "command line",
}

LinkState = Literal["connecting", "live", "reconnecting"]
NoticeKind = Literal["", "ok", "wait", "refused", "error"]


@dataclass(frozen=True)
class HistoryRow:
    """One push as the page lists it."""

    at: float
    by: str
    source: str
    label: str


@dataclass(frozen=True)
class Board:
    """Everything every browser is sent about the countdown (one shared copy)."""

    known: bool = False
    version: int = 0
    deadline: float = 0.0
    period: float = 0.0
    alarm: float = 0.0
    failed: bool = False
    pushes: int = 0
    failures: int = 0
    run_started_at: float = 0.0
    failed_at: float = 0.0
    last_by: str = ""
    last_source: str = ""
    last_at: float = 0.0
    history: tuple[HistoryRow, ...] = ()


def pusher_name(push: Push) -> str:
    """Who pushed, as the page names them: every browser pushes as the one thing `web`."""
    return "a web visitor" if push.source == "web" else push.by


def source_label(source: str) -> str:
    """How a push source reads on the page ("pi" -> "Raspberry Pi")."""
    return SOURCE_LABELS.get(source, source)


def clock_digits(period_seconds: float) -> int:
    """How many minute tiles the flip counter needs: 3 for 108 minutes, never fewer than 2."""
    minutes = int(max(period_seconds, 0) // 60)
    return max(2, len(str(minutes)))


def alarm_seconds(period_seconds: float) -> float:
    """The alarm window for a period: the last 4 minutes, or the last quarter if shorter."""
    if period_seconds <= 0:
        return 0.0
    return Rules.for_period(period_seconds).alarm_seconds


def waiting_board(period_seconds: float) -> Board:
    """The board before the backend has heard from the shadow: the period it expects."""
    return Board(period=period_seconds, alarm=alarm_seconds(period_seconds))


def remember(
    history: tuple[HistoryRow, ...], push: Push | None, limit: int = HISTORY_LIMIT
) -> tuple[HistoryRow, ...]:
    """`history` with `push` added: newest first, each push once, at most `limit` rows.

    The backend sees pushes as the shadow's `lastPush` changes; coalesced pushes show as
    their newest one, and a push older than the newest seen is slotted into place.
    """
    if push is None:
        return history[:limit]
    row = HistoryRow(push.at, pusher_name(push), push.source, source_label(push.source))
    if any(seen.at == row.at and seen.by == row.by for seen in history):
        return history[:limit]
    merged = sorted((*history, row), key=lambda seen: seen.at, reverse=True)
    return tuple(merged[:limit])


def history_rows(recent: Sequence[Push], limit: int = HISTORY_LIMIT) -> tuple[HistoryRow, ...]:
    """Rows for pushes read from the push history, newest first."""
    rows: tuple[HistoryRow, ...] = ()
    for push in recent:
        rows = remember(rows, push, limit)
    return rows


def board_for(
    previous: Board,
    countdown: Countdown | None,
    version: int,
    limit: int = HISTORY_LIMIT,
    recent: Sequence[Push] | None = None,
) -> Board:
    """The board after the shadow reached `version` with `countdown` (None: no push yet).

    `recent` is the push history when there is one to read (every push, coalesced ones
    too); without it the history is what the board has seen of `lastPush`.
    """
    if countdown is None:  # nobody has pushed yet: keep the configured period on show
        return Board(
            known=True,
            version=version,
            period=previous.period,
            alarm=previous.alarm,
            history=previous.history if recent is None else history_rows(recent, limit),
        )
    last = countdown.last_push
    history = (
        remember(previous.history, last, limit) if recent is None else history_rows(recent, limit)
    )
    return replace(
        previous,
        known=True,
        version=version,
        deadline=countdown.deadline,
        period=countdown.period_seconds,
        alarm=alarm_seconds(countdown.period_seconds),
        failed=countdown.phase == "failed",
        pushes=countdown.pushes,
        failures=countdown.failures,
        run_started_at=countdown.run_started_at,
        failed_at=countdown.failed_at or 0.0,
        last_by=pusher_name(last) if last else "",
        last_source=source_label(last.source) if last else "",
        last_at=last.at if last else 0.0,
        history=history,
    )


def page_fields(board: Board, link: LinkState, rule_set: str) -> dict[str, Any]:
    """The fields of the page's `Board` state for `board`, as plain JSON values: the board,
    the link, the rule set and the counter's width (the time sent is added when sending)."""
    fields = asdict(board)
    fields["history"] = [asdict(row) for row in board.history]
    fields.update(link=link, rule_set=rule_set, digits=clock_digits(board.period))
    return fields


NOTICE_SECONDS: Final = 6.0  # how long the answer to a push stays under the button


@dataclass(frozen=True)
class Notice:
    """The line under the button after a push: what happened, and how it should look."""

    text: str
    kind: NoticeKind


def notice_for(answer: PushAccepted | PushRejected | None) -> Notice:
    """Turn the push handler's answer (None: no answer in time) into a notice."""
    if answer is None:
        return Notice(f"No answer within {NO_ANSWER_SECONDS:g} s. Try again.", "error")
    if isinstance(answer, PushAccepted):
        return Notice(f"Pushed. Push #{answer.pushes} reset the countdown.", "ok")
    if answer.reason == "rate_limited":
        wait = answer.retry_after
        after = f" Wait {_seconds(wait)}." if wait is not None and wait > 0 else ""
        return Notice(f"Too fast.{after}", "wait")
    if answer.reason == "too_early":
        return Notice(f"Not yet: {answer.message}.", "refused")
    if answer.reason == "wrong_code":
        return Notice(f"Wrong code: {answer.message}.", "refused")
    return Notice(f"Refused: {answer.message}.", "error")


def _seconds(value: float) -> str:
    if value < 10:  # noqa: PLR2004 (below ten seconds a tenth matters)
        return f"{value:.1f} s"
    minutes, seconds = divmod(round(value), 60)
    return f"{minutes} min {seconds:02d} s" if minutes else f"{seconds} s"
