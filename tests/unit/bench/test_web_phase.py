"""(e) the web phase's pure parts: push latencies per page, the backend's CPU from /proc,
its job and figures as JSON, its lines in the report, and `swan bench web`."""

import json
from pathlib import Path

import pytest

from swan.adapters.mqtt import Endpoint
from swan.bench import web
from swan.bench.cpu import group_ticks, parse_stat, used_seconds
from swan.bench.jobs import WebJob, figures_to_json, job_from_json
from swan.bench.report import (
    BrokerFigures,
    IdleCpu,
    Latencies,
    Machine,
    Results,
    Throughput,
    WebFigures,
    figures,
    render_table,
    to_json,
)
from swan.bench.runner import PHASES, WEB_PHASES, Plan
from swan.cli import main
from swan.core.errors import InvalidSettingError

DEVICE = Endpoint(
    "localhost",
    8883,
    "BENCH1WEB",
    ca_file=Path("/state/certs/ca.pem"),
    cert_file=Path("/state/certs/devices/BENCH1WEB.pem"),
    key_file=Path("/state/certs/devices/BENCH1WEB.key"),
)
JOB = WebJob(
    host="127.0.0.1",
    port=43123,
    button=("BENCH1WEB", DEVICE),
    clients=200,
    pushes=5,
    timeout=5.0,
    quiet_seconds=10.0,
    backend_group=4242,
)
MACHINE = Machine(cpu="Test CPU 3000", cores=2, python="3.11.7", platform="Linux-test")


def ms(*values):
    return tuple(value / 1000 for value in values)


def web_figures(p50=40.0, p99=60.0, clients=200, lost=0, cpu_seconds=0.05):
    samples = ms(*[p50] * (clients * 5 // 2), *[p99] * (clients * 5 - clients * 5 // 2 - lost))
    return WebFigures(
        Latencies(samples, lost),
        clients=clients,
        connected=clients,
        pushes=5,
        connect_seconds=1.2,
        idle=IdleCpu(cpu_seconds, 10.0),
    )


def results(web_phase, *, with_broker=True):
    broker = BrokerFigures(Latencies(ms(*[0.2] * 50, *[0.4] * 50)), Throughput(40000, 5.0, 100))
    return Results(MACHINE, quick=False, broker=broker if with_broker else None, web=web_phase)


# ---------------------------------------------------------------- latencies


def test_the_time_limit_grows_with_the_pages_the_pushes_and_the_quiet_spell():
    base = web.longest(clients=200, pushes=5, timeout=5.0, quiet_seconds=10.0)
    assert base > 10.0 + 6 * 5.0
    assert web.longest(clients=400, pushes=5, timeout=5.0, quiet_seconds=10.0) > base
    assert web.longest(clients=200, pushes=9, timeout=5.0, quiet_seconds=10.0) > base
    assert web.longest(clients=200, pushes=5, timeout=5.0, quiet_seconds=30.0) == base + 20.0
    assert base < JOB.time_limit  # and the load process's start-up on top


# ---------------------------------------------------------------- CPU from /proc


def test_a_stat_line_gives_the_process_its_group_and_its_cpu_ticks():
    # The name may hold spaces and parentheses; utime and stime are fields 14 and 15.
    line = "4243 (python -m (x)) S 4242 4242 4242 0 -1 4194560 1 0 0 0 150 25 0 0 20 0 9 0"
    process = parse_stat(line)
    assert (process.pid, process.group, process.ticks) == (4243, 4242, 175)


def test_cpu_between_two_readings_counts_members_that_joined_and_not_those_that_left():
    before = {1: 100, 2: 50, 3: 10}
    after = {1: 130, 2: 50, 4: 20}  # 3 left, 4 joined
    assert used_seconds(before, after, ticks_per_second=100) == pytest.approx(0.5)
    assert used_seconds({1: 100}, {1: 90}, 100) == 0.0  # never negative


def test_the_members_of_a_group_are_read_from_proc(tmp_path):
    for pid, group, ticks in ((10, 10, 7), (11, 10, 3), (12, 99, 50)):
        (tmp_path / str(pid)).mkdir()
        (tmp_path / str(pid) / "stat").write_text(
            f"{pid} (reflex) S 1 {group} {group} 0 -1 0 0 0 0 0 {ticks} 0 0 0 20 0 1 0"
        )
    (tmp_path / "13").mkdir()  # gone before it could be read
    (tmp_path / "self").mkdir()
    assert group_ticks(10, proc=tmp_path) == {10: 7, 11: 3}


# ---------------------------------------------------------------- job and figures as JSON


def through_text(document):
    return json.loads(json.dumps(document))


def test_the_web_job_reaches_the_load_process_as_it_was_planned():
    document = through_text(JOB.to_json())
    assert document["phase"] == "web"
    assert document["button"]["endpoint"]["cert_file"] == "/state/certs/devices/BENCH1WEB.pem"
    assert job_from_json(document) == JOB


def test_the_web_figures_come_back_with_every_sample():
    figures_sent = web_figures(lost=3)
    answer = through_text(figures_to_json("web", figures_sent))
    assert JOB.figures_from_json(answer) == figures_sent


# ---------------------------------------------------------------- report


def test_web_latencies_are_compared_with_the_broker_round_trip():
    found = {figure.key: figure for figure in figures(results(web_figures()))}
    assert list(found)[3:] == [
        "web.push_to_page.p50",
        "web.push_to_page.p99",
        "web.push_to_page.max",
        "web.delivered",
        "web.idle_cpu",
    ]
    assert found["web.push_to_page.p50"].value == pytest.approx(40.0)
    assert found["web.push_to_page.p50"].ratio == pytest.approx(200.0)
    assert found["web.push_to_page.p99"].ratio == pytest.approx(150.0)
    assert found["web.delivered"].value == 100.0
    assert found["web.idle_cpu"].value == pytest.approx(0.5)
    assert found["web.idle_cpu"].unit == "% of a core"
    assert found["web.idle_cpu"].ratio is None


@pytest.mark.parametrize(
    ("p99", "lost", "cpu_seconds", "marks"),
    [
        (60.0, 0, 0.05, ("pass", "pass", "pass")),
        (1200.0, 0, 0.05, ("miss", "pass", "pass")),
        (60.0, 1, 0.05, ("pass", "miss", "pass")),
        (60.0, 0, 0.5, ("pass", "pass", "miss")),
    ],
)
def test_web_targets_p99_1_s_every_push_delivered_idle_cpu_2_percent(p99, lost, cpu_seconds, marks):
    found = {
        f.key: f for f in figures(results(web_figures(p99=p99, lost=lost, cpu_seconds=cpu_seconds)))
    }
    assert (
        found["web.push_to_page.p99"].mark,
        found["web.delivered"].mark,
        found["web.idle_cpu"].mark,
    ) == marks


def test_latency_and_cpu_targets_hold_only_at_200_pages():
    found = {f.key: f for f in figures(results(web_figures(clients=10, p99=5000.0)))}
    assert found["web.push_to_page.p99"].target is None
    assert found["web.idle_cpu"].target is None
    assert found["web.delivered"].mark == "pass"  # a lost push is a miss at any size


def test_the_web_phase_in_the_table_and_the_json():
    run = results(web_figures(lost=2))
    table = render_table(run)
    assert "(e) push -> 200 web pages, p99" in table
    assert "(e) web backend CPU, idle, 200 pages open" in table
    assert "(e) 200 of 200 pages open in 1.20 s; 5 pushes: 998 of 1000 delivered" in table
    document = to_json(run)
    assert document["figures"]["web.push_to_page.p99"]["target"] == {
        "op": "<=",
        "limit": 1000,
        "of": "value",
    }
    phase = document["phases"]["web"]
    assert (phase["deliveries"], phase["delivered"], phase["push_to_page"]["lost"]) == (
        1000,
        998,
        2,
    )
    assert phase["idle"] == {"seconds": 10.0, "cpu_seconds": 0.05, "percent_of_core": 0.5}
    assert any(note.startswith("(e)") for note in document["notes"])


def test_without_the_broker_the_web_figures_have_no_ratios():
    found = figures(results(web_figures(), with_broker=False))
    assert all(figure.ratio is None for figure in found)


# ---------------------------------------------------------------- the command


def test_swan_bench_web_measures_the_web_app_against_the_broker_baseline(monkeypatch):
    planned = []

    def run(plan, say):  # noqa: ARG001
        planned.append(plan)
        return results(web_figures())

    monkeypatch.setattr("swan.bench.runner.run", run)
    assert main(["bench", "web", "--clients", "50", "--quiet-seconds", "3"]) == 0
    plan = planned[0]
    assert plan.phases == WEB_PHASES == ("broker", "viewers", "web")
    assert (plan.clients, plan.quiet_seconds) == (50, 3.0)
    assert "web" not in PHASES  # `swan bench` alone measures the five others


def test_quick_opens_few_pages_and_stays_quiet_briefly():
    quick, full = Plan.defaults(quick=True), Plan.defaults(quick=False)
    assert (full.clients, full.web_pushes, full.quiet_seconds) == (200, 5, 10.0)
    assert quick.clients < full.clients
    assert quick.quiet_seconds < full.quiet_seconds


def test_swan_bench_web_does_not_take_only(capsys):
    assert main(["bench", "web", "--only", "shadow"]) == 2
    assert "--only" in capsys.readouterr().err
    assert issubclass(InvalidSettingError, ValueError)
