"""A piped client, device -> broker (swan.local.relay.FromDevice), on real sockets: a device
on one end of a socket pair, its connection made as a door makes it (a tappable stream), and
a broker listening on a unix socket that reads only when told. What the device sends reaches
the broker whole and in order however it is split, including what it sent before it was
piped; a broker that does not read stops the device being read; AWS's throughput limit
delays what exceeds it, both ways, and drops nothing; past 100 QoS 1 publishes the broker
has not acknowledged, the device waits, and past 100 messages the device has not
acknowledged, the messages wait while other packets go on; either side's end ends the
pipe."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from dataclasses import dataclass, field, replace

from support import mqtt_string, mqtt_varint
from tap_support import door_stream

from swan.local.client_link import ClientStream
from swan.local.core.broker_limits import AWS_LIMITS
from swan.local.core.policy import PolicyContext, Principal
from swan.local.relay import Admitted, Relay

WAIT = 10.0
KIB = 1024
ALLOW_ALL = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "iot:*", "Resource": "*"}],
}
UNLIMITED = replace(AWS_LIMITS, publishes_per_second=None, bytes_per_second=None)


def connect_packet(client_id: str, *, clean: bool = True) -> bytes:
    body = mqtt_string(b"MQTT") + bytes([4, 0x02 if clean else 0]) + (30).to_bytes(2, "big")
    body += mqtt_string(client_id)
    return b"\x10" + mqtt_varint(len(body)) + body


def publish(topic: str, payload: bytes) -> bytes:
    body = mqtt_string(topic) + payload
    return b"\x30" + mqtt_varint(len(body)) + body


@dataclass
class Broker:
    """A broker's listener: what one connection sent, read only while `reading` is set."""

    received: bytearray = field(default_factory=bytearray)
    reading: asyncio.Event = field(default_factory=asyncio.Event)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    writer: asyncio.StreamWriter | None = None

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        while True:
            await self.reading.wait()
            data = await reader.read(65536)
            if not data:
                break
            self.received += data
            self.arrived.set()
        self.ended.set()

    async def until(self, size: int) -> bytes:
        async with asyncio.timeout(WAIT):
            while len(self.received) < size:
                self.arrived.clear()
                await self.arrived.wait()
        return bytes(self.received)


@dataclass
class Piped:
    relay: Relay
    broker: Broker
    device: socket.socket
    transport: asyncio.Transport
    pipe: asyncio.Task[None]

    async def send(self, data: bytes) -> None:
        await asyncio.get_running_loop().sock_sendall(self.device, data)


@contextlib.asynccontextmanager
async def piped(tmp_path, *, limits=UNLIMITED, before=b"", broker_reads=True, resumed=False):
    """A device piped to a broker through a relay; `before`: what the device sends ahead of
    being piped (after its CONNECT), which the door's stream holds until the tap. `resumed`:
    it resumes a session (clean session 0) whose subscriptions the broker holds, so what the
    broker sends it is for them (a clean one is sent only what its own SUBSCRIBEs reach)."""
    loop = asyncio.get_running_loop()
    broker = Broker()
    if broker_reads:
        broker.reading.set()
    upstream = tmp_path / "broker.sock"
    server = await asyncio.start_unix_server(broker.serve, path=str(upstream))
    near, far = socket.socketpair()
    far.setblocking(False)
    reader, writer = await door_stream(near)
    stream = ClientStream(reader, writer)
    await loop.sock_sendall(far, connect_packet("pi", clean=not resumed) + before)
    relay = Relay(limits)
    first = await relay.first_connect("pi", stream)
    assert first is not None
    context = PolicyContext("pi", "pi", "us-east-1", "123456789012")
    admitted = Admitted("key", Principal.of([ALLOW_ALL], context), upstream)
    pipe = loop.create_task(relay.pipe(admitted, first[0], stream, writer))
    try:
        yield Piped(relay, broker, far, writer.transport, pipe)
    finally:
        far.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(pipe, WAIT)
        server.close()


def run(scenario):
    return asyncio.run(asyncio.wait_for(scenario(), WAIT * 3))


def test_what_the_device_sends_reaches_the_broker_whole_and_in_order_however_it_is_split(
    tmp_path,
):
    packets = [publish(f"swan/push/{n}", bytes([n]) * (n * 37)) for n in range(40)]
    early, late = b"".join(packets[:5]), b"".join(packets[5:])

    async def scenario():
        async with piped(tmp_path, before=early) as p:
            for start in range(0, len(late), 13):  # split anywhere, packets and headers too
                await p.send(late[start : start + 13])
            expected = connect_packet("pi") + early + late
            return await p.broker.until(len(expected)), expected, dict(p.relay.dropped)

    received, expected, dropped = run(scenario)
    assert received == expected
    assert dropped == {}


def test_a_broker_that_does_not_read_stops_the_device_being_read_until_it_does(tmp_path):
    payload = bytes(range(256)) * 64  # 16 KiB a publish
    flood = b"".join(publish("swan/flood", payload) for _ in range(256))  # 4 MiB

    async def scenario():
        async with piped(tmp_path, broker_reads=False) as p:
            sending = asyncio.create_task(p.send(flood))
            async with asyncio.timeout(WAIT):
                # the broker's buffer fills, then ... (a transport's reading has no event)
                while p.transport.is_reading():  # noqa: ASYNC110
                    await asyncio.sleep(0.01)
            held_up = not sending.done()  # ... the device is not read, and cannot send
            p.broker.reading.set()
            received = await p.broker.until(len(connect_packet("pi")) + len(flood))
            await sending
            return held_up, received, p.transport.is_reading()

    held_up, received, reading_again = run(scenario)
    assert held_up
    assert received == connect_packet("pi") + flood
    assert reading_again


SLOW = replace(UNLIMITED, bytes_per_second=64.0 * KIB)  # AWS's: 512 KB/s
BURST = b"".join(publish("swan/big", b"x" * (16 * KIB)) for _ in range(12))  # 192 KiB
MARKER = publish("swan/marker", b"last")


def test_what_exceeds_the_throughput_limit_is_delayed_and_nothing_is_dropped(tmp_path):
    async def scenario():
        loop = asyncio.get_running_loop()
        async with piped(tmp_path, limits=SLOW) as p:
            started = loop.time()
            await p.send(BURST + MARKER)
            expected = connect_packet("pi") + BURST + MARKER
            received = await p.broker.until(len(expected))
            return loop.time() - started, received == expected, dict(p.relay.dropped)

    elapsed, whole, dropped = run(scenario)
    # 64 KiB pass at once; the other 128 KiB and the marker wait 2 s at 64 KiB a second.
    assert elapsed >= 1.5
    assert whole
    assert dropped == {}


def test_what_the_device_is_sent_past_the_throughput_limit_is_delayed_and_nothing_dropped(
    tmp_path,
):
    """AWS: "Data received or sent over a client connection is processed at a maximum
    throughput rate": the broker's side is not read while the device's count is spent."""

    async def scenario():
        loop = asyncio.get_running_loop()
        async with piped(tmp_path, limits=SLOW, resumed=True) as p:
            await p.broker.until(len(connect_packet("pi")))
            assert p.broker.writer is not None
            started = loop.time()
            p.broker.writer.write(BURST + MARKER)
            received = bytearray()
            async with asyncio.timeout(WAIT):
                while len(received) < len(BURST + MARKER):
                    received += await loop.sock_recv(p.device, 65536)
            return loop.time() - started, bytes(received) == BURST + MARKER

    elapsed, whole = run(scenario)
    # 128 KiB over the 64 KiB a second allows at once: held 2 s, with what came with them.
    assert elapsed >= 1.5
    assert whole


def qos1_publish(topic: str, packet_id: int, payload: bytes = b"{}") -> bytes:
    body = mqtt_string(topic) + packet_id.to_bytes(2, "big") + payload
    return b"\x32" + mqtt_varint(len(body)) + body


def pubacks(packet_ids: range) -> bytes:
    return b"".join(b"\x40\x02" + n.to_bytes(2, "big") for n in packet_ids)


def test_past_100_unacknowledged_publishes_the_device_waits_for_the_brokers_pubacks(tmp_path):
    """AWS: "When this quota is reached, no new publish requests are accepted from this
    client until a PUBACK message is returned by the server" (100)."""
    sent = [qos1_publish("swan/push/pi", n) for n in range(1, 151)]
    head = connect_packet("pi")
    first_100 = len(head) + sum(map(len, sent[:100]))

    async def scenario():
        async with piped(tmp_path) as p:
            await p.send(b"".join(sent))
            await p.broker.until(first_100)
            await asyncio.sleep(0.3)  # time for more to arrive, were it let through
            at_first = len(p.broker.received)
            assert p.broker.writer is not None
            p.broker.writer.write(pubacks(range(1, 2)))
            await p.broker.until(first_100 + len(sent[100]))
            await asyncio.sleep(0.3)
            after_one = len(p.broker.received)
            p.broker.writer.write(pubacks(range(2, 151)))
            everything = await p.broker.until(len(head) + sum(map(len, sent)))
            return at_first, after_one, everything, dict(p.relay.dropped)

    at_first, after_one, everything, dropped = run(scenario)
    assert at_first == first_100
    assert after_one == first_100 + len(sent[100])  # one answer, room for one more
    assert everything == head + b"".join(sent)  # in order, none lost
    assert dropped == {}


async def device_reads(p: Piped, size: int) -> bytes:
    loop = asyncio.get_running_loop()
    received = bytearray()
    async with asyncio.timeout(WAIT):
        while len(received) < size:
            received += await loop.sock_recv(p.device, 65536)
    return bytes(received)


async def device_reads_nothing(p: Piped, seconds: float = 0.3) -> bool:
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await asyncio.get_running_loop().sock_recv(p.device, 1)
            return False
    return True


PINGRESP = b"\xd0\x00"


def test_past_100_unacknowledged_messages_to_the_device_wait_and_other_packets_go_on(tmp_path):
    """AWS: "When this quota is reached, no new publish requests are sent to the client until
    the client acknowledges the publish requests" (100). What is not a message does not
    wait behind them (a PINGRESP, here), else a device would time its connection out."""
    sent = [qos1_publish(f"swan/push/pi/{n}", n) for n in range(1, 151)]

    async def scenario():
        async with piped(tmp_path, resumed=True) as p:
            await p.broker.until(len(connect_packet("pi")))
            assert p.broker.writer is not None
            p.broker.writer.write(b"".join(sent) + PINGRESP)
            first = await device_reads(p, sum(map(len, sent[:100])) + len(PINGRESP))
            none_yet = await device_reads_nothing(p)
            await p.send(pubacks(range(1, 2)))
            second = await device_reads(p, len(sent[100]))
            none_after_one = await device_reads_nothing(p)
            await p.send(pubacks(range(2, 102)))
            rest = await device_reads(p, sum(map(len, sent[101:])))
            return first, none_yet, second, none_after_one, rest, dict(p.relay.dropped)

    first, none_yet, second, none_after_one, rest, dropped = run(scenario)
    assert first == b"".join(sent[:100]) + PINGRESP  # the PINGRESP went past the 50 waiting
    assert none_yet
    assert second == sent[100]  # one answer, room for one more
    assert none_after_one
    assert rest == b"".join(sent[101:])  # in order, none lost
    assert dropped == {}


def test_past_the_high_water_of_waiting_messages_the_broker_is_not_read_and_none_is_lost(
    tmp_path, monkeypatch
):
    """More than a read of the broker's socket waits (1.2 MB), past a high water of 64 KiB:
    the broker is read again as the device's PUBACKs let the messages go on."""
    monkeypatch.setattr("swan.local.relay.PARKED_HIGH_WATER", 64 * KIB)
    sent = [qos1_publish("swan/push/pi", n, bytes(1200)) for n in range(1, 1001)]

    async def scenario():
        async with piped(tmp_path, resumed=True) as p:
            await p.broker.until(len(connect_packet("pi")))
            assert p.broker.writer is not None
            p.broker.writer.write(b"".join(sent))
            received = b""
            for start in range(0, 1000, 100):
                expected = b"".join(sent[: start + 100])
                received += await device_reads(p, len(expected) - len(received))
                await p.send(pubacks(range(start + 1, start + 101)))
            return received, dict(p.relay.dropped)

    received, dropped = run(scenario)
    assert received == b"".join(sent)
    assert dropped == {}


def test_the_device_ending_ends_the_pipe_and_closes_the_broker(tmp_path):
    async def scenario():
        async with piped(tmp_path) as p:
            await p.send(publish("swan/bye", b"."))
            p.device.shutdown(socket.SHUT_WR)
            await asyncio.wait_for(p.pipe, WAIT)
            await asyncio.wait_for(p.broker.ended.wait(), WAIT)
            return bytes(p.broker.received)

    assert run(scenario).endswith(publish("swan/bye", b"."))


def test_the_broker_closing_closes_the_device_and_ends_the_pipe(tmp_path):
    async def scenario():
        loop = asyncio.get_running_loop()
        async with piped(tmp_path) as p:
            await p.broker.until(len(connect_packet("pi")))
            assert p.broker.writer is not None
            p.broker.writer.write(b"\x20\x02\x00\x00")  # CONNACK
            p.broker.writer.close()
            await asyncio.wait_for(p.pipe, WAIT)
            heard = b""
            async with asyncio.timeout(WAIT):
                while chunk := await loop.sock_recv(p.device, 65536):
                    heard += chunk
            return heard

    assert run(scenario) == b"\x20\x02\x00\x00"


def test_a_second_connect_disconnects_after_the_packets_before_it_reach_the_broker(tmp_path):
    before = publish("swan/a", b"1") + publish("swan/b", b"2")

    async def scenario():
        loop = asyncio.get_running_loop()
        async with piped(tmp_path) as p:
            await p.send(before + connect_packet("pi") + publish("swan/c", b"3"))
            await asyncio.wait_for(p.pipe, WAIT)
            await asyncio.wait_for(p.broker.ended.wait(), WAIT)
            async with asyncio.timeout(WAIT):
                gone = await loop.sock_recv(p.device, 65536) == b""
            return bytes(p.broker.received), gone, dict(p.relay.dropped)

    received, gone, dropped = run(scenario)
    assert received == connect_packet("pi") + before
    assert gone
    assert dropped == {"a second CONNECT": 1}
