"""`swan bench --quick` on the real local stack: every figure is there and positive.

Figures are never compared with targets or thresholds here: the machine is shared and noisy.
"""

import json

from swan.cli import main

FIGURES = (
    "broker.round_trip.p50",
    "broker.round_trip.p99",
    "broker.throughput",
    "shadow.update.p50",
    "shadow.update.p99",
    "shadow.throughput",
    "push.click_to_documents.p50",
    "push.click_to_documents.p99",
)


def test_a_quick_bench_reports_every_figure_as_json_on_stdout(capsys):
    assert main(["bench", "--quick", "--json", "-"]) == 0
    out, err = capsys.readouterr()
    document = json.loads(out)  # stdout is the JSON alone; the table went to stderr
    assert document["quick"] is True
    assert document["machine"]["cores"] >= 1
    figures = document["figures"]
    assert tuple(figures) == FIGURES
    for key in FIGURES:
        assert figures[key]["value"] > 0, key
        assert figures[key]["ratio"] > 0, key
    assert document["phases"]["push"]["clicks"] > 0
    assert document["phases"]["shadow"]["update"]["samples"] > 0
    assert "(b) shadow throughput" in err
    assert "measuring shadow throughput" in err


def test_only_one_phase_and_the_json_in_a_file(capsys, tmp_path):
    written = tmp_path / "bench.json"
    assert main(["bench", "--quick", "--only", "broker", "--json", str(written)]) == 0
    out, _ = capsys.readouterr()
    assert "(a) broker pub -> sub, p50" in out
    assert "(b)" not in out.split("counted:")[0]
    document = json.loads(written.read_text())
    assert list(document["figures"]) == list(FIGURES[:3])
    assert all(figure["value"] > 0 for figure in document["figures"].values())
