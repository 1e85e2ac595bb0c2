"""`swan bench web --quick` on the real local stack: a few pages at two sizes, each its own
Cognito identity on a SigV4-presigned WebSocket through the gateway's door, against as many
direct subscribers; one push each, a short quiet spell. Every figure is there and every
client opened; none is compared with its target (the machine is shared and noisy; `swan bench
web` is where the targets are measured)."""

from __future__ import annotations

import json

from test_bench import VIEWER_FIGURES

from swan.cli import main

SIZES = (3, 6)


def web_figures(size):
    return (
        f"web.{size}.direct.p50",
        f"web.{size}.direct.p99",
        f"web.{size}.push_to_page.p50",
        f"web.{size}.push_to_page.p99",
        f"web.{size}.push_to_page.max",
        f"web.{size}.delivered",
        f"web.{size}.idle_cpu",
        f"web.{size}.idle_traffic",
        f"web.{size}.memory",
    )


GROWTH = ("web.growth.p99", "web.growth.idle_cpu", "web.growth.memory")


def test_a_quick_web_bench_opens_pages_through_the_door_and_times_every_push(capsys):
    assert main(["bench", "web", "--quick", "--json", "-"]) == 0
    out, err = capsys.readouterr()
    document = json.loads(out)
    figures = document["figures"]
    assert tuple(figures) == (
        "broker.round_trip.p50",
        "broker.round_trip.p99",
        "broker.throughput",
        *web_figures(SIZES[0]),
        *web_figures(SIZES[1]),
        *GROWTH,
        *VIEWER_FIGURES,
    )  # viewers, the same pushes reaching devices, beside the pages
    runs = document["phases"]["web"]["runs"]
    assert [run["pages"] for run in runs] == list(SIZES)
    for run in runs:
        size = run["pages"]
        for kind in ("direct", "web"):
            clients = run[kind]
            # Every client opened (for a page: an identity, a presigned upgrade, CONNECT as
            # the identity id, its subscriptions granted, its get answered) and heard the push.
            assert clients["connected"] == clients["clients"] == size, kind
            assert sum(clients["gets"].values()) == size, kind
            assert clients["delivered"] == clients["deliveries"] == size, kind
            assert clients["idle"]["seconds"] > 0, kind
        for key in web_figures(size)[:5]:
            assert figures[key]["value"] > 0, key
            assert figures[key]["ratio"] > 0, key
        assert figures[f"web.{size}.delivered"]["value"] == 100
        assert figures[f"web.{size}.idle_cpu"]["value"] >= 0
        assert figures[f"web.{size}.idle_traffic"]["value"] >= 0  # the spell is shorter than a ping
    assert figures["web.growth.p99"]["value"] > 0
    assert "starting 1 client worker" in err
    assert f"{SIZES[1]} of {SIZES[1]} pages open" in err  # the load process's progress
    assert f"web: push -> {SIZES[1]} pages, p99" in err  # the table, on stderr
    assert document["phases"]["viewers"]["runs"][0]["gateway"]["deliveries"] > 0


def test_a_quick_crowd_mixes_devices_and_pages_after_its_direct_baseline_and_draws_them(
    capsys, tmp_path
):
    picture = tmp_path / "viewers.png"
    assert main(["bench", "--quick", "--only", "crowd", "--json", "-", "--plot", str(picture)]) == 0
    out, err = capsys.readouterr()
    document = json.loads(out)
    assert tuple(document["figures"]) == (
        "crowd.direct.p50",
        "crowd.direct.p99",
        "crowd.p50",
        "crowd.p99",
        "crowd.max",
        "crowd.delivered",
        "crowd.memory",
    )
    crowd = document["phases"]["crowd"]
    clients = crowd["devices"] + crowd["pages"]
    for run in ("direct", "fan_out"):  # every client opened and heard every push
        assert crowd[run]["connected"] == crowd[run]["clients"] == clients, run
        assert crowd[run]["delivered"] == crowd[run]["deliveries"] > 0, run
    assert document["figures"]["crowd.p99"]["ratio"] > 0
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "devices and pages through the gateway open" in err
