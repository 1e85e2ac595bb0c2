"""The WebSocket side of MQTT over WebSocket (swan.local.websocket), server against a wsproto
client on a local socket pair: the upgrade decided, refused or not one at all; MQTT bytes
however the client frames them; pings, closes, text and protocol errors (RFC 6455)."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass, field

import pytest
from tap_support import Collector, door_stream
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Ping,
    Pong,
    RejectConnection,
    RejectData,
    Request,
    TextMessage,
)

from swan.local.websocket import (
    Refusal,
    Upgrade,
    WebSocketStream,
    accept,
    binary_frame_header,
)

WAIT = 5
CONNACK = b"\x20\x02\x00\x00"
PUBLISH = b"\x30\x07\x00\x03a/bhi"  # QoS 0, topic "a/b", payload "hi"


@dataclass
class Client:
    """A WebSocket client (wsproto) on one end of the pair."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    ws: WSConnection = field(default_factory=lambda: WSConnection(ConnectionType.CLIENT))
    pending: list[object] = field(default_factory=list)

    def send(self, *events: object) -> None:
        for event in events:
            self.writer.write(self.ws.send(event))

    def send_raw(self, data: bytes) -> None:
        self.writer.write(data)

    async def event(self) -> object | None:
        """The next event from the server, None once it has closed the connection."""
        while not self.pending:
            data = await asyncio.wait_for(self.reader.read(65536), WAIT)
            self.ws.receive_data(data or None)
            self.pending.extend(self.ws.events())
            if not data and not self.pending:
                return None
        return self.pending.pop(0)

    async def at_eof(self) -> bool:
        return await asyncio.wait_for(self.reader.read(1), WAIT) == b""


@dataclass
class Served:
    """What `accept` was asked to decide, and what it returned."""

    upgrades: list[Upgrade] = field(default_factory=list)
    stream: WebSocketStream | None = None


async def serve(decide=None) -> tuple[Client, asyncio.Task[WebSocketStream | None], Served]:
    """`accept` on one end of a socket pair (deciding with `decide`, else accepting), and a
    client on the other."""
    server_end, client_end = socket.socketpair()
    reader, writer = await door_stream(server_end)
    served = Served()

    def record(upgrade: Upgrade) -> Refusal | None:
        served.upgrades.append(upgrade)
        return decide(upgrade) if decide else None

    accepting = asyncio.create_task(accept(reader, writer, record))
    client_reader, client_writer = await asyncio.open_connection(sock=client_end)
    return Client(client_reader, client_writer), accepting, served


async def upgraded(subprotocols=("mqtt",)) -> tuple[Client, WebSocketStream]:
    client, accepting, _ = await serve()
    client.send(Request(host="localhost:8443", target="/mqtt", subprotocols=list(subprotocols)))
    stream = await asyncio.wait_for(accepting, WAIT)
    assert stream is not None
    assert isinstance(await client.event(), AcceptConnection)
    return client, stream


def run(scenario):
    return asyncio.run(asyncio.wait_for(scenario(), WAIT * 2))


# ---------------------------------------------------------------- the upgrade


def test_an_upgrade_is_decided_on_its_target_host_and_headers_and_accepted_as_mqtt():
    async def scenario():
        client, accepting, served = await serve()
        client.send(
            Request(
                host="localhost:8443",
                target="/mqtt?X-Amz-Algorithm=AWS4-HMAC-SHA256",
                subprotocols=["mqtt"],
                extra_headers=[(b"X-Custom", b"Value")],
            )
        )
        stream = await asyncio.wait_for(accepting, WAIT)
        answer = await client.event()
        return served, stream, answer

    served, stream, answer = run(scenario)
    assert isinstance(stream, WebSocketStream)
    assert isinstance(answer, AcceptConnection)
    assert answer.subprotocol == "mqtt"
    (upgrade,) = served.upgrades
    assert upgrade.target == "/mqtt?X-Amz-Algorithm=AWS4-HMAC-SHA256"
    assert upgrade.host == "localhost:8443"
    assert upgrade.headers["x-custom"] == "Value"
    assert upgrade.headers["sec-websocket-protocol"] == "mqtt"


def test_a_refused_upgrade_is_answered_with_its_status_and_reason():
    async def scenario():
        client, accepting, _ = await serve(lambda _upgrade: Refusal(403, "not signed"))
        client.send(Request(host="localhost", target="/mqtt", subprotocols=["mqtt"]))
        stream = await asyncio.wait_for(accepting, WAIT)
        answer, body = await client.event(), await client.event()
        return stream, answer, body

    stream, answer, body = run(scenario)
    assert stream is None
    assert isinstance(answer, RejectConnection)
    assert answer.status_code == 403
    assert dict(answer.headers)[b"content-type"] == b"text/plain"
    assert isinstance(body, RejectData)
    assert body.data == b"not signed"


def test_a_request_that_is_no_upgrade_is_answered_4xx_without_a_decision():
    async def scenario():
        client, accepting, served = await serve()
        client.send_raw(b"GET /mqtt HTTP/1.1\r\nHost: localhost\r\n\r\n")
        stream = await asyncio.wait_for(accepting, WAIT)
        status_line = await asyncio.wait_for(client.reader.readline(), WAIT)
        return stream, served, status_line

    stream, served, status_line = run(scenario)
    assert stream is None
    assert served.upgrades == []
    assert 400 <= int(status_line.split()[1]) < 500


def test_a_client_gone_before_its_request_ended_is_no_upgrade():
    async def scenario():
        client, accepting, served = await serve()
        client.send_raw(b"GET /mqtt HTTP/1.1\r\nHost: loc")
        client.writer.close()
        return await asyncio.wait_for(accepting, WAIT), served

    stream, served = run(scenario)
    assert stream is None
    assert served.upgrades == []


# ---------------------------------------------------------------- MQTT's bytes


def test_one_packet_split_over_fragments_reads_whole():
    async def scenario():
        client, stream = await upgraded()
        client.send(
            BytesMessage(data=PUBLISH[:3], message_finished=False),
            BytesMessage(data=PUBLISH[3:6], message_finished=False),
            BytesMessage(data=PUBLISH[6:], message_finished=True),
        )
        return await stream.readexactly(len(PUBLISH))

    assert run(scenario) == PUBLISH


def test_packets_in_one_message_are_read_as_a_byte_stream():
    async def scenario():
        client, stream = await upgraded()
        client.send(BytesMessage(data=PUBLISH + CONNACK + PUBLISH))
        first = await stream.readexactly(len(PUBLISH))
        some = await stream.read(2)
        rest = await stream.read()
        return first, some, rest

    assert run(scenario) == (PUBLISH, CONNACK[:2], CONNACK[2:] + PUBLISH)


def test_what_the_server_writes_goes_out_as_binary_messages():
    async def scenario():
        client, stream = await upgraded()
        stream.write(CONNACK)
        stream.write(memoryview(PUBLISH))
        await stream.drain()
        return await client.event(), await client.event()

    first, second = run(scenario)
    assert isinstance(first, BytesMessage)
    assert (first.data, second.data) == (CONNACK, PUBLISH)


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536, 70000])
def test_a_message_of_any_length_reaches_the_client_whole(size):
    payload = bytes(n % 251 for n in range(size))

    async def scenario():
        client, stream = await upgraded()
        stream.write(memoryview(payload))
        await stream.drain()
        received = b""
        while True:  # wsproto hands a long message over in pieces
            event = await client.event()
            assert isinstance(event, BytesMessage)
            received += event.data
            if event.message_finished:
                return received

    assert run(scenario) == payload


def test_the_frame_header_takes_7_16_or_64_bits_of_length():
    assert binary_frame_header(125) == b"\x82\x7d"
    assert binary_frame_header(126) == b"\x82\x7e\x00\x7e"
    assert binary_frame_header(65535) == b"\x82\x7e\xff\xff"
    assert binary_frame_header(65536) == b"\x82\x7f" + (65536).to_bytes(8, "big")


# ---------------------------------------------------------------- control frames and endings


def test_a_ping_is_answered_with_a_pong_of_the_same_payload():
    async def scenario():
        client, stream = await upgraded()
        client.send(Ping(payload=b"still there?"), BytesMessage(data=CONNACK))
        data = await stream.readexactly(len(CONNACK))
        await stream.drain()
        return data, await client.event()

    data, answer = run(scenario)
    assert data == CONNACK
    assert isinstance(answer, Pong)
    assert answer.payload == b"still there?"


def test_a_close_from_the_client_is_answered_and_ends_the_stream():
    async def scenario():
        client, stream = await upgraded()
        client.send(BytesMessage(data=CONNACK[:2]), CloseConnection(code=1000))
        ended = await stream.read()
        read_again = await stream.read()
        with pytest.raises(asyncio.IncompleteReadError) as incomplete:
            await stream.readexactly(4)
        stream.write(CONNACK)  # too late: nothing more is sent
        stream.close()
        return ended, read_again, incomplete.value.partial, await client.event(), client

    ended, read_again, partial, answer, client = run(scenario)
    assert ended == CONNACK[:2]
    assert (read_again, partial) == (b"", b"")
    assert isinstance(answer, CloseConnection)
    assert answer.code == 1000
    assert not client.pending


def test_closing_the_stream_sends_a_normal_closure():
    async def scenario():
        client, stream = await upgraded()
        stream.close()
        await stream.wait_closed()
        return await client.event(), await client.at_eof()

    answer, at_eof = run(scenario)
    assert isinstance(answer, CloseConnection)
    assert answer.code == 1000
    assert at_eof


def test_a_text_message_closes_the_connection_as_data_it_cannot_accept():
    async def scenario():
        client, stream = await upgraded()
        client.send(TextMessage(data="{}"))
        ended = await stream.read()
        return ended, await client.event(), await client.at_eof()

    ended, answer, at_eof = run(scenario)
    assert ended == b""
    assert isinstance(answer, CloseConnection)
    assert answer.code == 1003
    assert at_eof


def test_an_unmasked_frame_from_a_client_ends_the_stream():
    async def scenario():
        client, stream = await upgraded()
        client.send_raw(b"\x82\x02" + CONNACK[:2])  # RFC 6455 5.1: a client masks every frame
        ended = await stream.read()
        return ended, await client.event()

    ended, answer = run(scenario)
    assert ended == b""
    assert isinstance(answer, CloseConnection)
    assert answer.code == 1002  # protocol error


def test_a_client_gone_without_a_close_ends_the_stream():
    async def scenario():
        client, stream = await upgraded()
        client.send(BytesMessage(data=PUBLISH[:4]))
        await client.writer.drain()
        client.writer.close()
        with pytest.raises(asyncio.IncompleteReadError) as incomplete:
            await stream.readexactly(len(PUBLISH))
        return incomplete.value.partial, await stream.read()

    assert run(scenario) == (PUBLISH[:4], b"")


# ---------------------------------------------------------------- tapped (once piped)


async def tapped(*before: object) -> tuple[Client, WebSocketStream, Collector, bytes]:
    """An upgraded stream whose client sent `before` (events), then tapped: the client, the
    stream, its receiver and what the tap handed back."""
    client, stream = await upgraded()
    client.send(BytesMessage(data=PUBLISH[:2]), *before)
    assert await stream.readexactly(2) == PUBLISH[:2]  # read as a stream first
    await client.writer.drain()
    await asyncio.sleep(0.05)  # what the client sent is held, unread
    collector = Collector()
    return client, stream, collector, await stream.tap(collector)


def test_tapped_what_was_held_comes_back_and_what_follows_goes_to_the_receiver_in_order():
    async def scenario():
        client, _, collector, held = await tapped(
            BytesMessage(data=PUBLISH[2:] + CONNACK[:1], message_finished=False)
        )
        client.send(
            BytesMessage(data=CONNACK[1:]),
            BytesMessage(data=PUBLISH[:5], message_finished=False),
            BytesMessage(data=PUBLISH[5:]),
        )
        expected = len(CONNACK[1:] + PUBLISH)
        await collector.until(lambda: len(collector.data) == expected)
        return held, bytes(collector.data), collector.ends

    assert run(scenario) == (PUBLISH[2:] + CONNACK[:1], CONNACK[1:] + PUBLISH, 0)


def test_tapped_a_ping_is_answered_and_a_close_is_answered_and_told_once():
    async def scenario():
        client, _, collector, _ = await tapped()
        client.send(Ping(payload=b"there?"), BytesMessage(data=CONNACK))
        pong = await client.event()
        client.send(CloseConnection(code=1000))
        await collector.until(lambda: collector.ends > 0)
        answer = await client.event()
        client.writer.close()
        await asyncio.sleep(0.05)  # the connection's loss is not told again
        return pong, bytes(collector.data), answer, collector.ends

    pong, data, answer, ends = run(scenario)
    assert isinstance(pong, Pong)
    assert pong.payload == b"there?"
    assert data == CONNACK
    assert isinstance(answer, CloseConnection)
    assert answer.code == 1000
    assert ends == 1


def test_tapped_a_text_message_closes_with_1003_and_ends():
    async def scenario():
        client, _, collector, _ = await tapped()
        client.send(TextMessage(data="{}"))
        await collector.until(lambda: collector.ends > 0)
        return await client.event(), await client.at_eof(), collector.ends

    answer, at_eof, ends = run(scenario)
    assert isinstance(answer, CloseConnection)
    assert answer.code == 1003
    assert at_eof
    assert ends == 1


def test_tapped_an_unmasked_frame_fails_the_connection_with_1002():
    async def scenario():
        client, _, collector, _ = await tapped()
        client.send_raw(b"\x82\x02" + CONNACK[:2])
        await collector.until(lambda: collector.ends > 0)
        return await client.event(), bytes(collector.data)

    answer, data = run(scenario)
    assert isinstance(answer, CloseConnection)
    assert answer.code == 1002
    assert data == b""


def test_tapped_a_client_gone_without_a_close_ends_after_its_last_bytes():
    async def scenario():
        client, _, collector, _ = await tapped()
        client.send(BytesMessage(data=PUBLISH[:4]))
        await client.writer.drain()
        client.writer.close()
        await collector.until(lambda: collector.ends > 0)
        return bytes(collector.data), collector.ends

    assert run(scenario) == (PUBLISH[:4], 1)


def test_a_stream_closed_before_the_tap_is_told_ended_after_handing_back_its_bytes():
    async def scenario():
        client, _, collector, held = await tapped(
            BytesMessage(data=CONNACK), CloseConnection(code=1000)
        )
        ends_at_once = collector.ends
        await collector.until(lambda: collector.ends > 0)
        return held, ends_at_once, collector.ends, await client.event()

    held, ends_at_once, ends, answer = run(scenario)
    assert (held, ends_at_once, ends) == (CONNACK, 0, 1)
    assert isinstance(answer, CloseConnection)
