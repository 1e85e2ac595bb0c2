"""`swan bench web --quick` on the real local stack and the real web app: a few pages, two
pushes, a short quiet spell. Every figure is there; none is compared with its target (the
machine is shared and noisy; `swan bench web` is where the targets are measured)."""

from __future__ import annotations

import json

from swan.cli import main

WEB_FIGURES = (
    "web.push_to_page.p50",
    "web.push_to_page.p99",
    "web.push_to_page.max",
    "web.delivered",
    "web.idle_cpu",
)


def test_a_quick_web_bench_opens_pages_pushes_and_reads_the_backends_cpu(capsys):
    assert main(["bench", "web", "--quick", "--clients", "5", "--json", "-"]) == 0
    out, err = capsys.readouterr()
    document = json.loads(out)
    figures = document["figures"]
    assert tuple(figures) == (
        "broker.round_trip.p50",
        "broker.round_trip.p99",
        "broker.throughput",
        *WEB_FIGURES,
        "viewers.push_to_viewer.p50",
        "viewers.push_to_viewer.p99",
        "viewers.push_to_viewer.max",
        "viewers.delivered",
    )  # (f), the same pushes reaching MQTT viewers, beside the pages
    for key in WEB_FIGURES[:3]:
        assert figures[key]["value"] > 0, key
        assert figures[key]["ratio"] > 0, key
    assert figures["web.delivered"]["value"] > 0
    assert figures["web.idle_cpu"]["value"] >= 0
    phase = document["phases"]["web"]
    assert (phase["clients"], phase["pushes"], phase["deliveries"]) == (5, 2, 10)
    assert phase["connected"] > 0
    assert phase["idle"]["seconds"] > 0
    assert "starting the web app" in err
    assert "pages joined the board" in err  # the load process's progress, passed on
    assert "(e) push -> 5 web pages, p99" in err  # the table, on stderr
    assert document["phases"]["viewers"]["deliveries"] > 0
