"""The `History` port: one behaviour, two stores. Every test runs against SQLite (local) and
against DynamoDB (AWS, moto in-process, the table made as the template declares it)."""

from __future__ import annotations

import boto3
import pytest
from aws_support import create_history_table, fake_credentials
from moto import mock_aws
from support import unique

from swan.adapters.history import Duplicate, Entry, Recorded, SqliteHistory
from swan.adapters.history_dynamo import DynamoHistory, HistoryContendedError, sort_key
from swan.core.countdown import Push, Refused

T0 = 1_764_087_120.123456


@pytest.fixture(scope="module")
def aws():
    """One moto account for the module (starting moto costs more than a test); each test
    gets a table of its own."""
    with pytest.MonkeyPatch.context() as patch:
        fake_credentials(patch)
        with mock_aws():
            yield


@pytest.fixture
def dynamodb(aws):  # noqa: ARG001  (inside the module's moto account)
    return boto3.client("dynamodb")


@pytest.fixture(params=["sqlite", "dynamodb"])
def history(request, tmp_path):
    if request.param == "sqlite":
        store = SqliteHistory(tmp_path / "history.db")
        yield store
        store.close()
        return
    client = request.getfixturevalue("dynamodb")
    # a small page size, so that reading goes through DynamoDB's pagination
    yield DynamoHistory(client, create_history_table(client, unique("history")), page_size=2)


def push(at=T0, by="pi-kitchen", source="pi", click_type="SINGLE"):
    return Push(at, by, source, click_type)


def record(history, at=T0, principal="thing/pi-kitchen", token=None, interval=1.0, **fields):
    return history.record(
        push(at, **fields), principal=principal, client_token=token, min_interval=interval
    )


def test_pushes_are_numbered_from_one_without_gaps(history):
    assert [record(history, T0 + i, token=f"t{i}") for i in range(3)] == [
        Recorded(1),
        Recorded(2),
        Recorded(3),
    ]


def test_a_principal_pushing_too_fast_is_refused_with_the_wait(history):
    record(history, T0)
    refused = record(history, T0 + 0.25)
    assert isinstance(refused, Refused)
    assert refused.reason == "rate_limited"
    assert refused.retry_after == pytest.approx(0.75)
    assert record(history, T0 + 1.0) == Recorded(2)


def test_the_limit_is_per_principal(history):
    record(history, T0, principal="thing/a")
    assert record(history, T0 + 0.1, principal="thing/b") == Recorded(2)
    assert record(history, T0 + 0.2, principal="web/alice") == Recorded(3)


def test_no_interval_means_no_limit(history):
    record(history, T0, interval=0)
    assert record(history, T0, interval=0) == Recorded(2)


def test_a_refused_push_is_not_recorded_and_takes_no_number(history):
    record(history, T0)
    record(history, T0 + 0.5)
    assert [number for number, _ in history.since(0)] == [1]
    assert record(history, T0 + 2, principal="thing/other") == Recorded(2)


def test_the_limit_counts_from_the_latest_push_even_if_stamped_out_of_order(history):
    record(history, T0 + 10, interval=0)
    record(history, T0, interval=0)  # another handler's clock was behind
    assert isinstance(record(history, T0 + 10.5), Refused)


def test_a_redelivered_request_is_the_push_it_was(history):
    assert record(history, T0, token="same") == Recorded(1)
    # redelivered at once: recognised before the rate limit would refuse it
    assert record(history, T0 + 0.1, token="same") == Duplicate(1)
    assert record(history, T0 + 60, token="same") == Duplicate(1)
    assert [number for number, _ in history.since(0)] == [1]


def test_the_same_token_from_another_principal_is_another_push(history):
    record(history, T0, token="same")
    assert record(history, T0, principal="thing/other", token="same") == Recorded(2)


def test_requests_without_a_token_are_never_duplicates(history):
    record(history, T0, interval=0)
    assert record(history, T0 + 1, interval=0) == Recorded(2)


def test_since_gives_the_later_pushes_oldest_first_as_they_were(history):
    record(history, T0, principal="button/G030", by="G030", source="button", click_type="LONG")
    record(history, T0 + 1.5, principal="web/alice", by="web", source="web")
    record(history, T0 + 3.25, token="x")
    assert history.since(0) == [
        (1, Push(T0, "G030", "button", "LONG")),
        (2, Push(T0 + 1.5, "web", "web", "SINGLE")),
        (3, Push(T0 + 3.25, "pi-kitchen", "pi", "SINGLE")),
    ]
    assert [number for number, _ in history.since(1)] == [2, 3]
    assert history.since(3) == []


def test_since_reads_past_many_pages(history):
    for i in range(7):
        record(history, T0 + i, interval=0)
    assert [number for number, _ in history.since(2)] == [3, 4, 5, 6, 7]


def test_recent_gives_the_latest_pushes_newest_first_with_their_principal(history):
    for i, principal in enumerate(["thing/a", "thing/b", "web/c"]):
        record(history, T0 + i, principal=principal, by=principal)
    assert history.recent(2) == [
        Entry(3, push(T0 + 2, by="web/c"), "web/c"),
        Entry(2, push(T0 + 1, by="thing/b"), "thing/b"),
    ]
    assert [entry.number for entry in history.recent(10)] == [3, 2, 1]
    assert history.recent(0) == []


def test_counters_start_empty_and_count_by_name(history):
    assert history.counters() == {}
    history.count("malformed_click")
    history.count("malformed_click")
    history.count("bad_topic")
    assert history.counters() == {"malformed_click": 2, "bad_topic": 1}


def test_an_empty_history_has_no_pushes(history):
    assert history.since(0) == []
    assert history.recent(5) == []


# ---------------------------------------------------------------- DynamoDB only: races


def race_before_writing(client, racing, times=1):
    """Let `racing` (another handler) record between our read and our write, `times` times."""
    left = [times]

    def interfere(**_):
        if left[0] > 0:
            left[0] -= 1
            racing()

    client.meta.events.register("before-call.dynamodb.TransactWriteItems", interfere)


def test_a_push_that_lost_the_race_for_a_number_takes_the_next(dynamodb):
    table = create_history_table(dynamodb, unique("history"))
    ours = DynamoHistory(dynamodb, table, sleep=lambda _: None)
    theirs = DynamoHistory(boto3.client("dynamodb"), table)
    race_before_writing(
        dynamodb,
        lambda: theirs.record(push(), principal="thing/b", client_token=None, min_interval=1),
    )
    assert ours.record(push(), principal="thing/a", client_token=None, min_interval=1) == Recorded(
        2
    )
    assert [entry.principal for entry in ours.recent(5)] == ["thing/a", "thing/b"]


def test_two_racing_pushes_of_one_principal_cannot_both_pass_the_limit(dynamodb):
    table = create_history_table(dynamodb, unique("history"))
    ours = DynamoHistory(dynamodb, table, sleep=lambda _: None)
    theirs = DynamoHistory(boto3.client("dynamodb"), table)
    race_before_writing(
        dynamodb,
        lambda: theirs.record(push(), principal="thing/a", client_token="1", min_interval=1),
    )
    outcome = ours.record(push(T0 + 0.5), principal="thing/a", client_token="2", min_interval=1)
    assert isinstance(outcome, Refused)
    assert [number for number, _ in ours.since(0)] == [1]


def test_a_racing_redelivery_is_recognised(dynamodb):
    table = create_history_table(dynamodb, unique("history"))
    ours = DynamoHistory(dynamodb, table, sleep=lambda _: None)
    theirs = DynamoHistory(boto3.client("dynamodb"), table)
    race_before_writing(
        dynamodb,
        lambda: theirs.record(push(), principal="thing/a", client_token="same", min_interval=1),
    )
    outcome = ours.record(push(), principal="thing/a", client_token="same", min_interval=1)
    assert outcome == Duplicate(1)


def test_each_write_attempt_is_idempotent_with_a_token_of_its_own(dynamodb):
    # botocore resends a call whose answer was lost with the same parameters; the token
    # makes DynamoDB take the resend as the write it already did (within 10 minutes).
    table = create_history_table(dynamodb, unique("history"))
    ours = DynamoHistory(dynamodb, table, sleep=lambda _: None)
    theirs = DynamoHistory(boto3.client("dynamodb"), table)
    tokens = []
    dynamodb.meta.events.register(
        "provide-client-params.dynamodb.TransactWriteItems",
        lambda params, **_: tokens.append(params.get("ClientRequestToken")),
    )
    race_before_writing(
        dynamodb,
        lambda: theirs.record(push(), principal="thing/b", client_token=None, min_interval=1),
    )
    assert ours.record(push(), principal="thing/a", client_token=None, min_interval=1) == Recorded(
        2
    )
    assert len(tokens) == 2  # the attempt that lost the race, then the one that won
    assert all(isinstance(token, str) and 1 <= len(token) <= 36 for token in tokens)
    assert tokens[0] != tokens[1]


def test_losing_every_race_is_an_error_lambda_retries(dynamodb):
    table = create_history_table(dynamodb, unique("history"))
    ours = DynamoHistory(dynamodb, table, max_attempts=3, sleep=lambda _: None)
    theirs = DynamoHistory(boto3.client("dynamodb"), table)
    counter = iter(range(10_000))
    race_before_writing(
        dynamodb,
        lambda: theirs.record(
            push(), principal=f"thing/{next(counter)}", client_token=None, min_interval=1
        ),
        times=3,
    )
    with pytest.raises(HistoryContendedError, match="after 3 attempts"):
        ours.record(push(), principal="thing/a", client_token=None, min_interval=1)


def test_screening_answers_as_recording_would_and_records_nothing(history):
    def screen(at, token=None, principal="thing/pi-kitchen"):
        return history.screen(at, principal=principal, client_token=token, min_interval=1.0)

    assert screen(T0, token="t") is None
    assert record(history, T0, token="t") == Recorded(1)
    assert screen(T0 + 0.1, token="t") == Duplicate(1)
    refused = screen(T0 + 0.25, token="u")
    assert isinstance(refused, Refused)
    assert refused.retry_after == pytest.approx(0.75)
    assert screen(T0 + 0.25, principal="thing/other") is None
    assert screen(T0 + 1.5, token="u") is None
    assert [number for number, _ in history.since(0)] == [1]


def test_one_writer_at_a_time_until_it_gives_the_turn_back(history):
    assert history.claim_writer("a", now=T0, hold=5) is None
    assert history.claim_writer("b", now=T0 + 1, hold=5) == T0 + 5  # a's turn until then
    history.release_writer("b", not_before=T0 + 1)  # not b's to give back: no effect
    assert history.claim_writer("b", now=T0 + 1, hold=5) == T0 + 5
    history.release_writer("a", not_before=T0 + 2)
    assert history.claim_writer("b", now=T0 + 1.5, hold=5) == T0 + 2
    assert history.claim_writer("b", now=T0 + 2, hold=5) is None


def test_a_writer_that_died_loses_its_turn_when_the_claim_lapses(history):
    assert history.claim_writer("dead", now=T0, hold=5) is None
    assert history.claim_writer("next", now=T0 + 5, hold=5) is None
    history.release_writer("dead", not_before=T0 + 60)  # too late: the turn is next's
    assert history.claim_writer("other", now=T0 + 6, hold=5) == T0 + 10


def test_what_the_shadow_counts_only_grows(history):
    assert history.written() == 0
    history.mark_written(3)
    history.mark_written(2)  # a slower writer's older news
    assert history.written() == 3
    history.mark_written(7)
    assert history.written() == 7


def test_push_numbers_sort_as_text_in_number_order():
    assert sorted([sort_key(10), sort_key(9), sort_key(100)]) == [
        sort_key(9),
        sort_key(10),
        sort_key(100),
    ]
