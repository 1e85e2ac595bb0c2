"""gateway on in-memory transports: both paths measured in turn, each PUBACK an answer."""

from concurrent.futures import Future

import pytest

from swan.adapters.mqtt import MemoryBroker, MqttError
from swan.bench import gateway
from swan.bench.loops import Load

LOAD = Load(samples=10, seconds=0.05, window=5, timeout=0.02)


class DroppedConnection:
    """A transport whose connection is gone: every publish fails, nothing is acknowledged."""

    def __init__(self):
        self.attempts = []

    def publish(self, topic, payload, *, qos=1):
        self.attempts.append((topic, payload, qos))
        failed = Future()
        failed.set_exception(MqttError("publish", "the connection was lost"))
        return failed

    def subscribe(self, topic_filter, handler, *, qos=1):
        raise NotImplementedError

    def unsubscribe(self, topic_filter):
        raise NotImplementedError

    def close(self):
        pass


def test_each_path_gets_every_sample_and_its_throughput():
    broker = MemoryBroker()
    figures = gateway.measure(
        broker.connect("direct"), broker.connect("gateway"), topic="t", load=LOAD, say=print
    )
    for path in (figures.direct, figures.gateway):
        assert len(path.round_trip.seconds) == LOAD.samples
        assert path.round_trip.lost == 0
        assert path.throughput.completed > 0
        assert path.throughput.window == LOAD.window
        assert path.throughput.seconds == pytest.approx(LOAD.seconds)
    assert {message.topic for message in broker.published} == {"t"}


def test_the_paths_take_turns_and_the_first_alternates():
    order = [(n, path) for n, path in gateway._turns(("direct", "gateway"))]
    assert order[:4] == [(0, "direct"), (0, "gateway"), (1, "gateway"), (1, "direct")]
    assert len(order) == 2 * gateway.ROUNDS


def test_a_publish_that_fails_is_never_answered():
    broker = MemoryBroker()
    dropped = DroppedConnection()
    figures = gateway.measure(broker.connect("direct"), dropped, topic="t", load=LOAD, say=print)
    assert figures.gateway.round_trip.seconds == ()
    assert figures.gateway.round_trip.lost > 0
    assert figures.gateway.throughput.completed == 0
    assert {topic for topic, _, _ in dropped.attempts} == {"t"}
    assert len(figures.direct.round_trip.seconds) == LOAD.samples


def test_the_longest_it_takes_covers_both_paths_in_every_round():
    assert gateway.longest(LOAD) >= 2 * (3 * LOAD.seconds + 4 * gateway.ROUNDS * LOAD.timeout)
