"""The JSON between the bench and its load process: jobs in, figures out, errors that point."""

import json
import math
from dataclasses import replace
from pathlib import Path

import pytest

from swan.adapters.mqtt import Endpoint
from swan.bench.jobs import (
    BrokerJob,
    GatewayJob,
    PushJob,
    ShadowJob,
    figures_to_json,
    job_from_json,
)
from swan.bench.json_fields import InvalidJsonError
from swan.bench.loops import Load
from swan.bench.measured import (
    BrokerFigures,
    GatewayFigures,
    Latencies,
    PathFigures,
    PushFigures,
    ShadowFigures,
    Throughput,
)
from swan.core.errors import SwanError

LOAD = Load(samples=1000, seconds=5.0, window=100, timeout=5.0)
SERVICE = Endpoint.local(Path("/state/broker/internal.sock"), "bench-pub-1", "svc", "secret")
LISTENER = Endpoint.local(Path("/state/broker/internal.sock"), "bench-sub-1", "svc", "secret")
DEVICE = Endpoint(
    "localhost",
    8883,
    "BENCH1",
    ca_file=Path("/state/certs/ca.pem"),
    cert_file=Path("/state/certs/devices/BENCH1.pem"),
    key_file=Path("/state/certs/devices/BENCH1.key"),
)

BROKER_JOB = BrokerJob(SERVICE, LISTENER, "swan-bench/1", LOAD)
SHADOW_JOB = ShadowJob(SERVICE, LISTENER, "bench-1", LOAD)
PUSH_JOB = PushJob((("BENCH1", DEVICE),), LISTENER, rate=20.0, seconds=10.0, timeout=5.0)
GATEWAY_JOB = GatewayJob(replace(DEVICE, port=40123), DEVICE, "swan-bench/1/gateway", LOAD)

LATENCIES = Latencies((0.000234, 0.0011, 0.0004), lost=2)
THROUGHPUT = Throughput(completed=30043, seconds=5.0, window=100)
FIGURES = [
    (BROKER_JOB, BrokerFigures(LATENCIES, THROUGHPUT)),
    (SHADOW_JOB, ShadowFigures(LATENCIES, THROUGHPUT, rejected=1)),
    (PUSH_JOB, PushFigures(LATENCIES, rate=20.0, clicks=200, documents=190, seconds=9.95)),
    (
        GATEWAY_JOB,
        GatewayFigures(
            direct=PathFigures(LATENCIES, THROUGHPUT),
            gateway=PathFigures(Latencies((0.0005,)), Throughput(20000, 5.0, 100)),
        ),
    ),
]


def through_text(document):
    """As the pipe carries it: JSON text, and back."""
    return json.loads(json.dumps(document))


def broker_job_json(**changes):
    return {**through_text(BROKER_JOB.to_json()), **changes}


def load_json(**changes):
    return {**through_text(BROKER_JOB.to_json())["load"], **changes}


# ---------------------------------------------------------------- jobs


@pytest.mark.parametrize(
    "job", [BROKER_JOB, SHADOW_JOB, PUSH_JOB, GATEWAY_JOB], ids=lambda job: job.PHASE
)
def test_a_job_reaches_the_load_process_as_it_was_planned(job):
    assert job_from_json(through_text(job.to_json())) == job


def test_a_login_travels_as_plain_values():
    document = through_text(BROKER_JOB.to_json())
    assert document["phase"] == "broker"
    assert document["publisher"]["socket_path"] == "/state/broker/internal.sock"
    assert document["publisher"]["password"] == "secret"
    assert document["load"] == {"samples": 1000, "seconds": 5.0, "window": 100, "timeout": 5.0}
    device = through_text(PUSH_JOB.to_json())["buttons"][0]
    assert device["serial"] == "BENCH1"
    assert device["endpoint"]["cert_file"] == "/state/certs/devices/BENCH1.pem"
    assert device["endpoint"]["socket_path"] is None


def test_a_gateway_job_names_both_paths_of_the_same_device():
    document = through_text(GATEWAY_JOB.to_json())
    assert document["phase"] == "gateway"
    assert document["direct"]["port"] == 40123
    assert document["gateway"]["port"] == 8883
    assert document["direct"]["cert_file"] == document["gateway"]["cert_file"]
    assert document["direct"]["client_id"] == document["gateway"]["client_id"] == "BENCH1"


@pytest.mark.parametrize(
    ("document", "where"),
    [
        ([], "job"),
        ({}, "job.phase"),
        (broker_job_json(phase="everything"), "job.phase"),
        (broker_job_json(topic=7), "job.topic"),
        (broker_job_json(load={"samples": 10, "seconds": 1.0, "window": 5}), "job.load.timeout"),
        (broker_job_json(load=load_json(seconds=0)), "job.load.seconds"),
        (broker_job_json(load=load_json(window=True)), "job.load.window"),
        (broker_job_json(load=load_json(samples=-1)), "job.load.samples"),
        (broker_job_json(load=load_json(timeout="5")), "job.load.timeout"),
        (broker_job_json(publisher="localhost"), "job.publisher"),
    ],
)
def test_a_malformed_job_is_an_error_that_says_where(document, where):
    with pytest.raises(InvalidJsonError) as raised:
        job_from_json(document)
    assert raised.value.where == where
    assert where in str(raised.value)


def test_a_push_job_without_buttons_is_an_error():
    document = through_text(PUSH_JOB.to_json())
    document["buttons"] = []
    with pytest.raises(InvalidJsonError, match=r"job\.buttons: no buttons"):
        job_from_json(document)


def test_a_malformed_job_is_bad_input():
    assert issubclass(InvalidJsonError, SwanError)
    assert issubclass(InvalidJsonError, ValueError)


# ---------------------------------------------------------------- figures


@pytest.mark.parametrize(("job", "figures"), FIGURES, ids=lambda value: type(value).__name__)
def test_the_figures_come_back_with_every_sample(job, figures):
    answer = through_text(figures_to_json(job.PHASE, figures))
    assert job.figures_from_json(answer) == figures


def test_an_answer_for_another_phase_is_an_error():
    answer = through_text(figures_to_json("broker", FIGURES[0][1]))
    with pytest.raises(InvalidJsonError, match=r"answer\.phase: 'broker', not 'shadow'"):
        SHADOW_JOB.figures_from_json(answer)


def test_a_gateway_answer_without_one_of_its_paths_is_an_error():
    answer = through_text(figures_to_json("gateway", FIGURES[3][1]))
    del answer["direct"]
    with pytest.raises(InvalidJsonError, match=r"answer\.direct: missing"):
        GATEWAY_JOB.figures_from_json(answer)
    answer = through_text(figures_to_json("gateway", FIGURES[3][1]))
    answer["gateway"]["throughput"]["completed"] = -1
    with pytest.raises(InvalidJsonError) as raised:
        GATEWAY_JOB.figures_from_json(answer)
    assert raised.value.where == "answer.gateway.throughput.completed"


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"round_trip": {"seconds": [0.001, "fast"], "lost": 0}}, "answer.round_trip.seconds[1]"),
        ({"round_trip": {"seconds": [-0.001], "lost": 0}}, "answer.round_trip.seconds"),
        ({"round_trip": {"seconds": [math.nan], "lost": 0}}, "answer.round_trip.seconds[0]"),
        (
            {"throughput": {"completed": 1, "seconds": -1.0, "window": 1}},
            "answer.throughput.seconds",
        ),
        ({"throughput": None}, "answer.throughput"),
    ],
)
def test_malformed_figures_are_an_error_that_says_where(change, where):
    answer = {**through_text(figures_to_json("broker", FIGURES[0][1])), **change}
    with pytest.raises(InvalidJsonError) as raised:
        BROKER_JOB.figures_from_json(answer)
    assert raised.value.where == where


# ---------------------------------------------------------------- time limits


def test_a_time_limit_covers_the_whole_measurement_and_grows_with_its_settings():
    longer = BrokerJob(SERVICE, LISTENER, "t", Load(1000, seconds=10.0, window=100, timeout=5.0))
    slower = BrokerJob(SERVICE, LISTENER, "t", Load(1000, seconds=5.0, window=100, timeout=9.0))
    assert BROKER_JOB.time_limit > 3 * LOAD.seconds + LOAD.timeout
    assert longer.time_limit > BROKER_JOB.time_limit
    assert slower.time_limit > BROKER_JOB.time_limit
    assert PUSH_JOB.time_limit > PUSH_JOB.seconds + PUSH_JOB.timeout
    quick_push = PushJob(PUSH_JOB.buttons, LISTENER, rate=20.0, seconds=1.5, timeout=5.0)
    assert quick_push.time_limit < PUSH_JOB.time_limit


def test_the_gateway_time_limit_covers_both_paths():
    assert GATEWAY_JOB.time_limit - BROKER_JOB.time_limit >= LOAD.longest
