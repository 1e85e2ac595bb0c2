"""gateway The device gateway: one device's QoS 1 publishes, through the gateway and directly.

The same device (its certificate, its client id, the same bytes as the other phases) once
connects through the stack's device port, where the gateway terminates mutual TLS and pipes
the bytes to the broker's device listener, and once directly to a private Mosquitto with a
mutual-TLS listener (`swan.bench.direct`), what devices had before the gateway.

What is timed is publish -> PUBACK, on a topic no client subscribes to. A pub -> sub pair
through the gateway would time one of the stack's handlers too: every topic the device
policy lets a device publish is one the rules engine (`iotbutton/+`, `swan/push/+`) or the
shadow service (`$aws/things/...`) answers, and no topic a device may publish is one a
device may receive. On the stack's broker the device ACL refuses the topic; MQTT 3.1.1
acknowledges a refused QoS 1 publish all the same and drops it, as the direct broker drops a
message nobody subscribed to. Both paths thus carry the same packets both ways. The gateway
holds every publish to AWS IoT Core's policies and limits: the bench device gets a second
policy of its own that lets it publish to the bench's topic (`allow_publish`; every policy
attached to a certificate applies), and the bench's stack lifts the two rate limits (100
publishes and 512 KiB a second per connection), which would measure AWS's quota, not the
gateway.

The two paths take turns, in `ROUNDS` short runs each (direct first in one round, the
gateway first in the next), so that a busy spell of a shared machine falls on both alike;
each path's figures gather its runs.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Protocol

from swan.bench.loops import WARM_UP, Replies, pipelined, request_payload, sequential
from swan.bench.measured import GatewayFigures, Latencies, PathFigures, Throughput

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence
    from concurrent.futures import Future

    from swan.adapters.mqtt import Transport
    from swan.bench.loops import Load
ROUNDS = 5


class _CertificateLike(Protocol):
    @property
    def arn(self) -> str: ...
    @property
    def common_name(self) -> str | None: ...


class PolicyRegistry(Protocol):
    """What `allow_publish` needs of the stack's registry (swan.local.registry)."""

    def create_policy(self, name: str, document: str) -> object: ...
    def attach_policy(self, name: str, target: str) -> None: ...
    def certificates(self, *, ca_id: str | None = None) -> Sequence[_CertificateLike]: ...


def allow_publish(registry: PolicyRegistry, thing: str, topic: str) -> None:
    """Attach to `thing`'s certificate a policy of its own that allows publishing to `topic`,
    beside the DevicePolicy it has: no device may publish where nobody answers."""
    document = {
        "Version": "2012-10-17",
        "Statement": {
            "Effect": "Allow",
            "Action": "iot:Publish",
            "Resource": f"arn:aws:iot:*:*:topic/{topic}",
        },
    }
    name = f"{thing}-bench"
    registry.create_policy(name, json.dumps(document))
    certificate = next(c for c in registry.certificates() if c.common_name == thing)
    registry.attach_policy(name, certificate.arn)


def measure(
    direct: Transport,
    gateway: Transport,
    *,
    topic: str,
    load: Load,
    say: Callable[[str], None],
) -> GatewayFigures:
    """Round trips one at a time, then throughput with `load.window` publishes in flight;
    each path gets `load.samples` round trips and `load.seconds` of throughput in all."""
    paths = (_Path(direct, topic), _Path(gateway, topic))
    for path in paths:
        sequential(
            path.send,
            path.replies,
            prefix="w",
            count=WARM_UP,
            seconds=load.seconds,
            timeout=load.timeout,
        )
    seconds = load.seconds / ROUNDS
    say(
        f"measuring direct mTLS and gateway publish -> PUBACK in turn ({load.samples} messages "
        f"each, at most {load.seconds:g} s)"
    )
    for n, path in _turns(paths):
        path.round_trips.append(
            sequential(
                path.send,
                path.replies,
                prefix=f"s{n}-",
                count=math.ceil(load.samples / ROUNDS),
                seconds=seconds,
                timeout=load.timeout,
            )
        )
    say(
        f"measuring direct mTLS and gateway throughput in turn, {ROUNDS} runs of {seconds:g} s "
        f"each, {load.window} in flight"
    )
    for n, path in _turns(paths):
        path.throughputs.append(
            pipelined(
                path.send,
                path.replies,
                prefix=f"p{n}-",
                window=load.window,
                seconds=seconds,
                timeout=load.timeout,
            )
        )
    direct_figures, gateway_figures = (path.figures(load.window) for path in paths)
    return GatewayFigures(direct=direct_figures, gateway=gateway_figures)


def longest(load: Load) -> float:
    """The longest `measure` takes, connecting aside: for each path, the warm-up, then in
    every round a latency run (which stops starting requests at its share of the time, then
    waits at most one timeout) and a throughput run (its share, then at most three)."""
    per_path = 3 * load.seconds + (1 + 4 * ROUNDS) * load.timeout
    return 2 * per_path


def _turns(paths: tuple[_Path, _Path]) -> Iterator[tuple[int, _Path]]:
    """(round, path) in the order they run: each round, both paths, the first alternating."""
    for n in range(ROUNDS):
        for path in paths if n % 2 == 0 else reversed(paths):
            yield n, path


class _Path:
    """One connection: publishes a request, notes its PUBACK as the answer, keeps its runs."""

    def __init__(self, transport: Transport, topic: str) -> None:
        self._transport = transport
        self._topic = topic
        self.replies = Replies()
        self.round_trips: list[Latencies] = []
        self.throughputs: list[Throughput] = []

    def send(self, token: str) -> None:
        def acknowledged(sent: Future[None]) -> None:
            if sent.exception() is None:  # a failed publish stays unanswered: lost
                self.replies.record(token)

        self._transport.publish(self._topic, request_payload(token)).add_done_callback(acknowledged)

    def figures(self, window: int) -> PathFigures:
        """The runs of this path, gathered: every latency sample, the answers over the time."""
        return PathFigures(
            Latencies(
                tuple(sample for run in self.round_trips for sample in run.seconds),
                sum(run.lost for run in self.round_trips),
            ),
            Throughput(
                sum(run.completed for run in self.throughputs),
                sum(run.seconds for run in self.throughputs),
                window,
            ),
        )
