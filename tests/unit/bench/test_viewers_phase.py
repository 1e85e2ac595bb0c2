"""`viewers` (push -> every viewer through the gateway, beside direct mutual TLS) and `crowd`
(ten thousand at once): the relay that feeds the direct broker, how the devices are spread
over the workers, the phases' bounds, their jobs and figures as JSON, and the report."""

import asyncio
import json
from pathlib import Path

import pytest

from swan.adapters.mqtt import Endpoint, MemoryBroker
from swan.bench import crowds, viewers
from swan.bench.figures import figures
from swan.bench.jobs import CrowdJob, Pages, ViewersJob, figures_to_json, job_from_json
from swan.bench.json_fields import Fields, InvalidJsonError
from swan.bench.measured import (
    CrowdFigures,
    FanOut,
    Idle,
    Latencies,
    Machine,
    Results,
    ViewerFigures,
    ViewerRun,
)
from swan.bench.page_worker import Devices, Setup, Worker
from swan.bench.report import render_table, to_json
from swan.bench.runner import DESCRIPTOR_SPARE, PHASES, Plan, crowd_descriptors
from swan.core.topics import BUTTON_SHADOW


def device(thing):
    return Endpoint(
        "localhost",
        8883,
        thing,
        ca_file=Path("/state/certs/ca.pem"),
        cert_file=Path(f"/state/certs/devices/{thing}.pem"),
        key_file=Path(f"/state/certs/devices/{thing}.key"),
    )


LOGINS = tuple((f"bench-viewer-1-{n}", f"/certs/v{n}.pem", f"/certs/v{n}.key") for n in range(6))
JOB = ViewersJob(
    button=("BENCH1VIEW", device("BENCH1VIEW")),
    relay_source=Endpoint.local(Path("/state/internal.sock"), "bench-relay-1", "u", "p"),
    relay_sink=device("bench-relay-1"),
    direct=("localhost", 9001),
    gateway=("localhost", 8883),
    ca_file="/state/certs/ca.pem",
    logins=LOGINS,
    sizes=(3, 6),
    pushes=5,
    timeout=5.0,
    quiet_seconds=2.0,
    pids=(11, 12, 13),
)
CROWD_JOB = CrowdJob(
    button=("BENCH1CROWD", device("BENCH1CROWD")),
    relay_source=Endpoint.local(Path("/state/internal.sock"), "bench-crowd-relay-1", "u", "p"),
    relay_sink=device("bench-crowd-relay-1"),
    direct=("localhost", 9001),
    subscribers=Endpoint.local(Path("/state/internal.sock"), "bench-crowd-direct-1", "u", "p"),
    gateway=("localhost", 8883),
    ca_file="/state/certs/ca.pem",
    logins=LOGINS,
    door=Pages("ws://127.0.0.1:9002/mqtt", "http://127.0.0.1:9003", "us-east-1:pool", "us-east-1"),
    pages=4,
    pushes=5,
    timeout=5.0,
    quiet_seconds=2.0,
    pids=(11, 12, 13, 14),
)
MACHINE = Machine(cpu="Test CPU 3000", cores=2, python="3.11.7", platform="Linux-test")


def ms(*values):
    return tuple(value / 1000 for value in values)


def fan_out(clients, p50, p99, *, lost=0, stack_memory=0, broker_memory=0, pushes=10):
    deliveries = clients * pushes
    half = deliveries // 2
    samples = ms(*[p50] * half, *[p99] * (deliveries - half - lost))
    return FanOut(
        clients=clients,
        connected=clients,
        open_seconds=1.5,
        gets={},
        pushes=pushes,
        push_to_client=Latencies(samples, lost),
        stack_memory_bytes=stack_memory,
        broker_memory_bytes=broker_memory,
        idle=Idle(2.0, 0, 0.01, 0.0),
    )


def viewer_run(n, *, direct_p99=100.0, gateway_p99=150.0, lost=0):
    return ViewerRun(
        n,
        direct=fan_out(n, 50.0, direct_p99, broker_memory=n * 25 * 1024),
        gateway=fan_out(
            n, 60.0, gateway_p99, lost=lost, stack_memory=n * 70 * 1024, broker_memory=n * 1024
        ),
    )


def through_text(document):
    return json.loads(json.dumps(document))


def found(**phases):
    run = Results(MACHINE, quick=False, **phases)
    return {figure.key: figure for figure in figures(run)}


# ---------------------------------------------------------------- the relay


def test_the_relay_hands_every_documents_message_to_the_direct_broker_and_stops_after():
    stack, direct = MemoryBroker(), MemoryBroker()
    heard = []
    direct.connect("viewer").subscribe(BUTTON_SHADOW.update_documents, heard.append)
    shadow = stack.connect("shadow-service")
    relay = viewers.Relay(stack.connect("relay-source"), direct.connect("relay-sink"))
    with relay:
        shadow.publish(BUTTON_SHADOW.update_documents, b'{"n": 1}')
        shadow.publish("swan/push/pi/accepted", b"{}")  # not followed: not relayed
        shadow.publish(BUTTON_SHADOW.update_documents, b'{"n": 2}')
    shadow.publish(BUTTON_SHADOW.update_documents, b'{"n": 3}')  # after: not relayed
    assert [message.payload for message in heard] == [b'{"n": 1}', b'{"n": 2}']
    assert relay.relayed == 2


# ---------------------------------------------------------------- the devices and the workers


def test_each_worker_opens_its_share_of_the_logins_at_the_listener_given():
    listener = Devices("localhost", 9001, "/ca.pem", ())
    commands = viewers.device_opens(listener, LOGINS[:5], 2)
    shares = [Devices.from_json(Fields.of(c["devices"], "devices")) for c in commands]
    assert [len(share.logins) for share in shares] == [3, 2]
    assert shares[0].logins + shares[1].logins == LOGINS[:5]
    assert {(s.host, s.port, s.ca_file) for s in shares} == {("localhost", 9001, "/ca.pem")}
    assert sum(crowds._count(c) for c in commands) == 5


def test_a_mixed_open_counts_every_part():
    devices = viewers.device_opens(Devices("h", 1, "/ca", ()), LOGINS[:2], 1)[0]
    mixed = {"do": "open", "kind": "mixed", "parts": [devices, {"kind": "page", "count": 3}]}
    assert crowds._count(mixed) == 5
    assert crowds._count(None) == 0


def test_a_worker_opens_no_devices_and_a_mixed_open_of_nothing_at_once():
    setup = Setup("", "", "", "", "", "", "", 1.0)

    async def scenario():
        worker = Worker(setup)
        none = Devices("localhost", 1, "/ca.pem", ()).to_json()
        command = {
            "do": "open",
            "kind": "mixed",
            "parts": [{"do": "open", "kind": "device", "devices": none}] * 2,
        }
        return await worker.answer(Fields.of(command, "command"))

    answer = asyncio.run(scenario())
    assert (answer["opened"], answer["failed"], answer["problems"], answer["gets"]) == (
        0,
        0,
        [],
        {},
    )


def test_a_device_that_cannot_connect_is_a_problem_not_a_failure_of_the_worker():
    async def scenario():
        worker = Worker(Setup("", "", "", "", "", "", "", 1.0))
        logins = (("dev-0", "/nowhere/cert.pem", "/nowhere/key.pem"),)
        command = {
            "do": "open",
            "kind": "device",
            "devices": Devices("localhost", 1, "/nowhere/ca.pem", logins).to_json(),
        }
        return await worker.answer(Fields.of(command, "command"))

    answer = asyncio.run(scenario())
    assert (answer["opened"], answer["failed"]) == (0, 1)
    assert answer["problems"]


def test_the_time_limits_grow_with_the_sizes_and_the_pushes():
    base = viewers.longest(sizes=(1000, 3000), pushes=5, timeout=5.0, quiet_seconds=2.0)
    more = (1000, 3000, 3000)
    assert viewers.longest(sizes=more, pushes=5, timeout=5.0, quiet_seconds=2.0) > base
    assert viewers.longest(sizes=(1000, 3000), pushes=9, timeout=5.0, quiet_seconds=2.0) > base
    crowd = viewers.crowd_longest(clients=10000, pushes=5, timeout=5.0, quiet_seconds=2.0)
    assert viewers.crowd_longest(clients=10000, pushes=6, timeout=6.0, quiet_seconds=2.0) > crowd
    assert JOB.time_limit > viewers.longest(sizes=(3, 6), pushes=5, timeout=5.0, quiet_seconds=2.0)


# ---------------------------------------------------------------- jobs and figures as JSON


def test_the_viewers_job_reaches_the_load_process_as_it_was_planned():
    document = through_text(JOB.to_json())
    assert document["phase"] == "viewers"
    assert document["logins"][0] == {
        "client_id": "bench-viewer-1-0",
        "cert_file": "/certs/v0.pem",
        "key_file": "/certs/v0.key",
    }
    assert job_from_json(document) == JOB


def test_the_crowd_job_reaches_the_load_process_as_it_was_planned():
    document = through_text(CROWD_JOB.to_json())
    assert document["phase"] == "crowd"
    assert job_from_json(document) == CROWD_JOB


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"sizes": [3, 7]}, "fewer than 7"),
        ({"sizes": []}, "not counts"),
        ({"sizes": [0]}, "not counts"),
        ({"pids": [1, 2]}, "not 3 process ids"),
        ({"pids": [1, 2, 0]}, "not 3 process ids"),
    ],
)
def test_a_viewers_job_that_does_not_add_up_is_bad_input(change, complaint):
    document = {**through_text(JOB.to_json()), **change}
    with pytest.raises(InvalidJsonError, match=complaint):
        job_from_json(document)


def test_the_viewer_and_crowd_figures_come_back_with_every_sample():
    sent = ViewerFigures((viewer_run(3, lost=2), viewer_run(6)))
    assert JOB.figures_from_json(through_text(figures_to_json("viewers", sent))) == sent
    crowd = CrowdFigures(6, 4, fan_out(10, 70.0, 150.0), fan_out(10, 80.0, 200.0, lost=1))
    assert CROWD_JOB.figures_from_json(through_text(figures_to_json("crowd", crowd))) == crowd


# ---------------------------------------------------------------- report


def test_each_size_is_reported_against_as_many_viewers_on_direct_mutual_tls():
    figures_ = found(viewers=ViewerFigures((viewer_run(1000), viewer_run(3000))))
    assert list(figures_)[:8] == [
        "viewers.1000.direct.p50",
        "viewers.1000.direct.p99",
        "viewers.1000.direct.max",
        "viewers.1000.gateway.p50",
        "viewers.1000.gateway.p99",
        "viewers.1000.gateway.max",
        "viewers.1000.gateway.delivered",
        "viewers.1000.gateway.memory",
    ]
    assert figures_["viewers.1000.gateway.p50"].ratio == pytest.approx(60 / 50)
    assert figures_["viewers.1000.gateway.p99"].ratio == pytest.approx(1.5)
    # the gateway's process and its broker, per viewer, against the direct broker's
    assert figures_["viewers.1000.gateway.memory"].value == pytest.approx(71.0)
    assert figures_["viewers.1000.gateway.memory"].ratio == pytest.approx(71 / 25)
    assert figures_["viewers.growth.gateway.p99"].value == pytest.approx(1.0)
    assert figures_["viewers.1000.gateway.p99"].label == "viewers: push -> 1000, gateway, p99"


@pytest.mark.parametrize(
    ("gateway_p99", "mark_1000", "mark_3000"),
    [(150.0, "pass", "pass"), (201.0, "pass", "miss"), (1001.0, "miss", "miss")],
)
def test_below_3000_viewers_p99_within_a_second_from_3000_within_twice_direct(
    gateway_p99, mark_1000, mark_3000
):
    runs = (viewer_run(1000, gateway_p99=gateway_p99), viewer_run(3000, gateway_p99=gateway_p99))
    figures_ = found(viewers=ViewerFigures(runs))
    assert figures_["viewers.1000.gateway.p99"].mark == mark_1000
    assert figures_["viewers.3000.gateway.p99"].mark == mark_3000
    assert figures_["viewers.3000.gateway.p99"].target.describe("ms") == "ratio <= 2.00"


def test_a_viewer_that_missed_a_push_misses_the_delivery_target():
    figures_ = found(viewers=ViewerFigures((viewer_run(1000, lost=1),)))
    assert figures_["viewers.1000.gateway.delivered"].mark == "miss"
    assert "viewers.growth.gateway.p99" not in figures_  # one size: no growth


@pytest.mark.parametrize(
    ("p99", "lost", "marks"),
    [(900.0, 0, ("pass", "pass")), (1100.0, 0, ("miss", "pass")), (900.0, 1, ("pass", "miss"))],
)
def test_the_crowd_within_a_second_every_push_delivered(p99, lost, marks):
    crowd = CrowdFigures(
        5000,
        5000,
        fan_out(10000, 200.0, 600.0, broker_memory=5120000),
        fan_out(10000, 300.0, p99, lost=lost, stack_memory=10240000),
    )
    figures_ = found(crowd=crowd)
    assert (figures_["crowd.p99"].mark, figures_["crowd.delivered"].mark) == marks
    assert figures_["crowd.memory"].value == pytest.approx(1.0)
    assert figures_["crowd.memory"].ratio == pytest.approx(2.0)
    assert figures_["crowd.p99"].ratio == pytest.approx(p99 / 600)
    assert figures_["crowd.p99"].label == ("crowd: push -> 10000 (5000 devices, 5000 pages), p99")


def test_the_viewers_and_the_crowd_in_the_table_and_the_json():
    run = Results(
        MACHINE,
        quick=False,
        viewers=ViewerFigures((viewer_run(3, lost=2),)),
        crowd=CrowdFigures(2, 2, fan_out(4, 70.0, 150.0), fan_out(4, 80.0, 200.0)),
    )
    table = render_table(run)
    assert "viewers: push -> 3, gateway, p99" in table
    assert "viewers: 3 through the gateway: 3 of 3 open" in table
    assert "crowd: 2 devices and 2 pages, direct: 4 of 4 open" in table
    assert "crowd: 2 devices and 2 pages, through the gateway: 4 of 4 open" in table
    phases = to_json(run)["phases"]
    gateway = phases["viewers"]["runs"][0]["gateway"]
    assert (gateway["deliveries"], gateway["delivered"]) == (30, 28)
    assert (phases["crowd"]["devices"], phases["crowd"]["pages"]) == (2, 2)


def test_swan_bench_measures_1000_and_3000_viewers_by_default_and_the_crowd_only_when_named():
    assert "viewers" in PHASES
    assert "crowd" not in PHASES
    full, quick = Plan.defaults(quick=False), Plan.defaults(quick=True)
    assert full.viewers == (1000, 3000)
    assert (full.crowd_devices, full.crowd_pages) == (5000, 5000)
    assert max(quick.viewers) < 10
    assert quick.crowd_devices + quick.crowd_pages < 10


def test_the_default_crowd_fits_a_20000_descriptor_limit_in_every_process_of_the_stack():
    # Devices hold two of the stack's process each, pages two of the WebSocket door's, and
    # Mosquitto one per client: 5,000 + 5,000 fit where the hard limit is 20,000.
    assert crowd_descriptors(5000, 5000) == 10_000 + DESCRIPTOR_SPARE
    assert crowd_descriptors(10_000, 0) == 20_000 + DESCRIPTOR_SPARE  # all in one process
    assert crowd_descriptors(0, 10_000) == 20_000 + DESCRIPTOR_SPARE
    assert crowd_descriptors(3000, 1000) == 6000 + DESCRIPTOR_SPARE
