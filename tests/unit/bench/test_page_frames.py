"""A page's WebSocket frames after the upgrade (`swan.bench.page_frames`), checked against
wsproto as the other side: what a wsproto server sends is read whole whatever the chunks,
and what a page sends a wsproto server reads as it was meant."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Ping,
    Pong,
    Request,
)

from swan.bench import page_frames
from swan.bench.page_frames import BINARY, CLOSE, PING, PONG, FrameError, FrameReader


def upgraded() -> tuple[WSConnection, WSConnection]:
    """A wsproto server and client, past the upgrade."""
    server, client = WSConnection(ConnectionType.SERVER), WSConnection(ConnectionType.CLIENT)
    server.receive_data(client.send(Request(host="127.0.0.1:1", target="/mqtt")))
    assert isinstance(next(server.events()), Request)
    client.receive_data(server.send(AcceptConnection()))
    assert isinstance(next(client.events()), AcceptConnection)
    return server, client


def read_in_chunks(stream: bytes, cuts: list[int]) -> list[tuple[int, bytes]]:
    reader = FrameReader()
    out = []
    at = 0
    for cut in [*sorted(cuts), len(stream)]:
        out += reader.feed(stream[at:cut])
        at = max(at, cut)
    return out


SIZES = (0, 1, 125, 126, 127, 65535, 65536, 70000)


@given(
    payloads=st.lists(st.binary(max_size=300), min_size=1, max_size=4),
    cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=8),
)
def test_what_a_server_sends_is_read_whole_whatever_the_chunks(payloads, cuts):
    server, _ = upgraded()
    stream = b"".join(server.send(BytesMessage(data=p)) for p in payloads)
    assert read_in_chunks(stream, cuts) == [(BINARY, p) for p in payloads]


@pytest.mark.parametrize("size", SIZES)
def test_each_length_encoding_is_read(size):
    server, _ = upgraded()
    payload = bytes(range(256)) * (size // 256) + bytes(range(size % 256))
    assert FrameReader().feed(server.send(BytesMessage(data=payload))) == [(BINARY, payload)]


@given(cuts=st.lists(st.integers(min_value=0, max_value=200), max_size=6))
def test_a_fragmented_message_comes_back_once_with_a_ping_between_its_fragments(cuts):
    server, _ = upgraded()
    stream = (
        server.send(BytesMessage(data=b"first half, ", message_finished=False))
        + server.send(Ping(payload=b"are you there"))
        + server.send(BytesMessage(data=b"second half", message_finished=True))
    )
    assert read_in_chunks(stream, cuts) == [
        (PING, b"are you there"),
        (BINARY, b"first half, second half"),
    ]


def test_a_close_says_its_code_and_one_without_a_code_reads_as_1005():
    server, _ = upgraded()
    frames = FrameReader().feed(server.send(CloseConnection(code=1008, reason="policy")))
    assert [(opcode, page_frames.close_code(payload)) for opcode, payload in frames] == [
        (CLOSE, 1008)
    ]
    assert page_frames.close_code(b"") == 1005


@pytest.mark.parametrize("size", SIZES)
def test_what_a_page_sends_is_masked_and_read_by_a_server_as_sent(size):
    server, _ = upgraded()
    payload = bytes(range(251)) * (size // 251) + bytes(range(size % 251))
    frame = page_frames.client_frame(payload)
    assert frame[1] & 0x80  # masked
    server.receive_data(frame)
    received = b""
    for event in server.events():
        assert isinstance(event, BytesMessage)
        received += event.data
    assert received == payload


def test_a_pong_goes_back_with_the_pings_payload_and_each_frame_has_a_key_of_its_own():
    server, _ = upgraded()
    server.receive_data(page_frames.client_frame(b"are you there", PONG))
    assert list(server.events()) == [Pong(payload=b"are you there")]
    keys = {page_frames.client_frame(b"\x40\x02\x00\x01")[2:6] for _ in range(8)}
    assert len(keys) > 1


def test_a_given_key_masks_as_rfc_6455_shows():
    # RFC 6455, 5.7: "Hello" in a masked frame with the key 37 fa 21 3d.
    frame = page_frames.client_frame(b"Hello", page_frames.TEXT, mask=bytes.fromhex("37fa213d"))
    assert frame == bytes.fromhex("818537fa213d7f9f4d5158")


@pytest.mark.parametrize(
    ("frame", "complaint"),
    [
        (b"\x82\x81\x00\x00\x00\x00x", "masked frame from the server"),
        (b"\xc2\x01x", "reserved bit"),
        (b"\x83\x01x", "reserved opcode 0x3"),
        (b"\x09\x01x", "control frame fragmented"),
        (b"\x89\x7e\x00\x7e" + b"x" * 126, "longer than 125"),
        (b"\x80\x01x", "continuation frame with no message under way"),
        (b"\x02\x01x\x82\x01y", "new message before the last one was finished"),
    ],
)
def test_a_frame_a_client_must_fail_the_connection_for_is_refused(frame, complaint):
    with pytest.raises(FrameError, match=complaint):
        FrameReader().feed(frame)
