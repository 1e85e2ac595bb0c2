"""The board's way to the pages: every page gets each change, a page that joins gets the
board as it is, and no page gets an older board after a newer one."""

from __future__ import annotations

import asyncio

from webapp.broadcast import Broadcast


class Pages:
    """Records what was sent, to whom (None: every page); can be slow to send."""

    def __init__(self) -> None:
        self.sent: list[tuple[str | None, dict]] = []
        self.delay = 0.0

    async def send(self, fields, page):
        await asyncio.sleep(self.delay)
        self.sent.append((page, dict(fields)))


def clock():
    return 1_000.0


def test_a_change_goes_to_every_page_with_the_time_it_was_sent():
    pages = Pages()
    broadcast = Broadcast(clock)
    broadcast.attach(pages.send)
    asyncio.run(broadcast.show({"version": 5, "link": "live"}))
    assert pages.sent == [(None, {"version": 5, "link": "live", "sent_at": 1_000.0})]


def test_a_page_that_joins_gets_the_board_as_it_is():
    pages = Pages()
    broadcast = Broadcast(clock)
    broadcast.attach(pages.send)

    async def scenario():
        await broadcast.welcome("early")  # nothing known yet: it comes with the first change
        await broadcast.show({"version": 5})
        await broadcast.show({"version": 6})
        await broadcast.welcome("sid-1")

    asyncio.run(scenario())
    assert pages.sent == [
        (None, {"version": 5, "sent_at": 1_000.0}),
        (None, {"version": 6, "sent_at": 1_000.0}),
        ("sid-1", {"version": 6, "sent_at": 1_000.0}),
    ]


def test_sends_happen_one_at_a_time_in_the_order_asked():
    pages = Pages()
    pages.delay = 0.01
    broadcast = Broadcast(clock)
    broadcast.attach(pages.send)

    async def scenario():
        await broadcast.show({"version": 5})
        # A join and a change at once: the join's board is never sent after the newer one.
        await asyncio.gather(broadcast.welcome("sid-1"), broadcast.show({"version": 6}))

    asyncio.run(scenario())
    assert [(page, fields["version"]) for page, fields in pages.sent] == [
        (None, 5),
        ("sid-1", 5),
        (None, 6),
    ]


def test_nothing_is_sent_before_the_app_attaches_its_websocket():
    broadcast = Broadcast(clock)
    asyncio.run(broadcast.show({"version": 5}))
    pages = Pages()
    broadcast.attach(pages.send)
    asyncio.run(broadcast.welcome("sid-1"))
    assert pages.sent == [("sid-1", {"version": 5, "sent_at": 1_000.0})]
