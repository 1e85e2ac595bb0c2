"""(f) push -> every MQTT viewer: latencies per viewer, the measurement against an in-memory
broker with a stand-in push path, its job and figures as JSON, and its lines in the report."""

import json
import threading
from pathlib import Path

import pytest

from swan.adapters.mqtt import Endpoint, MemoryBroker
from swan.bench import viewers
from swan.bench.jobs import ViewersJob, figures_to_json, job_from_json
from swan.bench.json_fields import InvalidJsonError
from swan.bench.loops import BenchTimeoutError
from swan.bench.report import (
    BrokerFigures,
    Latencies,
    Machine,
    Results,
    Throughput,
    ViewerFigures,
    figures,
    render_table,
    to_json,
)
from swan.bench.runner import PHASES, Plan
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


JOB = ViewersJob(
    button=("BENCH1VIEW", device("BENCH1VIEW")),
    viewers=(device("bench-viewer-1-0"), device("bench-viewer-1-1")),
    pushes=10,
    timeout=5.0,
)
MACHINE = Machine(cpu="Test CPU 3000", cores=2, python="3.11.7", platform="Linux-test")


def ms(*values):
    return tuple(value / 1000 for value in values)


def viewer_figures(p50=5.0, p99=9.0, count=200, lost=0):
    deliveries = count * 10
    half = deliveries // 2
    samples = ms(*[p50] * half, *[p99] * (deliveries - half - lost))
    return ViewerFigures(Latencies(samples, lost), viewers=count, pushes=10)


def results(phase, *, with_broker=True):
    broker = BrokerFigures(Latencies(ms(*[0.2] * 50, *[0.4] * 50)), Throughput(40000, 5.0, 100))
    return Results(MACHINE, quick=False, broker=broker if with_broker else None, viewers=phase)


# ---------------------------------------------------------------- latencies


class PushPath:
    """A stand-in for the stack on the in-memory broker: each click on `iotbutton/+` becomes
    one more push in a documents message of the button shadow (the real path runs in the
    integration tests); `deaf` viewers are dropped before a push."""

    def __init__(self, broker, *, answer=True):
        self.pushes = 3
        self.transport = broker.connect("stack")
        self.transport.subscribe("iotbutton/+", self.click)
        self.transport.subscribe(BUTTON_SHADOW.get, self.get)
        self.answer = answer

    def click(self, _message):
        if not self.answer:
            return
        self.pushes += 1
        # The handler runs on its own thread, as the rules engine's do.
        threading.Thread(target=self.publish_documents).start()

    def publish_documents(self):
        state = {"state": {"reported": {"pushes": self.pushes}}, "version": self.pushes}
        documents = {"previous": state, "current": state, "timestamp": 1}
        self.transport.publish(BUTTON_SHADOW.update_documents, json.dumps(documents).encode())

    def get(self, _message):
        accepted = {"state": {"reported": {"pushes": self.pushes}}, "version": self.pushes}
        self.transport.publish(BUTTON_SHADOW.get_accepted, json.dumps(accepted).encode())


def test_every_viewer_is_timed_on_every_push_and_unsubscribes_after(monkeypatch):
    monkeypatch.setattr(viewers, "GAP", 0.0)
    broker = MemoryBroker()
    path = PushPath(broker)
    watchers = [broker.connect(f"viewer-{n}") for n in range(3)]
    said = []
    found = viewers.measure(
        ("BENCH1", broker.connect("button")), watchers, pushes=4, timeout=2.0, say=said.append
    )
    assert (found.viewers, found.pushes, found.deliveries) == (3, 4, 12)
    assert len(found.push_to_viewer.seconds) == 12
    assert found.push_to_viewer.lost == 0
    assert found.delivered_percent == 100.0
    assert path.pushes == 3 + 1 + 4  # the warm-up push is not counted
    assert said[-1] == "measuring push -> 3 viewers, 4 pushes"
    listening = [t for t, f, _ in broker.subscriptions if f == BUTTON_SHADOW.update_documents]
    assert listening == []


def test_a_viewer_that_stops_hearing_loses_the_pushes_it_missed(monkeypatch):
    monkeypatch.setattr(viewers, "GAP", 0.0)
    broker = MemoryBroker()
    PushPath(broker)
    deaf = broker.connect("deaf")
    watchers = [broker.connect("viewer"), deaf]
    said = []

    def say(line):
        said.append(line)
        if line.startswith("measuring"):  # after the warm-up: the second viewer goes deaf
            broker.drop(deaf)

    found = viewers.measure(
        ("BENCH1", broker.connect("button")), watchers, pushes=2, timeout=0.3, say=say
    )
    assert len(found.push_to_viewer.seconds) == 2
    assert found.push_to_viewer.lost == 2
    assert found.delivered_percent == 50.0


def test_no_documents_at_all_is_a_timeout_not_a_figure():
    broker = MemoryBroker()
    PushPath(broker, answer=False)
    with pytest.raises(BenchTimeoutError, match="documents message"):
        viewers.measure(
            ("BENCH1", broker.connect("button")),
            [broker.connect("viewer")],
            pushes=2,
            timeout=0.2,
            say=print,
        )


def test_no_viewers_is_refused():
    broker = MemoryBroker()
    with pytest.raises(ValueError, match="no viewers"):
        viewers.measure(("BENCH1", broker.connect("b")), [], pushes=1, timeout=1.0, say=print)


def test_the_time_limit_grows_with_the_viewers_and_the_pushes():
    base = viewers.longest(viewers=200, pushes=10, timeout=5.0)
    assert base > 11 * 5.0
    assert viewers.longest(viewers=400, pushes=10, timeout=5.0) > base
    assert viewers.longest(viewers=200, pushes=20, timeout=5.0) > base
    # and the load process's start-up on top
    assert JOB.time_limit > viewers.longest(viewers=2, pushes=10, timeout=5.0)


# ---------------------------------------------------------------- job and figures as JSON


def through_text(document):
    return json.loads(json.dumps(document))


def test_the_viewers_job_reaches_the_load_process_as_it_was_planned():
    document = through_text(JOB.to_json())
    assert document["phase"] == "viewers"
    assert [v["client_id"] for v in document["viewers"]] == ["bench-viewer-1-0", "bench-viewer-1-1"]
    assert job_from_json(document) == JOB


def test_a_viewers_job_without_viewers_is_bad_input():
    document = through_text(JOB.to_json())
    document["viewers"] = []
    with pytest.raises(InvalidJsonError, match="no viewers"):
        job_from_json(document)


def test_the_viewer_figures_come_back_with_every_sample():
    sent = viewer_figures(lost=3)
    assert JOB.figures_from_json(through_text(figures_to_json("viewers", sent))) == sent


# ---------------------------------------------------------------- report


def test_viewer_latencies_are_compared_with_the_broker_round_trip():
    found = {figure.key: figure for figure in figures(results(viewer_figures()))}
    assert list(found)[3:] == [
        "viewers.push_to_viewer.p50",
        "viewers.push_to_viewer.p99",
        "viewers.push_to_viewer.max",
        "viewers.delivered",
    ]
    assert found["viewers.push_to_viewer.p50"].value == pytest.approx(5.0)
    assert found["viewers.push_to_viewer.p50"].ratio == pytest.approx(25.0)
    assert found["viewers.push_to_viewer.p99"].ratio == pytest.approx(22.5)
    assert found["viewers.delivered"].ratio is None


@pytest.mark.parametrize(
    ("p99", "lost", "marks"),
    [(9.0, 0, ("pass", "pass")), (1500.0, 0, ("miss", "pass")), (9.0, 1, ("pass", "miss"))],
)
def test_viewer_targets_p99_1_s_and_every_push_delivered(p99, lost, marks):
    found = {f.key: f for f in figures(results(viewer_figures(p99=p99, lost=lost)))}
    assert (found["viewers.push_to_viewer.p99"].mark, found["viewers.delivered"].mark) == marks


def test_the_viewers_phase_in_the_table_and_the_json():
    run = results(viewer_figures(lost=2))
    table = render_table(run)
    assert "(f) push -> 200 MQTT viewers, p99" in table
    assert "(f) 200 viewers, 10 pushes: 1998 of 2000 delivered" in table
    phase = to_json(run)["phases"]["viewers"]
    assert (phase["deliveries"], phase["delivered"], phase["push_to_viewer"]["lost"]) == (
        2000,
        1998,
        2,
    )
    assert any(note.startswith("(f)") for note in to_json(run)["notes"])


def test_swan_bench_measures_200_viewers_by_default_and_few_when_quick():
    assert "viewers" in PHASES
    full, quick = Plan.defaults(quick=False), Plan.defaults(quick=True)
    assert (full.viewers, full.viewer_pushes) == (200, 10)
    assert quick.viewers < full.viewers
    assert quick.viewer_pushes < full.viewer_pushes
