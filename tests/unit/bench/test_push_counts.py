"""The bench's viewers read a push count from a documents message; the clients of one worker
share one reader, which decodes each distinct payload once."""

from __future__ import annotations

import json

from swan.adapters.mqtt import Message
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
