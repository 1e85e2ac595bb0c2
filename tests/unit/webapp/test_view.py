"""What the page shows, from the shadow and the push answers."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from swan.core.codecs import PushAccepted, PushRejected
from swan.core.countdown import Countdown, Push
from webapp.view import (
    Board,
    HistoryRow,
    alarm_seconds,
    board_for,
    clock_digits,
    notice_for,
    page_fields,
    remember,
    source_label,
    waiting_board,
)


def countdown(**changes) -> Countdown:
    values = {
        "period_seconds": 6480.0,
        "deadline": 10_000.0,
        "phase": "counting",
        "last_push": Push(3520.0, "G030JF0553648RUH", "button"),
        "pushes": 7,
        "run_started_at": 1000.0,
        "failures": 2,
        "failed_at": None,
        "updated_at": 3520.0,
    }
    return Countdown(**{**values, **changes})


def test_108_minutes_need_three_minute_tiles_and_short_periods_two():
    assert clock_digits(6480) == 3
    assert clock_digits(600) == 2
    assert clock_digits(8) == 2
    assert clock_digits(60_000) == 4


def test_the_alarm_is_four_minutes_or_a_quarter_of_a_short_period():
    assert alarm_seconds(6480) == 240
    assert alarm_seconds(8) == 2
    assert alarm_seconds(0) == 0


def test_sources_read_as_people_call_them():
    assert [source_label(s) for s in ("web", "pi", "button", "cli")] == [
        "web",
        "Raspberry Pi",
        "IoT Button",
        "command line",
    ]
    assert source_label("something-new") == "something-new"


def test_the_board_shows_the_countdown_and_who_pushed_last():
    board = board_for(Board(), countdown(), version=12)
    assert board.known
    assert board.version == 12
    assert (board.deadline, board.period, board.alarm) == (10_000.0, 6480.0, 240.0)
    assert (board.pushes, board.failures, board.failed) == (7, 2, False)
    assert (board.last_by, board.last_source, board.last_at) == (
        "G030JF0553648RUH",
        "IoT Button",
        3520.0,
    )
    assert board.history == (HistoryRow(3520.0, "G030JF0553648RUH", "button", "IoT Button"),)


def test_a_failed_run_shows_when_it_ended():
    board = board_for(Board(), countdown(phase="failed", failed_at=10_000.0), version=3)
    assert board.failed
    assert board.failed_at == 10_000.0


def test_browsers_push_as_one_thing_so_the_page_names_them_a_web_visitor():
    board = board_for(Board(), countdown(last_push=Push(5.0, "web", "web")), version=1)
    assert board.last_by == "a web visitor"
    assert board.last_source == "web"


def test_before_the_first_push_the_board_keeps_the_period_it_expects():
    board = board_for(waiting_board(8.0), None, version=0)
    assert board.known
    assert (board.period, board.alarm, board.deadline) == (8.0, 2.0, 0.0)
    assert board.last_by == ""


def test_history_is_newest_first_without_repeats_and_bounded():
    history: tuple[HistoryRow, ...] = ()
    for at in (1.0, 3.0, 2.0, 3.0):
        history = remember(history, Push(at, f"pi-{int(at)}", "pi"), limit=3)
    assert [row.at for row in history] == [3.0, 2.0, 1.0]
    history = remember(history, Push(4.0, "pi-4", "pi"), limit=3)
    assert [row.at for row in history] == [4.0, 3.0, 2.0]
    assert remember(history, None, limit=2) == history[:2]


@given(st.lists(st.floats(min_value=0, max_value=1e10), max_size=40), st.integers(1, 20))
def test_history_never_grows_past_its_limit_and_stays_sorted(times, limit):
    history: tuple[HistoryRow, ...] = ()
    for at in times:
        history = remember(history, Push(at, "cli-1", "cli"), limit=limit)
    assert len(history) <= limit
    assert [row.at for row in history] == sorted((row.at for row in history), reverse=True)


def test_notices_for_each_answer():
    assert notice_for(PushAccepted("t", 1.0, 42)).kind == "ok"
    assert "#42" in notice_for(PushAccepted("t", 1.0, 42)).text
    too_fast = notice_for(PushRejected("t", "rate_limited", "slow down", 0.64))
    assert (too_fast.text, too_fast.kind) == ("Too fast. Wait 0.6 s.", "wait")
    assert notice_for(PushRejected("t", "rate_limited", "slow down", 75)).text == (
        "Too fast. Wait 1 min 15 s."
    )
    assert notice_for(PushRejected("t", "rate_limited", "slow down", 12)).text == (
        "Too fast. Wait 12 s."
    )
    assert notice_for(PushRejected("t", "rate_limited", "slow down")).text == "Too fast."
    early = notice_for(PushRejected("t", "too_early", "the prompt opens later", 100.0))
    assert (early.text, early.kind) == ("Not yet: the prompt opens later.", "refused")
    wrong = notice_for(PushRejected("t", "wrong_code", "the code is 4 8 15 16 23 42"))
    assert wrong.kind == "refused"
    assert wrong.text.startswith("Wrong code")
    assert notice_for(PushRejected(None, "invalid_request", "bad")).kind == "error"
    assert notice_for(None).kind == "error"


def test_with_a_push_history_the_list_is_the_history():
    recent = [Push(9.0, "pi-kitchen", "pi"), Push(8.0, "web", "web"), Push(7.0, "laptop", "cli")]
    seen = remember((), Push(1.0, "old", "pi"))
    board = board_for(Board(history=seen), countdown(), version=2, limit=2, recent=recent)
    assert [(row.by, row.label) for row in board.history] == [
        ("pi-kitchen", "Raspberry Pi"),
        ("a web visitor", "web"),
    ]
    empty = board_for(Board(history=seen), None, version=0, recent=[])
    assert empty.history == ()


def test_the_page_gets_the_board_the_link_the_rules_and_the_counters_width():
    board = board_for(waiting_board(6480), countdown(), version=5)
    fields = page_fields(board, "live", "swan")
    assert fields["deadline"] == 10_000.0
    assert fields["last_by"] == "G030JF0553648RUH"
    assert fields["history"] == [
        {"at": 3520.0, "by": "G030JF0553648RUH", "source": "button", "label": "IoT Button"}
    ]
    assert (fields["link"], fields["rule_set"], fields["digits"]) == ("live", "swan", 3)
    assert "sent_at" not in fields  # stamped when it is sent
