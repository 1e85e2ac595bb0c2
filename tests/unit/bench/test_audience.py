"""What the bench's viewers in one worker share (`swan.bench.pages.Audience`): the push
count read once from each distinct documents message, and one wait for all of them to get
past a push."""

from __future__ import annotations

import asyncio
import json

from swan.adapters.mqtt import Message
from swan.bench import page_wire
from swan.bench.pages import Audience, Session
from swan.bench.push import PushCounts, documents_pushes
from swan.core.topics import BUTTON_SHADOW


def documents(pushes: object) -> Message:
    snapshot = {"state": {"reported": {"pushes": pushes}}, "metadata": {}, "version": 1}
    payload = {"previous": None, "current": snapshot, "timestamp": 1_700_000_000}
    return Message(BUTTON_SHADOW.update_documents, json.dumps(payload).encode())


def test_it_reads_what_a_fresh_decode_reads():
    counts = PushCounts()
    for message in (documents(7), documents(8), documents("eight"), Message("t", b"{")):
        assert counts(message) == documents_pushes(message)
    assert counts(documents(9)) == 9


def test_the_same_payload_is_decoded_once_and_a_different_one_again():
    decoded: list[bytes] = []

    def decode(message: Message) -> int | None:
        decoded.append(message.payload)
        return documents_pushes(message)

    counts = PushCounts(decode)
    first, again, second = documents(7), documents(7), documents(8)
    assert again.payload is not first.payload  # equal bytes, as each client reads its own
    assert [counts(first), counts(again), counts(again)] == [7, 7, 7]
    assert decoded == [first.payload]
    assert [counts(second), counts(first)] == [8, 7]
    assert decoded == [first.payload, second.payload, first.payload]


# ------------------------------------------------------------ one wait for every client


class Sink:
    """A client's socket, as far as its session writes to it (a PUBACK a push)."""

    def __init__(self) -> None:
        self.written = bytearray()

    def write(self, data: bytes) -> None:
        self.written += data

    def close(self) -> None:
        pass

    async def wait_closed(self) -> None:
        pass


def open_session(name: str, audience: Audience) -> Session:
    session = Session(name, clock=lambda: 0.0, audience=audience)
    session._writer = Sink()  # an open client, without a socket
    return session


def push(session: Session, pushes: int, packet_id: int = 1) -> None:
    """The documents message of push `pushes` arrives at `session`: at QoS 1, or at QoS 0
    with `packet_id` 0."""
    message = documents(pushes)
    session._take(page_wire.publish_packet(message.topic, message.payload, packet_id), 0.0)


def test_a_client_notes_the_pushes_it_sees_and_acknowledges_each():
    session = open_session("viewer", Audience())
    push(session, 3, packet_id=9)
    push(session, 2, packet_id=10)  # late and out of order: seen, not the most
    assert session.seen == [(3, 0.0), (2, 0.0)]
    assert session.most == 3
    assert session._writer.written == page_wire.puback_packet(9) + page_wire.puback_packet(10)
    assert session.past(2)
    assert not session.past(3)


def test_a_client_notes_a_qos_0_push_and_acknowledges_nothing():
    session = open_session("page", Audience())
    push(session, 4, packet_id=0)
    assert session.seen == [(4, 0.0)]
    assert session._writer.written == b""


def test_the_wait_ends_when_the_last_client_gets_past_the_push():
    async def scenario() -> tuple[bool, bool]:
        audience = Audience()
        sessions = [open_session(f"viewer-{n}", audience) for n in range(3)]
        push(sessions[0], 5)  # already past before the wait starts
        waiting = asyncio.create_task(audience.wait_past(sessions, 4, within=30.0))
        await asyncio.sleep(0)
        push(sessions[1], 5)
        push(sessions[2], 4)  # not past 4
        await asyncio.sleep(0)
        still_waiting = not waiting.done()
        push(sessions[2], 5)
        async with asyncio.timeout(5):
            await waiting
        return still_waiting, all(s.past(4) for s in sessions)

    assert asyncio.run(scenario()) == (True, True)


def test_a_closed_client_is_not_waited_for_and_one_that_never_gets_there_only_so_long():
    async def scenario() -> tuple[bool, bool]:
        audience = Audience()
        closed, silent = open_session("closed", audience), open_session("silent", audience)
        waiting = asyncio.create_task(audience.wait_past([closed, silent], 1, within=0.2))
        await asyncio.sleep(0)
        await closed.close()
        async with asyncio.timeout(5):  # the wait's own bound ends it, not this
            await waiting
        return closed.past(1), silent.past(1)

    assert asyncio.run(scenario()) == (True, False)


def test_the_clients_of_one_audience_decode_a_document_they_share_once():
    decoded: list[bytes] = []

    def decode(message: Message) -> int | None:
        decoded.append(message.payload)
        return documents_pushes(message)

    audience = Audience()
    audience.counts = PushCounts(decode)
    first, second = open_session("a", audience), open_session("b", audience)
    push(first, 6)
    push(second, 6)
    assert (first.most, second.most) == (6, 6)
    assert len(decoded) == 1
