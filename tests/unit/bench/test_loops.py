"""The bench's load loops, driven by fake answerers: bounded by count, time and timeouts."""

import itertools

import pytest

from swan.bench.loops import Replies, pipelined, request_payload, sequential, token_of
from swan.bench.push import click_latencies


class TickingClock:
    """Every reading is one millisecond after the previous one."""

    def __init__(self):
        self._ticks = itertools.count()

    def __call__(self):
        return next(self._ticks) / 1000


def test_a_request_payload_carries_its_token_as_the_client_token():
    assert token_of(request_payload("s42")) == "s42"


@pytest.mark.parametrize("payload", [b"not json", b"[]", b'{"clientToken": 7}', b"{}"])
def test_an_answer_without_a_token_has_the_empty_token(payload):
    assert token_of(payload) == ""


def test_sequential_times_each_request_to_its_answer():
    clock = TickingClock()
    replies = Replies(clock)
    latencies = sequential(
        replies.record, replies, prefix="s", count=5, seconds=60, timeout=1, clock=clock
    )
    assert latencies.seconds == pytest.approx([0.001] * 5)
    assert latencies.lost == 0


def test_sequential_counts_unanswered_requests_as_lost():
    replies = Replies()

    def send(token):
        if token != "s2":
            replies.record(token)

    latencies = sequential(send, replies, prefix="s", count=4, seconds=60, timeout=0.01)
    assert len(latencies.seconds) == 3
    assert latencies.lost == 1


def test_sequential_stops_at_its_time_limit():
    clock = TickingClock()
    replies = Replies(clock)
    latencies = sequential(
        replies.record, replies, prefix="s", count=1000, seconds=0.0095, timeout=1, clock=clock
    )
    assert len(latencies.seconds) < 10


def test_answers_of_another_run_are_ignored():
    replies = Replies()
    replies.expect("p")
    replies.record("s1")
    replies.record("p1")
    replies.record("p1")
    assert replies.count == 1


def test_pipelined_counts_the_answers_within_its_time():
    replies = Replies()
    throughput = pipelined(
        replies.record, replies, prefix="p", window=10, seconds=0.05, timeout=1, limit=500
    )
    assert 0 < throughput.completed <= 500
    assert throughput.window == 10
    assert throughput.seconds > 0


def test_pipelined_keeps_at_most_window_requests_in_flight_and_gives_up_on_a_stall():
    replies = Replies()
    sent = []
    throughput = pipelined(
        sent.append, replies, prefix="p", window=3, seconds=10, timeout=0.05, limit=100
    )
    assert sent == ["p0", "p1", "p2"]
    assert throughput.completed == 0
    assert throughput.seconds < 1


# ---------------------------------------------------------------- push: clicks to documents


def test_each_click_runs_to_the_first_documents_message_that_counts_it():
    sent = [0.000, 0.050, 0.100]
    documents = [(11, 0.010), (12, 0.070), (13, 0.104)]
    latencies = click_latencies(sent, 11, documents)
    assert latencies.seconds == pytest.approx([0.010, 0.020, 0.004])
    assert latencies.lost == 0


def test_one_coalesced_write_covers_every_click_before_it():
    sent = [0.000, 0.010, 0.020]
    documents = [(3, 0.060)]
    assert click_latencies(sent, 1, documents).seconds == pytest.approx([0.060, 0.050, 0.040])


def test_a_documents_message_from_before_the_click_does_not_count():
    sent = [0.100]
    documents = [(5, 0.050), (5, 0.120)]
    assert click_latencies(sent, 5, documents).seconds == pytest.approx([0.020])


def test_a_click_no_documents_message_covers_is_lost():
    latencies = click_latencies([0.0, 0.05], 1, [(1, 0.01)])
    assert latencies.seconds == pytest.approx([0.01])
    assert latencies.lost == 1
