"""`swan bench --quick` on the real local stack, the web app and the Pi client: every figure is
there and positive.

Figures are never compared with targets or thresholds here: the machine is shared and noisy.
"""

import gc
import json
import sys
import textwrap
import time
from pathlib import Path

import pytest

from swan.adapters.mqtt import Endpoint
from swan.bench import child
from swan.bench.child import LoadProcessError, LoadTimeoutError
from swan.bench.jobs import BrokerJob
from swan.bench.loops import Load
from swan.bench.measured import BrokerFigures, Latencies, Throughput
from swan.cli import main

# The quick bench's viewers (3, then 6 devices), each size through the gateway beside directly.
VIEWER_FIGURES = (
    *(
        f"viewers.{n}.{key}"
        for n in (3, 6)
        for key in (
            "direct.p50",
            "direct.p99",
            "direct.max",
            "gateway.p50",
            "gateway.p99",
            "gateway.max",
            "gateway.delivered",
            "gateway.memory",
        )
    ),
    "viewers.growth.direct.p99",
    "viewers.growth.gateway.p99",
)

FIGURES = (
    "broker.round_trip.p50",
    "broker.round_trip.p99",
    "broker.throughput",
    "shadow.update.p50",
    "shadow.update.p99",
    "shadow.throughput",
    "push.click_to_documents.p50",
    "push.click_to_documents.p99",
    "gateway.direct.round_trip.p50",
    "gateway.direct.round_trip.p99",
    "gateway.direct.throughput",
    "gateway.round_trip.p50",
    "gateway.round_trip.p99",
    "gateway.throughput",
    "web.3.direct.p50",
    "web.3.direct.p99",
    "web.3.push_to_page.p50",
    "web.3.push_to_page.p99",
    "web.3.push_to_page.max",
    "web.3.delivered",
    "web.3.idle_cpu",
    "web.3.idle_traffic",
    "web.3.memory",
    "web.6.direct.p50",
    "web.6.direct.p99",
    "web.6.push_to_page.p50",
    "web.6.push_to_page.p99",
    "web.6.push_to_page.max",
    "web.6.delivered",
    "web.6.idle_cpu",
    "web.6.idle_traffic",
    "web.6.memory",
    "web.growth.p99",
    "web.growth.idle_cpu",
    "web.growth.memory",
    *VIEWER_FIGURES,
)
ENDPOINT = Endpoint.local(Path("/nowhere/internal.sock"), "bench-test", "user", "password")
JOB = BrokerJob(ENDPOINT, ENDPOINT, "swan-bench/test", Load(10, 1.0, 7, 1.0))


def test_a_quick_bench_reports_every_figure_as_json_on_stdout(capsys):
    assert main(["bench", "--quick", "--json", "-"]) == 0
    out, err = capsys.readouterr()
    document = json.loads(out)  # stdout is the JSON alone; the table went to stderr
    assert document["quick"] is True
    assert document["machine"]["cores"] >= 1
    figures = document["figures"]
    assert tuple(figures) == FIGURES
    for key in FIGURES:
        if key.endswith(("idle_cpu", "idle_traffic", "memory")):
            continue  # web's quick spell is shorter than a ping; a few clients' memory may be 0
        assert figures[key]["value"] > 0, key
        if not key.endswith(".delivered") and ".growth." not in key:
            # a share, or a growth (a size against another), has no baseline
            assert figures[key]["ratio"] > 0, key
    assert document["phases"]["push"]["clicks"] > 0
    assert document["pi"]["runs"][0]["name"] == "baseline: idle MQTT 5 client"
    assert "CPU % of a core" in err  # the Pi's table, after the stack's
    for run in document["phases"]["viewers"]["runs"]:
        for path in ("direct", "gateway"):  # every viewer opened and heard every push
            viewers = run[path]
            assert viewers["connected"] == viewers["clients"] == run["viewers"], path
            assert viewers["delivered"] == viewers["deliveries"] > 0, path
    assert document["phases"]["shadow"]["update"]["samples"] > 0
    for path in ("direct", "gateway"):
        assert document["phases"]["gateway"][path]["round_trip"]["samples"] > 0, path
        assert document["phases"]["gateway"][path]["throughput"]["completed"] > 0, path
    assert figures["gateway.throughput"]["target"] == {"op": ">=", "limit": 0.9, "of": "ratio"}
    assert figures["gateway.throughput"]["mark"] in ("pass", "miss")
    assert "shadow: throughput" in err
    assert "measuring shadow throughput" in err  # the load process's progress, passed on
    assert "gateway: via the gateway, throughput" in err
    assert "measuring direct mTLS and gateway throughput" in err


def test_only_some_phases_and_the_json_in_a_file(capsys, caplog, tmp_path):
    written = tmp_path / "bench.json"
    argv = ["bench", "--quick", "--only", "gateway", "--only", "broker", "--json", str(written)]
    with caplog.at_level("INFO", logger="swan.local.collector"):
        assert main(argv) == 0
    # The stack ran as `swan up` runs it (swan.local.collector), and this process is as it was.
    assert any(m.startswith("collector set for serving: ") for m in caplog.messages)
    assert gc.get_freeze_count() == 0
    out, err = capsys.readouterr()
    assert "broker: pub -> sub, p50" in out
    assert "gateway: via the gateway, throughput" in out
    assert "shadow:" not in out.split("counted:")[0]
    assert "starting a direct mTLS Mosquitto" in err
    document = json.loads(written.read_text())
    assert list(document["figures"]) == [*FIGURES[:3], *FIGURES[8:14]]
    assert all(figure["value"] > 0 for figure in document["figures"].values())
    assert all(figure["ratio"] > 0 for figure in document["figures"].values())


# ---------------------------------------------------------------- the load process


def python(code):
    """A stand-in for the load process: this interpreter running `code`."""
    return [sys.executable, "-c", textwrap.dedent(code)]


def test_the_load_process_gets_its_job_on_stdin_and_answers_on_stdout():
    answer_the_job = python(
        """
        import json, sys
        job = json.load(sys.stdin)
        print(f"measuring {job['topic']}", file=sys.stderr, flush=True)
        print(json.dumps({
            "phase": job["phase"],
            "round_trip": {"seconds": [0.0002, 0.0003], "lost": 1},
            "throughput": {"completed": 6000, "seconds": 1.0, "window": job["load"]["window"]},
        }))
        """
    )
    said = []
    figures = child.run(JOB, said.append, command=answer_the_job)
    assert figures == BrokerFigures(Latencies((0.0002, 0.0003), lost=1), Throughput(6000, 1.0, 7))
    assert said == ["measuring swan-bench/test"]


def test_a_load_process_past_its_time_limit_is_killed_with_a_clear_error():
    started = time.monotonic()
    with pytest.raises(LoadTimeoutError, match=r"broker phase did not finish within 0\.5 s"):
        child.run(JOB, print, time_limit=0.5, command=python("import time; time.sleep(60)"))
    assert time.monotonic() - started < 10


def test_a_failed_load_process_is_an_error_with_its_last_words():
    fail = python(
        """
        import sys
        print("connecting ...", file=sys.stderr)
        print("no broker there", file=sys.stderr)
        sys.exit(1)
        """
    )
    said = []
    with pytest.raises(LoadProcessError, match=r"exit code 1\): connecting \.\.\. / no broker"):
        child.run(JOB, said.append, command=fail)
    assert said == ["connecting ...", "no broker there"]


def test_a_load_process_that_answers_something_else_is_an_error():
    with pytest.raises(LoadProcessError, match="answered something else"):
        child.run(JOB, print, command=python('print(\'{"phase": "broker"}\')'))


def test_the_real_load_process_refuses_a_bad_job_with_exit_code_2():
    with pytest.raises(LoadProcessError, match=r"exit code 2\).*bad job: invalid job\.load"):
        child.run(BrokerJob(ENDPOINT, ENDPOINT, "t", Load(10, 1.0, 5, timeout=-1.0)), print)
