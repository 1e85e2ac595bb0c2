import bisect
import threading
import time

import pytest
from support import load_event

from swan.adapters.clock import SystemClock
from swan.adapters.history import Recorded, SqliteHistory
from swan.adapters.iotdata import RecordingPublisher
from swan.adapters.scheduler import RecordingScheduler
from swan.core.button_shadow import to_reported
from swan.core.countdown import RECENT_LIMIT, Countdown, Push, Rules
from swan.handlers.ports import Ports
from swan.handlers.push import handle_event
from swan.local.memory_shadow import MemoryShadow


def with_rules(ports, **changes):
    return Ports(**{**ports.__dict__, "rules": Rules(**{**ports.rules.__dict__, **changes})})


def click(serial="G030JF0553648RUH", **changes):
    return {**load_event("iot_button_click_single"), "serialNumber": serial, **changes} | {
        "topic": f"iotbutton/{serial}",
        "receivedAt": 1764087120123,
    }


def request(sender, token="tok-1", **fields):
    return {"clientToken": token, "source": "pi", **fields, "topic": f"swan/push/{sender}"}


def test_a_button_click_starts_the_countdown(ports, clock):
    outcome = handle_event(click(), ports)
    assert outcome == {
        "outcome": "accepted",
        "number": 1,
        "deadline": clock.now() + 6480,
        "pushes": 1,
    }
    countdown = ports.shadow.read().countdown
    assert countdown.last_push == Push(clock.now(), "G030JF0553648RUH", "button", "SINGLE")
    assert ports.scheduler.times == [clock.now() + 6480]


def test_the_server_clock_stamps_the_push_not_the_event(ports, clock):
    handle_event(click(receivedAt=1), ports)
    assert ports.shadow.read().countdown.last_push.at == clock.now()


def test_a_malformed_click_is_counted_and_writes_nothing(ports):
    outcome = handle_event(click(clickType="TRIPLE"), ports)
    assert outcome["outcome"] == "malformed"
    assert "clickType" in outcome["reason"]
    assert ports.shadow.writes == []
    assert ports.history.counters() == {"malformed_click": 1}


def test_a_click_whose_payload_names_another_button_is_refused(ports):
    event = click() | {"topic": "iotbutton/OTHER1"}
    assert handle_event(event, ports)["outcome"] == "malformed"
    assert ports.shadow.writes == []


def test_a_second_push_moves_the_deadline(ports, clock):
    handle_event(click(), ports)
    clock.advance(600)
    handle_event(request("pi-kitchen"), ports)
    countdown = ports.shadow.read().countdown
    assert countdown.deadline == clock.now() + 6480
    assert countdown.pushes == 2
    assert countdown.last_push.by == "pi-kitchen"
    assert countdown.last_push.source == "pi"
    # the alarm clock was set when the run started; the expiry handler moves it later
    assert len(ports.scheduler.times) == 1


def test_a_push_request_is_answered_on_accepted(ports, clock):
    handle_event(request("pi-kitchen", token="abc"), ports)
    assert ports.publisher.sent == [
        (
            "swan/push/pi-kitchen/accepted",
            {"clientToken": "abc", "deadline": clock.now() + 6480, "pushes": 1},
        )
    ]


def test_pushing_too_fast_is_answered_with_the_wait(ports, clock):
    handle_event(request("pi-kitchen", token="a"), ports)
    clock.advance(0.25)
    outcome = handle_event(request("pi-kitchen", token="b"), ports)
    assert outcome["reason"] == "rate_limited"
    topic, reply = ports.publisher.sent[-1]
    assert topic == "swan/push/pi-kitchen/rejected"
    assert reply["reason"] == "rate_limited"
    assert reply["retryAfter"] == 0.75
    assert ports.shadow.read().countdown.pushes == 1


def test_a_device_cannot_pretend_to_be_the_web(ports):
    outcome = handle_event(request("pi-kitchen", source="web"), ports)
    assert outcome["outcome"] == "malformed"
    topic, reply = ports.publisher.sent[-1]
    assert topic == "swan/push/pi-kitchen/rejected"
    assert reply["reason"] == "invalid_request"
    assert reply["clientToken"] == "tok-1"


ALICE = "us-east-1:8f2c7d1e-4b3a-4c5d-9e6f-0a1b2c3d4e5f"
BOB = "us-east-1:00000000-1111-2222-3333-444444444444"


def identity_request(identity, token="tok-1", **fields):
    return {"clientToken": token, "source": "web", **fields} | {
        "topic": f"swan/push/web/{identity}"
    }


def test_a_browsers_identity_is_answered_on_its_own_topic(ports, clock):
    event = load_event("rule_push_request_identity")
    assert handle_event(event, ports)["outcome"] == "accepted"
    identity = event["topic"].split("/")[3]
    assert ports.publisher.sent == [
        (
            f"swan/push/web/{identity}/accepted",
            {"clientToken": event["clientToken"], "deadline": clock.now() + 6480, "pushes": 1},
        )
    ]
    assert ports.shadow.read().countdown.last_push.by == "web"
    assert ports.shadow.read().countdown.last_push.source == "web"


def test_an_identity_is_rate_limited_by_its_topic_not_by_what_it_says(ports, clock):
    assert handle_event(identity_request(ALICE, "1", session="a"), ports)["outcome"] == "accepted"
    clock.advance(0.1)
    # A new session (or browser id) in the payload is still the same identity.
    refused = handle_event(identity_request(ALICE, "2", session="b"), ports)
    assert refused["reason"] == "rate_limited"
    topic, _ = ports.publisher.sent[-1]
    assert topic == f"swan/push/web/{ALICE}/rejected"
    clock.advance(0.1)
    assert handle_event(identity_request(BOB, "3"), ports)["outcome"] == "accepted"


def test_an_identity_must_say_it_pushes_from_the_web(ports):
    outcome = handle_event(identity_request(ALICE, source="pi"), ports)
    assert outcome["outcome"] == "malformed"
    topic, reply = ports.publisher.sent[-1]
    assert topic == f"swan/push/web/{ALICE}/rejected"
    assert reply["reason"] == "invalid_request"


def test_a_push_on_a_topic_with_no_identity_id_is_ignored_and_counted(ports):
    outcome = handle_event(identity_request("not-an-identity"), ports)
    assert outcome["outcome"] == "ignored"
    assert ports.publisher.sent == []


@pytest.mark.parametrize("source", ["web", "pi"])
def test_a_push_on_the_identities_level_itself_is_nobodys_and_ignored(ports, source):
    # No thing is named "web" (register refuses it, DevicePolicy denies it): what reaches
    # `swan/push/web` comes from no device and no identity, and is not answered.
    event = {"clientToken": "tok-1", "source": source, "topic": "swan/push/web"}
    assert handle_event(event, ports)["outcome"] == "ignored"
    assert ports.publisher.sent == []
    assert ports.shadow.writes == []


def test_a_request_without_a_token_is_rejected_without_one(ports):
    event = {"source": "pi", "topic": "swan/push/pi-kitchen"}
    handle_event(event, ports)
    _, reply = ports.publisher.sent[-1]
    assert "clientToken" not in reply
    assert "clientToken" in reply["message"]


def test_a_redelivered_request_is_counted_once(ports, clock):
    handle_event(request("pi-kitchen", token="same"), ports)
    clock.advance(5)
    handle_event(request("pi-kitchen", token="same"), ports)
    assert ports.shadow.read().countdown.pushes == 1
    assert [topic for topic, _ in ports.publisher.sent] == ["swan/push/pi-kitchen/accepted"] * 2


def test_events_for_other_topics_are_ignored(ports):
    assert handle_event({"topic": "swan/push/pi/accepted"}, ports)["outcome"] == "ignored"
    assert handle_event({"topic": "somewhere/else"}, ports)["outcome"] == "ignored"
    assert handle_event({"topic": "iotbutton/bad serial"}, ports)["outcome"] == "ignored"
    assert ports.shadow.writes == []


class TestSwanRules:
    CODE = "4 8 15 16 23 42"

    def test_a_push_without_the_code_is_refused(self, ports):
        ports = with_rules(ports, rule_set="swan")
        handle_event(request("pi-kitchen"), ports)
        _, reply = ports.publisher.sent[-1]
        assert reply["reason"] == "wrong_code"
        assert ports.shadow.writes == []

    def test_the_code_before_the_alarm_is_too_early(self, ports, clock):
        ports = with_rules(ports, rule_set="swan")
        handle_event(request("pi-kitchen", "1", code=self.CODE), ports)
        clock.advance(60)
        handle_event(request("pi-kitchen", "2", code=self.CODE), ports)
        _, reply = ports.publisher.sent[-1]
        assert reply["reason"] == "too_early"
        assert reply["retryAfter"] == 6480 - 240 - 60

    def test_the_code_in_the_alarm_resets_the_timer(self, ports, clock):
        ports = with_rules(ports, rule_set="swan")
        handle_event(request("pi-kitchen", "1", code=self.CODE), ports)
        clock.advance(6300)
        assert (
            handle_event(request("pi-kitchen", "2", code=self.CODE), ports)["outcome"] == "accepted"
        )
        assert ports.shadow.read().countdown.deadline == clock.now() + 6480


class TestCoalescing:
    def test_two_quick_pushes_write_at_once_a_third_waits_for_the_budget(self, ports, clock):
        handle_event(request("a", "1"), ports)
        clock.advance(0.001)
        handle_event(request("b", "2"), ports)
        assert clock.slept == []
        clock.advance(0.001)
        handle_event(request("c", "3"), ports)
        assert len(clock.slept) == 1
        slot = 1 / ports.rules.shadow_writes_per_second
        assert slot - 0.01 < clock.slept[0] <= slot + 1e-6
        assert [w.pushes for w in ports.shadow.writes] == [1, 2, 3]

    def test_a_write_that_lost_a_race_reads_again_and_retries(self, ports):
        ports.shadow.conflict_next = 1
        assert handle_event(request("a"), ports)["outcome"] == "accepted"
        assert ports.shadow.read().countdown.pushes == 1

    def test_a_push_another_write_already_counted_writes_nothing(self, ports, clock):
        handle_event(request("a", "1"), ports)
        clock.advance(1)
        # Another handler recorded push 2 and wrote it; ours (3) finds it counted after waiting.
        ports.history.record(
            Push(clock.now(), "b", "pi"), principal="b", client_token="x", min_interval=0
        )
        handle_event(request("c", "3"), ports)
        assert ports.shadow.read().countdown.pushes == 3
        assert [w.pushes for w in ports.shadow.writes] == [1, 3]

    def test_history_numbers_every_push(self, ports):
        recorded = ports.history.record(
            Push(1.0, "x", "cli"), principal="x", client_token=None, min_interval=0
        )
        assert recorded == Recorded(1)


class TestRecentPushes:
    """The shadow carries the latest pushes for clients with no history to read (the page)."""

    @staticmethod
    def recorded_elsewhere(ports, clock, *senders):
        """Pushes other handlers recorded and have not written yet (waiting for the turn)."""
        for sender in senders:
            clock.advance(0.01)
            push = Push(clock.now(), sender, "pi")
            ports.history.record(push, principal=sender, client_token="x", min_interval=0)

    def test_one_write_shows_every_push_it_counts_newest_first(self, ports, clock):
        handle_event(request("pi-1", "1"), ports)
        self.recorded_elsewhere(ports, clock, "pi-2", "pi-3", "pi-4")
        clock.advance(1)
        handle_event(click(), ports)
        assert len(ports.shadow.writes) == 2  # pushes 2 to 5 in one write
        reported = to_reported(ports.shadow.read().countdown)
        assert [(e["n"], e["by"], e["source"]) for e in reported["recent"]] == [
            (5, "G030JF0553648RUH", "button"),
            (4, "pi-4", "pi"),
            (3, "pi-3", "pi"),
            (2, "pi-2", "pi"),
            (1, "pi-1", "pi"),
        ]
        assert reported["recent"][0]["at"] == clock.now()
        assert reported["recent"][0]["clickType"] == "SINGLE"

    def test_a_write_counting_more_pushes_than_it_keeps_shows_the_latest(self, ports, clock):
        handle_event(request("pi-0", "0"), ports)
        self.recorded_elsewhere(ports, clock, *(f"pi-{n}" for n in range(1, 20)))
        clock.advance(1)
        handle_event(request("pi-20", "20"), ports)
        countdown = ports.shadow.read().countdown
        assert countdown.pushes == 21
        assert [e.number for e in countdown.recent] == list(range(21, 21 - RECENT_LIMIT, -1))

    def test_a_shadow_written_before_recent_existed_gets_it_filled_from_history(self, ports, clock):
        self.recorded_elsewhere(ports, clock, *(f"pi-{n}" for n in range(1, 16)))
        first = ports.history.since(0)[0][1]
        older = Countdown(
            6480.0, first.at + 6480, "counting", first, 15, first.at, 0, None, clock.now()
        )
        ports.shadow.write(older, None)
        ports.history.mark_written(15)
        clock.advance(1)
        handle_event(request("pi-16", "16"), ports)
        recent = ports.shadow.read().countdown.recent
        assert [(e.number, e.push.by) for e in recent] == [
            (n, f"pi-{n}") for n in range(16, 16 - RECENT_LIMIT, -1)
        ]

    def test_the_shadow_says_which_rules_the_page_applies(self, ports):
        demo = with_rules(ports, **Rules.for_period(60, "swan").__dict__)
        handle_event(request("pi-kitchen", code=TestSwanRules.CODE), demo)
        reported = to_reported(ports.shadow.read().countdown)
        assert (reported["ruleSet"], reported["periodSeconds"], reported["alarmSeconds"]) == (
            "swan",
            60,
            15,
        )


def test_a_click_and_a_push_request_from_one_device_are_one_principal(ports, clock):
    serial = "G030JF0553648RUH"
    assert handle_event(click(serial), ports)["outcome"] == "accepted"
    clock.advance(0.5)
    outcome = handle_event(request(serial, token="then-a-request"), ports)
    assert outcome["reason"] == "rate_limited"
    assert ports.shadow.read().countdown.pushes == 1


@pytest.mark.parametrize("field", ["clientToken", "code"])
def test_a_request_holding_a_lone_surrogate_is_answered_as_invalid(ports, field):
    # {"clientToken": "\ud800"} is valid JSON text but no Unicode: decoded, it cannot be
    # encoded again. The request is refused and answered, never crashed on.
    event = request("pi-kitchen", token="tok-1", code="4 8") | {field: "\ud800"}
    outcome = handle_event(event, ports)
    assert outcome["outcome"] == "malformed"
    topic, reply = ports.publisher.sent[-1]
    assert topic == "swan/push/pi-kitchen/rejected"
    assert reply["reason"] == "invalid_request"
    assert field in reply["message"]
    assert reply.get("clientToken") == (None if field == "clientToken" else "tok-1")
    assert ports.shadow.writes == []


def test_a_principal_pushing_too_fast_is_refused_without_reading_the_shadow(ports, clock):
    handle_event(request("pi-kitchen", token="first"), ports)
    reads = ports.shadow.reads
    for number in range(50):
        clock.advance(0.01)
        outcome = handle_event(request("pi-kitchen", token=f"flood-{number}"), ports)
        assert outcome["reason"] == "rate_limited"
    assert ports.shadow.reads == reads


def test_a_redelivery_inside_the_interval_is_still_answered_accepted(ports, clock):
    handle_event(request("pi-kitchen", token="same"), ports)
    clock.advance(0.1)
    assert handle_event(request("pi-kitchen", token="same"), ports)["outcome"] == "accepted"
    assert [topic for topic, _ in ports.publisher.sent] == ["swan/push/pi-kitchen/accepted"] * 2


class CountedShadow:
    """The in-memory shadow behind a lock, noting when each request reached it: what AWS
    counts against the thing's 20 shadow requests a second."""

    def __init__(self) -> None:
        self.inner = MemoryShadow()
        self.requests: list[float] = []
        self._lock = threading.Lock()

    def read(self):
        with self._lock:
            self.requests.append(time.monotonic())
            return self.inner.read()

    def write(self, countdown, version):
        with self._lock:
            self.requests.append(time.monotonic())
            return self.inner.write(countdown, version)


def busiest_second(times):
    times = sorted(times)
    return max(bisect.bisect_right(times, start + 1.0) - i for i, start in enumerate(times))


def test_concurrent_pushers_stay_within_the_things_shadow_requests_per_second(tmp_path):
    # 60 devices push within about a second, each on a handler of its own (as concurrent
    # Lambda invocations): every push is answered and counted, and the shadow never sees
    # more than AWS's 20 requests in any second (reads included, not only writes).
    shadow = CountedShadow()
    history = SqliteHistory(tmp_path / "history.db")
    ports = Ports(
        shadow, history, RecordingScheduler(), RecordingPublisher(), SystemClock(), Rules()
    )
    outcomes = []

    def push(index):
        time.sleep(index / 60)
        outcomes.append(handle_event(request(f"pi-{index}", token=f"t{index}"), ports))

    threads = [threading.Thread(target=push, args=(i,)) for i in range(60)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    history.close()
    assert sorted(outcome["number"] for outcome in outcomes) == list(range(1, 61))
    assert shadow.inner.read().countdown.pushes == 60
    assert busiest_second(shadow.requests) <= 20
