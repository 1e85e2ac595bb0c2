"""web the pages phase's pure parts: the MQTT a page speaks, the URL it presigns (held to the
gateway's own verifier), how the clients are spread and the phase bounded, the stack's CPU
and memory from /proc, the job and figures as JSON, the report, and `swan bench web`."""

import asyncio
import contextlib
import json
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from swan.adapters.mqtt import Endpoint
from swan.bench import page_wire, page_worker, web
from swan.bench.crowds import Watched, usage
from swan.bench.figures import figures
from swan.bench.jobs import WebJob, figures_to_json, job_from_json
from swan.bench.json_fields import Fields, InvalidJsonError
from swan.bench.measured import (
    BrokerFigures,
    FanOut,
    Idle,
    Latencies,
    Machine,
    Results,
    Throughput,
    WebFigures,
    WebRun,
)
from swan.bench.page_worker import Setup, Worker
from swan.bench.pages import KEEP_ALIVE, Credentials, PageError, Session, presigned_target
from swan.bench.proc import parse_rss, parse_stat, read
from swan.bench.report import render_table, to_json
from swan.bench.runner import PHASES, WEB_PHASES, Plan
from swan.cli import main
from swan.core.errors import InvalidSettingError
from swan.local.core.mqtt_packets import (
    CONNECT,
    PUBLISH_TYPE,
    parse_connect,
    parse_publish,
    parse_subscribe,
    parse_unsubscribe,
)
from swan.local.sigv4 import (
    IncomingRequest,
    RequestRefusedError,
    SigningKey,
    SigV4Verifier,
    iot_gateway_api,
)

DEVICE = Endpoint(
    "localhost",
    8883,
    "BENCH1WEB",
    ca_file=Path("/state/certs/ca.pem"),
    cert_file=Path("/state/certs/devices/BENCH1WEB.pem"),
    key_file=Path("/state/certs/devices/BENCH1WEB.key"),
)
DIRECT = Endpoint.local(Path("/state/broker/internal.sock"), "bench-direct-1", "svc", "pw")
JOB = WebJob(
    button=("BENCH1WEB", DEVICE),
    direct=DIRECT,
    ws_url="ws://127.0.0.1:18448/mqtt",
    cognito="http://127.0.0.1:18446",
    pool_id="us-east-1:00000000-0000-4000-8000-000000000001",
    region="us-east-1",
    sizes=(200, 1000),
    pushes=5,
    timeout=5.0,
    quiet_seconds=60.0,
    front_pids=(4242, 4244),
    broker_pid=4343,
)
MACHINE = Machine(cpu="Test CPU 3000", cores=2, python="3.11.7", platform="Linux-test")
IDENTITY = "us-east-1:6d72b621-5d03-46c2-a4dd-07f8f9bdc6fa"
CREDENTIALS = Credentials(IDENTITY, "ASIAEXAMPLEKEY", "secret/key+example", "token/with+and=")
MIB = 1024 * 1024
JOB_SETUP = {
    "ws_url": JOB.ws_url,
    "cognito": JOB.cognito,
    "pool_id": JOB.pool_id,
    "region": "us-east-1",
    "socket_path": "/state/broker/internal.sock",
    "username": "svc",
    "password": "pw",
    "timeout": 5.0,
}


def ms(*values):
    return tuple(value / 1000 for value in values)


# ---------------------------------------------------------------- what a page says


def test_a_page_connects_as_its_identity_with_a_clean_session_and_the_pages_keep_alive():
    connect = parse_connect(page_wire.connect_packet(IDENTITY, keep_alive=60))
    assert (connect.protocol, connect.client_id, connect.keep_alive) == ("3.1.1", IDENTITY, 60)
    assert connect.clean_start
    assert connect.username is None
    assert connect.will_topic is None


def test_a_direct_subscriber_connects_with_the_services_login():
    packet = page_wire.connect_packet(
        "bench-direct-1-0", keep_alive=60, username="svc", password="pw"
    )
    assert parse_connect(packet).username == "svc"
    assert packet.endswith(b"\x00\x03svc\x00\x02pw")


def test_the_get_goes_at_qos_1_with_its_packet_id_and_a_qos_0_publish_has_none():
    for packet_id, qos in ((2, 1), (0, 0)):
        packet = page_wire.publish_packet("$aws/things/button/shadow/get", b'{"a":1}', packet_id)
        [(first, body)] = page_wire.Framer().feed(packet)
        header = parse_publish(first, body, mqtt5=False)
        assert (first >> 4, header.qos, header.packet_id) == (PUBLISH_TYPE, qos, packet_id)
        assert header.topic == b"$aws/things/button/shadow/get"
        assert body[len(body) - header.payload_size :] == b'{"a":1}'


def test_subscribe_and_unsubscribe_carry_every_filter():
    filters = ("$aws/things/button/shadow/get/accepted", "$aws/things/button/shadow/get/rejected")
    asked = ((filters[0], 0), (filters[1], 1))
    [(first, body)] = page_wire.Framer().feed(page_wire.subscribe_packet(1, asked))
    assert first == 0x82
    assert parse_subscribe(body, mqtt5=False).filters == asked
    [(first, body)] = page_wire.Framer().feed(page_wire.unsubscribe_packet(3, filters))
    assert first == 0xA2
    assert parse_unsubscribe(body, mqtt5=False) == filters


def test_the_framer_returns_whole_packets_whatever_the_chunks():
    stream = (
        page_wire.connect_packet("x" * 200, keep_alive=60)  # a two-byte remaining length
        + page_wire.PINGREQ
        + page_wire.puback_packet(7)
    )
    framer = page_wire.Framer()
    packets = [packet for at in range(len(stream)) for packet in framer.feed(stream[at : at + 1])]
    assert [first for first, _ in packets] == [CONNECT, 0xC0, 0x40]
    assert packets[1][1] == b""
    assert packets[2][1] == b"\x00\x07"
    assert framer.feed(b"") == []


def test_a_connack_says_accepted_or_why_not():
    assert page_wire.connack_code(b"\x00\x00") == page_wire.CONNACK_ACCEPTED
    assert page_wire.connack_code(b"\x00\x05") == 5  # not authorized
    assert page_wire.connack_code(b"\x00") == 0xFF  # truncated: refused


# ---------------------------------------------------------------- the presigned URL


def verify(target, *, host="127.0.0.1:18448", key=CREDENTIALS):
    path, _, query = target.partition("?")
    signing_key = SigningKey(
        key.access_key_id,
        key.secret_key,
        "arn:aws:sts::000000000000:assumed-role/WebBackendRole/CognitoIdentityCredentials",
        session_token=key.session_token,
        identity_id=key.identity_id,
    )
    verifier = SigV4Verifier(iot_gateway_api("us-east-1"), {key.access_key_id: signing_key}.get)
    request = IncomingRequest("GET", path, query, {"host": host})
    return verifier.verify(request, datetime.now(UTC))


def test_the_url_a_page_presigns_is_one_the_gateways_door_accepts():
    target = presigned_target("ws://127.0.0.1:18448/mqtt", CREDENTIALS, "us-east-1")
    assert verify(target).identity_id == IDENTITY
    query = parse_qs(urlsplit(target).query)
    assert query["X-Amz-SignedHeaders"] == ["host"]
    assert query["X-Amz-Credential"][0].endswith("/us-east-1/iotdevicegateway/aws4_request")
    assert query["X-Amz-Security-Token"] == [CREDENTIALS.session_token]
    assert target.rpartition("&")[2].startswith("X-Amz-Security-Token=")  # after signing


def test_the_presigned_url_signs_the_host_with_its_port():
    target = presigned_target("ws://127.0.0.1:18448/mqtt", CREDENTIALS, "us-east-1")
    with pytest.raises(RequestRefusedError):
        verify(target, host="127.0.0.1:18449")


# ---------------------------------------------------------------- spreading and bounds


def test_a_worker_holds_at_most_250_clients_and_the_same_workers_serve_every_size():
    assert web.workers_for((200, 1000)) == 4
    assert web.workers_for((3, 6)) == 1
    assert web.workers_for((251,)) == 2


def test_the_clients_are_spread_evenly_over_the_workers():
    assert web.shares(1000, 4) == [250, 250, 250, 250]
    assert web.shares(10, 4) == [3, 3, 2, 2]
    assert web.shares(3, 4) == [1, 1, 1, 0]
    assert sum(web.shares(997, 3)) == 997


def test_the_time_limit_grows_with_the_sizes_the_pushes_and_the_quiet_spell():
    base = web.longest(sizes=(200, 1000), pushes=5, timeout=5.0, quiet_seconds=60.0)
    assert base > 4 * 60.0 + 2 * 6 * 5.0
    assert web.longest(sizes=(400, 1000), pushes=5, timeout=5.0, quiet_seconds=60.0) > base
    assert web.longest(sizes=(200, 1000, 1000), pushes=5, timeout=5.0, quiet_seconds=60.0) > base
    assert web.longest(sizes=(200, 1000), pushes=9, timeout=5.0, quiet_seconds=60.0) > base
    longer = web.longest(sizes=(200, 1000), pushes=5, timeout=5.0, quiet_seconds=70.0)
    assert longer == pytest.approx(base + 4 * 10.0)  # two spells per size
    assert base < JOB.time_limit  # and the load process's and workers' start-up on top


# ---------------------------------------------------------------- /proc


def test_a_stat_line_gives_the_process_its_group_and_its_cpu_ticks():
    # The name may hold spaces and parentheses; utime and stime are fields 14 and 15.
    line = "4243 (python -m (x)) S 4242 4242 4242 0 -1 4194560 1 0 0 0 150 25 0 0 20 0 9 0"
    process = parse_stat(line)
    assert (process.pid, process.group, process.ticks) == (4243, 4242, 175)


def test_the_resident_set_comes_from_vmrss_not_the_peak():
    status = "Name:\tpython\nVmHWM:\t  90000 kB\nVmRSS:\t  81234 kB\nThreads:\t9\n"
    assert parse_rss(status) == 81234 * 1024
    with pytest.raises(ValueError, match="VmRSS"):
        parse_rss("Name:\tkthreadd\n")


def test_a_process_is_read_from_proc(tmp_path):
    (tmp_path / "10").mkdir()
    (tmp_path / "10" / "stat").write_text("10 (mosquitto) S 1 10 10 0 -1 0 0 0 0 0 300 100 0 0")
    (tmp_path / "10" / "status").write_text("Name:\tmosquitto\nVmRSS:\t2048 kB\n")
    usage = read(10, proc=tmp_path)
    assert usage.rss_bytes == 2 * MIB
    assert usage.cpu_seconds > 0
    with pytest.raises(OSError):  # noqa: PT011  (gone: whichever OSError the kernel says)
        read(11, proc=tmp_path)


def fake_process(proc, pid, ticks, rss_kib):
    (proc / str(pid)).mkdir()
    (proc / str(pid) / "stat").write_text(f"{pid} (python) S 1 {pid} 0 0 -1 0 0 0 0 0 {ticks} 0")
    (proc / str(pid) / "status").write_text(f"Name:\tpython\nVmRSS:\t{rss_kib} kB\n")


def test_the_processes_in_front_of_the_broker_are_counted_together(tmp_path):
    # The stack's own process (the device gateway) and the WebSocket door's: one front.
    fake_process(tmp_path, 10, ticks=100, rss_kib=1024)
    fake_process(tmp_path, 20, ticks=300, rss_kib=3072)
    fake_process(tmp_path, 30, ticks=50, rss_kib=512)
    front, broker = usage(Watched((10, 20), 30), tmp_path)
    alone, _ = usage(Watched((10,), 30), tmp_path)
    assert front.rss_bytes == 4 * MIB
    assert front.cpu_seconds == pytest.approx(4 * alone.cpu_seconds)
    assert broker.rss_bytes == MIB // 2


# ---------------------------------------------------------------- job and figures as JSON


def through_text(document):
    return json.loads(json.dumps(document))


def fan_out(clients=200, p50=40.0, p99=60.0, *, lost=0, connected=None, **changes):
    samples = ms(*[p50] * (clients * 5 // 2), *[p99] * (clients * 5 - clients * 5 // 2 - lost))
    values = {
        "clients": clients,
        "connected": clients if connected is None else connected,
        "open_seconds": 2.5,
        "gets": {"accepted": max(clients - 20, 0), "rejected 429": min(clients, 20)},
        "pushes": 5,
        "push_to_client": Latencies(samples, lost),
        "stack_memory_bytes": clients * 40 * 1024,
        "broker_memory_bytes": clients * 4 * 1024,
        "idle": Idle(60.0, bytes=clients * 12, stack_cpu_seconds=0.3, broker_cpu_seconds=0.06),
    }
    return FanOut(**(values | changes))


def web_run(pages=200, **changes):
    direct = fan_out(pages, 20.0, 30.0, stack_memory_bytes=0, idle=Idle(60.0, pages * 4, 0.1, 0.05))
    return WebRun(pages, direct=direct, web=fan_out(pages, **changes))


def test_the_web_job_reaches_the_load_process_as_it_was_planned():
    document = through_text(JOB.to_json())
    assert document["phase"] == "web"
    assert document["direct"]["socket_path"] == "/state/broker/internal.sock"
    assert document["sizes"] == [200, 1000]
    assert job_from_json(document) == JOB


@pytest.mark.parametrize("sizes", [[], [0], [2.5], [200, -1]])
def test_a_web_job_without_counts_of_pages_is_refused(sizes):
    document = through_text(JOB.to_json()) | {"sizes": sizes}
    with pytest.raises(InvalidJsonError, match=r"job\.sizes"):
        job_from_json(document)


def test_the_web_figures_come_back_with_every_sample_and_count():
    sent = WebFigures((web_run(200, lost=3), web_run(1000)))
    answer = through_text(figures_to_json("web", sent))
    assert JOB.figures_from_json(answer) == sent


def test_a_workers_setup_goes_as_json_and_comes_back():
    setup = Setup(
        ws_url=JOB.ws_url,
        cognito=JOB.cognito,
        pool_id=JOB.pool_id,
        region="us-east-1",
        socket_path="/state/broker/internal.sock",
        username="svc",
        password="pw",
        timeout=5.0,
    )
    assert Setup.from_json(through_text(setup.to_json())) == setup
    with pytest.raises(InvalidJsonError, match=r"setup\.timeout"):
        Setup.from_json(setup.to_json() | {"timeout": 0})


@pytest.mark.parametrize(
    ("command", "complaint"),
    [
        ({"do": "everything"}, r"command\.do: not a command: 'everything'"),
        ({"do": "open", "kind": "browser", "count": 1, "prefix": "p"}, r"command\.kind"),
        ({"do": "open", "kind": "page", "count": -1, "prefix": "p"}, r"command\.count"),
        ({"do": "wait"}, r"command\.above: missing"),
    ],
)
def test_a_worker_refuses_a_command_it_does_not_know(command, complaint):
    worker = Worker(Setup.from_json(JOB_SETUP))
    with pytest.raises(InvalidJsonError, match=complaint):
        asyncio.run(worker.answer(Fields.of(command, "command")))


def test_a_worker_with_no_clients_answers_at_once():
    async def scenario():
        worker = Worker(Setup.from_json(JOB_SETUP))
        return [
            await worker.answer(Fields.of({"do": do, "above": -1}, "command"))
            for do in ("wait", "counters", "close")
        ]

    assert asyncio.run(scenario()) == [
        {"reached": 0, "most": None},
        {"sent": 0, "received": 0},
        {"seen": []},
    ]


class RecordingWriter:
    """Where a client writes, kept."""

    def __init__(self):
        self.written = bytearray()

    def write(self, data):
        self.written += data


def test_a_client_that_does_not_get_in_tries_again_as_a_real_one_does(monkeypatch):
    """A try that fails (timed out, refused) is not the client's last: it tries again a
    second later, as the page and the AWS SDKs do, `ATTEMPTS` times in all; each retry is
    counted, and a client that never got in says why."""
    monkeypatch.setattr(page_worker, "RETRY_AFTER", 0.0)
    tries: dict[int, int] = {}

    async def open_one(n):
        tries[n] = tries.get(n, 0) + 1
        if n == 0 and tries[n] == 1:
            raise TimeoutError  # the first try of client 0 only
        if n == 1:
            raise PageError("page client-1", "upgrade refused: 403")
        return Session(f"client-{n}")

    worker = Worker(Setup.from_json(JOB_SETUP))
    answer = asyncio.run(worker._opened(3, open_one))
    assert tries == {0: 2, 1: page_worker.ATTEMPTS, 2: 1}
    assert (answer["opened"], answer["failed"]) == (2, 1)
    assert answer["retried"] == 1 + (page_worker.ATTEMPTS - 1)
    assert answer["problems"] == ["page client-1 upgrade refused: 403"]
    assert sorted(s.client_id for s in worker.sessions) == ["client-0", "client-2"]


def test_a_client_is_kept_alive_from_its_opening_while_the_others_still_open():
    """Thousands of clients take longer to open than the broker waits for a silent one (a
    keep-alive and a half): the first must be pinged before the last is open."""

    async def scenario():
        worker = Worker(Setup.from_json(JOB_SETUP))
        first = Session("first", clock=lambda: 0.0)
        first._writer = RecordingWriter()  # an open client, without a socket
        last_may_open = asyncio.Event()

        async def open_one(n):
            if n == 0:
                return first
            await last_may_open.wait()
            return Session("last")

        opening = asyncio.create_task(worker._opened(2, open_one))
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                while not worker.sessions:  # noqa: ASYNC110  (the worker's own list)
                    await asyncio.sleep(0.01)
        for session in worker.sessions:  # as keep_alive does, every TICK
            session.ping_if_quiet(now=float(KEEP_ALIVE))
        pinged = bytes(first._writer.written)
        last_may_open.set()
        answer = await opening
        return pinged, answer["opened"], [s.client_id for s in worker.sessions]

    pinged, opened, sessions = asyncio.run(scenario())
    assert pinged == page_wire.PINGREQ
    assert opened == 2
    assert sessions == ["first", "last"]


# ---------------------------------------------------------------- report


def results(web_phase, *, with_broker=True):
    broker = BrokerFigures(Latencies(ms(*[0.2] * 50, *[0.4] * 50)), Throughput(40000, 5.0, 100))
    return Results(MACHINE, quick=False, broker=broker if with_broker else None, web=web_phase)


def found(web_phase):
    return {figure.key: figure for figure in figures(results(web_phase))}


def test_each_size_is_reported_against_as_many_direct_subscribers():
    figures_ = found(WebFigures((web_run(200),)))
    assert [key for key in figures_ if key.startswith("web.")] == [
        "web.200.direct.p50",
        "web.200.direct.p99",
        "web.200.push_to_page.p50",
        "web.200.push_to_page.p99",
        "web.200.push_to_page.max",
        "web.200.delivered",
        "web.200.idle_cpu",
        "web.200.idle_traffic",
        "web.200.memory",
    ]
    assert figures_["web.200.direct.p50"].value == pytest.approx(20.0)
    assert figures_["web.200.push_to_page.p50"].ratio == pytest.approx(2.0)
    assert figures_["web.200.push_to_page.p99"].ratio == pytest.approx(2.0)
    assert figures_["web.200.push_to_page.max"].ratio == pytest.approx(2.0)
    assert figures_["web.200.delivered"].value == 100.0
    assert figures_["web.200.idle_cpu"].value == pytest.approx(0.5)  # 0.3 s in 60 s
    assert figures_["web.200.idle_cpu"].ratio == pytest.approx(3.0)
    assert figures_["web.200.idle_traffic"].value == pytest.approx(0.2)  # 12 bytes a minute
    assert figures_["web.200.idle_traffic"].ratio == pytest.approx(3.0)
    assert figures_["web.200.memory"].value == pytest.approx(40.0)  # KB per page
    assert figures_["web.200.memory"].ratio == pytest.approx(10.0)  # Mosquitto: 4 KB each


def test_growth_from_the_smallest_size_to_the_largest():
    large = web_run(1000, p99=240.0, stack_memory_bytes=1000 * 50 * 1024)
    large = WebRun(1000, large.direct, fan_out(1000, p99=240.0, idle=Idle(60.0, 12000, 0.9, 0.1)))
    figures_ = found(WebFigures((web_run(200), large)))
    assert list(figures_)[-3:] == ["web.growth.p99", "web.growth.idle_cpu", "web.growth.memory"]
    assert figures_["web.growth.p99"].value == pytest.approx(4.0)
    assert figures_["web.growth.idle_cpu"].value == pytest.approx(3.0)
    assert figures_["web.growth.memory"].value == pytest.approx(5.0)
    assert figures_["web.growth.p99"].label == "web: growth of p99, 200 -> 1000 pages"
    assert "web.growth.p99" not in found(WebFigures((web_run(200),)))  # one size: no growth


@pytest.mark.parametrize(
    ("p99", "lost", "cpu_seconds", "marks"),
    [
        (60.0, 0, 0.3, ("pass", "pass", "pass")),
        (1200.0, 0, 0.3, ("miss", "pass", "pass")),
        (60.0, 1, 0.3, ("pass", "miss", "pass")),
        (60.0, 0, 1.5, ("pass", "pass", "miss")),
    ],
)
def test_targets_p99_1_s_every_push_delivered_idle_cpu_2_percent(p99, lost, cpu_seconds, marks):
    idle = Idle(60.0, 2400, cpu_seconds, 0.05)
    figures_ = found(WebFigures((web_run(200, p99=p99, lost=lost, idle=idle),)))
    assert (
        figures_["web.200.push_to_page.p99"].mark,
        figures_["web.200.delivered"].mark,
        figures_["web.200.idle_cpu"].mark,
    ) == marks


def test_p99_holds_from_200_pages_idle_cpu_at_200_and_delivery_at_any_size():
    small = found(WebFigures((web_run(10, p99=5000.0),)))
    assert small["web.10.push_to_page.p99"].target is None
    assert small["web.10.delivered"].mark == "pass"
    large = found(WebFigures((web_run(1000),)))
    assert large["web.1000.push_to_page.p99"].mark == "pass"
    assert large["web.1000.idle_cpu"].target is None


def test_a_page_that_never_opened_lost_every_push():
    figures_ = found(WebFigures((web_run(200, connected=199, lost=5),)))
    assert figures_["web.200.delivered"].value == pytest.approx(99.5)
    assert figures_["web.200.delivered"].mark == "miss"


def test_nothing_to_divide_by_gives_no_ratio_and_no_crash():
    nothing = fan_out(5, connected=0, lost=25, idle=Idle(0.0, 0, 0.0, 0.0), stack_memory_bytes=0)
    figures_ = found(WebFigures((WebRun(5, direct=nothing, web=nothing),)))
    assert figures_["web.5.idle_traffic"].value is None
    assert figures_["web.5.memory"].value is None
    assert figures_["web.5.idle_cpu"].ratio is None
    table = render_table(results(WebFigures((WebRun(5, nothing, nothing),))))
    assert "web: push -> 5 pages, p50" in table
    assert "web: 5 pages: 0 of 5 open" in table


def test_the_pages_phase_in_the_table_and_the_json():
    run = results(WebFigures((web_run(200, lost=2), web_run(1000))))
    table = render_table(run)
    assert "web: push -> 200 pages, p99" in table
    assert "web: push -> 200 direct subscribers, p50" in table
    assert "web: stack CPU, 200 pages idle" in table
    assert "web: growth of p99, 200 -> 1000 pages" in table
    assert (
        "web: 200 pages: 200 of 200 open in 2.50 s"
        " (0 retries; gets: 180 accepted, 20 rejected 429); " in table
    )
    assert "5 pushes: 998 of 1000 delivered; memory +7.81 MB stack" in table
    document = to_json(run)
    assert document["figures"]["web.200.push_to_page.p99"]["target"] == {
        "op": "<=",
        "limit": 1000,
        "of": "value",
    }
    first = document["phases"]["web"]["runs"][0]
    assert first["pages"] == 200
    pages = first["web"]
    assert (pages["deliveries"], pages["delivered"], pages["push_to_client"]["lost"]) == (
        1000,
        998,
        2,
    )
    assert pages["idle"]["stack_percent_of_core"] == 0.5
    assert pages["idle"]["bytes_per_client_second"] == 0.2
    assert pages["gets"] == {"accepted": 180, "rejected 429": 20}


def test_the_broker_baseline_is_not_needed_by_the_pages():
    figures_ = figures(results(WebFigures((web_run(200),)), with_broker=False))
    assert all(figure.ratio is not None for figure in figures_ if ".push_to_page." in figure.key)


# ---------------------------------------------------------------- the command


def test_swan_bench_web_measures_the_pages_at_the_sizes_asked_for(monkeypatch):
    planned = []

    def run(plan, say):  # noqa: ARG001
        planned.append(plan)
        return results(WebFigures((web_run(200),)))

    monkeypatch.setattr("swan.bench.runner.run", run)
    argv = ["bench", "web", "--clients", "50", "--clients", "300", "--quiet-seconds", "3"]
    assert main(argv) == 0
    plan = planned[0]
    assert plan.phases == WEB_PHASES == ("broker", "viewers", "web")
    assert (plan.clients, plan.quiet_seconds) == ((50, 300), 3.0)
    assert "web" in PHASES  # a plan's default is swan bench's: the pages too


def test_the_full_run_opens_200_then_1000_pages_and_quick_a_few():
    quick, full = Plan.defaults(quick=True), Plan.defaults(quick=False)
    assert (full.clients, full.web_pushes, full.quiet_seconds) == ((200, 1000), 5, 60.0)
    assert len(quick.clients) == 2  # growth is reported in CI too
    assert max(quick.clients) < 10
    assert quick.quiet_seconds < 1


def test_swan_bench_web_does_not_take_only(capsys):
    assert main(["bench", "web", "--only", "shadow"]) == 2
    assert "--only" in capsys.readouterr().err
    assert issubclass(InvalidSettingError, ValueError)
