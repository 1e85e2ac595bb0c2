from swan.handlers.expire import handle_expiry
from swan.handlers.push import handle_event


def push(ports, sender="pi-kitchen", token="t"):
    return handle_event(
        {"clientToken": token, "source": "pi", "topic": f"swan/push/{sender}"}, ports
    )


def test_nothing_to_do_before_the_first_push(ports):
    assert handle_expiry({}, ports)["outcome"] == "idle"


def test_woken_before_the_deadline_it_sets_the_alarm_again(ports, clock):
    push(ports)
    clock.advance(6000)
    outcome = handle_expiry({}, ports)
    assert outcome == {"outcome": "rescheduled", "deadline": clock.now() - 6000 + 6480}
    assert ports.scheduler.times[-1] == clock.now() - 6000 + 6480


def test_at_the_deadline_the_world_fails(ports, clock):
    push(ports)
    clock.advance(6480)
    assert handle_expiry({}, ports) == {
        "outcome": "failed",
        "failures": 1,
        "failedAt": clock.now(),
    }
    countdown = ports.shadow.read().countdown
    assert countdown.phase == "failed"


def test_the_failure_keeps_the_recent_pushes_and_the_next_run_adds_to_them(ports, clock):
    push(ports, "pi-1", "a")
    clock.advance(60)
    push(ports, "pi-2", "b")
    before = ports.shadow.read().countdown.recent
    clock.advance(6480)
    handle_expiry({}, ports)
    assert ports.shadow.read().countdown.recent == before
    clock.advance(10)
    push(ports, "pi-3", "c")
    recent = ports.shadow.read().countdown.recent
    assert [(e.number, e.push.by) for e in recent] == [(3, "pi-3"), (2, "pi-2"), (1, "pi-1")]


def test_expiry_twice_counts_one_failure(ports, clock):
    push(ports)
    clock.advance(7000)
    handle_expiry({}, ports)
    assert handle_expiry({}, ports) == {"outcome": "idle", "reason": "already failed"}
    assert ports.shadow.read().countdown.failures == 1


def test_a_racing_writer_is_read_again(ports, clock):
    push(ports)
    clock.advance(7000)
    ports.shadow.conflict_next = 1
    assert handle_expiry({}, ports)["outcome"] == "failed"


def test_a_push_after_the_failure_starts_a_new_run_and_sets_the_alarm(ports, clock):
    push(ports)
    clock.advance(7000)
    handle_expiry({}, ports)
    clock.advance(100)
    push(ports, token="again")
    countdown = ports.shadow.read().countdown
    assert countdown.phase == "counting"
    assert countdown.failures == 1
    assert countdown.run_started_at == clock.now()
    assert ports.scheduler.times[-1] == clock.now() + 6480


def test_a_run_that_can_never_be_written_gives_up(ports, clock):
    push(ports)
    clock.advance(7000)
    ports.shadow.conflict_next = 10_000
    assert handle_expiry({}, ports)["outcome"] == "contended"
