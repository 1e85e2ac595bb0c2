"""The bench report: percentiles, ratios to the broker baseline, targets, table and JSON."""

import json
import re
from pathlib import Path

import pytest

from swan.bench.figures import figures, ratio
from swan.bench.measured import (
    BrokerFigures,
    GatewayFigures,
    Latencies,
    Machine,
    PathFigures,
    PushFigures,
    Results,
    ShadowFigures,
    Throughput,
    percentile,
)
from swan.bench.report import ABOUT, SCHEMA, render_table, to_json
from swan.bench.runner import ALL_PHASES

MACHINE = Machine(cpu="Test CPU 3000", cores=2, python="3.11.7", platform="Linux-test")
ALL_KEYS = [
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
]
GATEWAY_KEYS = [key for key in ALL_KEYS if key.startswith("gateway.")]


NO_SAMPLES = ShadowFigures(Latencies((), lost=5), Throughput(0, 5.0, 100))


def ms(*values):
    return tuple(value / 1000 for value in values)


def broker(p50=0.2, p99=0.4, per_second=8000.0):
    # Half the samples at p50, half at p99: those are then the nearest-rank p50 and p99.
    return BrokerFigures(
        Latencies(ms(*[p50] * 50, *[p99] * 50)),
        Throughput(completed=int(per_second * 5), seconds=5.0, window=100),
    )


def shadow(p50=1.0, p99=4.0, per_second=2500.0, rejected=0):
    return ShadowFigures(
        Latencies(ms(*[p50] * 50, *[p99] * 50), lost=1),
        Throughput(completed=int(per_second * 5), seconds=5.0, window=100),
        rejected=rejected,
    )


def push(p50=10.0, p99=40.0, rate=20.0):
    return PushFigures(
        Latencies(ms(*[p50] * 50, *[p99] * 50)),
        rate=rate,
        clicks=100,
        documents=60,
        seconds=4.95,
    )


def path(p50, p99, per_second):
    return PathFigures(
        Latencies(ms(*[p50] * 50, *[p99] * 50)),
        Throughput(completed=int(per_second * 5), seconds=5.0, window=100),
    )


def gateway(per_second=9500.0, direct_per_second=10000.0):
    return GatewayFigures(
        direct=path(0.15, 0.3, direct_per_second),
        gateway=path(0.3, 0.9, per_second),
    )


def results(**phases):
    every = {"broker": broker(), "shadow": shadow(), "push": push(), "gateway": gateway()}
    every.update(phases)
    return Results(MACHINE, quick=False, settings={"samples": 100}, **every)


def by_key(found):
    return {figure.key: figure for figure in found}


# ---------------------------------------------------------------- percentiles and ratios


def test_percentile_is_the_nearest_rank():
    samples = [float(n) for n in range(100, 0, -1)]  # 1..100, in any order
    assert percentile(samples, 50) == 50
    assert percentile(samples, 99) == 99
    assert percentile(samples, 100) == 100
    assert percentile(samples, 1) == 1


def test_percentile_of_few_samples_is_one_of_them():
    assert percentile([3.0], 50) == 3.0
    assert percentile([3.0], 99) == 3.0
    assert percentile([1.0, 2.0, 3.0], 50) == 2.0
    assert percentile([1.0, 2.0, 3.0], 99) == 3.0


def test_percentile_of_nothing_is_none():
    assert percentile([], 50) is None


@pytest.mark.parametrize("q", [0, -1, 101])
def test_percentile_outside_0_to_100_is_an_error(q):
    with pytest.raises(ValueError, match="percentile"):
        percentile([1.0], q)


def test_ratio_divides_by_the_baseline():
    assert ratio(5.0, 0.5) == 10.0
    assert ratio(1000.0, 4000.0) == 0.25


@pytest.mark.parametrize(("value", "baseline"), [(None, 1.0), (1.0, None), (1.0, 0.0)])
def test_no_ratio_without_a_positive_baseline(value, baseline):
    assert ratio(value, baseline) is None


def test_throughput_per_second():
    assert Throughput(1000, 2.0, 100).per_second == 500
    assert Throughput(0, 0.0, 100).per_second is None


# ---------------------------------------------------------------- figures


def test_every_figure_in_report_order_in_milliseconds_and_per_second():
    found = by_key(figures(results()))
    assert list(found) == ALL_KEYS
    assert found["broker.round_trip.p50"].value == pytest.approx(0.2)
    assert found["broker.round_trip.p99"].value == pytest.approx(0.4)
    assert found["broker.throughput"].value == pytest.approx(8000)
    assert found["shadow.update.p99"].value == pytest.approx(4.0)
    assert found["push.click_to_documents.p50"].value == pytest.approx(10.0)
    assert {found[key].unit for key in ALL_KEYS if "throughput" not in key} == {"ms"}


def test_ratios_compare_each_figure_with_the_matching_broker_figure():
    found = by_key(figures(results()))
    assert found["broker.round_trip.p50"].ratio == 1.0
    assert found["shadow.update.p50"].ratio == pytest.approx(1.0 / 0.2)
    assert found["shadow.update.p99"].ratio == pytest.approx(4.0 / 0.4)
    assert found["shadow.throughput"].ratio == pytest.approx(2500 / 8000)
    assert found["push.click_to_documents.p50"].ratio == pytest.approx(10.0 / 0.2)
    assert found["push.click_to_documents.p99"].ratio == pytest.approx(40.0 / 0.4)


def test_the_gateway_is_compared_with_direct_mtls_not_with_the_broker():
    found = by_key(figures(results()))
    assert found["gateway.direct.round_trip.p50"].value == pytest.approx(0.15)
    assert found["gateway.direct.throughput"].value == pytest.approx(10000)
    assert found["gateway.direct.round_trip.p50"].ratio == 1.0
    assert found["gateway.direct.throughput"].ratio == 1.0
    assert found["gateway.round_trip.p50"].ratio == pytest.approx(0.3 / 0.15)
    assert found["gateway.round_trip.p99"].ratio == pytest.approx(0.9 / 0.3)
    assert found["gateway.throughput"].value == pytest.approx(9500)
    assert found["gateway.throughput"].ratio == pytest.approx(0.95)


def test_without_the_broker_only_the_gateway_has_ratios():
    found = figures(results(broker=None))
    assert [figure.key for figure in found] == ALL_KEYS[3:]
    assert all(figure.ratio is None for figure in found if figure.key not in GATEWAY_KEYS)
    assert all(figure.ratio is not None for figure in found if figure.key in GATEWAY_KEYS)


def test_only_the_measured_phases_are_reported():
    found = figures(results(shadow=None, push=None, gateway=None))
    assert [figure.key for figure in found] == ALL_KEYS[:3]
    only_gateway = figures(results(broker=None, shadow=None, push=None))
    assert [figure.key for figure in only_gateway] == GATEWAY_KEYS


def test_no_latency_samples_means_no_value_and_no_ratio():
    found = by_key(figures(results(shadow=NO_SAMPLES, push=None)))
    assert found["shadow.update.p50"].value is None
    assert found["shadow.update.p50"].ratio is None


# ---------------------------------------------------------------- targets


@pytest.mark.parametrize(("per_second", "mark"), [(2500, "pass"), (2000, "pass"), (1999, "miss")])
def test_shadow_throughput_target_is_at_least_2000_per_second(per_second, mark):
    found = by_key(figures(results(shadow=shadow(per_second=per_second))))
    assert found["shadow.throughput"].mark == mark


@pytest.mark.parametrize(
    ("p50", "p99", "marks"),
    [
        (15.0, 50.0, ("pass", "pass")),
        (15.5, 49.0, ("miss", "pass")),
        (5.0, 51.0, ("pass", "miss")),
    ],
)
def test_push_targets_are_p50_15_ms_and_p99_50_ms(p50, p99, marks):
    found = by_key(figures(results(push=push(p50=p50, p99=p99))))
    got = (found["push.click_to_documents.p50"].mark, found["push.click_to_documents.p99"].mark)
    assert got == marks


def test_push_targets_apply_only_at_20_clicks_per_second():
    found = by_key(figures(results(push=push(p50=100.0, p99=200.0, rate=10.0))))
    assert found["push.click_to_documents.p50"].target is None
    assert found["push.click_to_documents.p50"].mark is None


@pytest.mark.parametrize(
    ("per_second", "mark"), [(9500.0, "pass"), (9000.0, "pass"), (8990.0, "miss")]
)
def test_gateway_throughput_target_is_at_least_0_9_of_direct(per_second, mark):
    found = by_key(figures(results(gateway=gateway(per_second=per_second))))
    assert found["gateway.throughput"].mark == mark


def test_the_gateway_target_holds_the_ratio_not_the_value():
    slow_machine = gateway(per_second=95.0, direct_per_second=100.0)
    assert by_key(figures(results(gateway=slow_machine)))["gateway.throughput"].mark == "pass"
    no_baseline = gateway(per_second=9500.0, direct_per_second=0.0)
    assert by_key(figures(results(gateway=no_baseline)))["gateway.throughput"].mark is None


def test_latencies_and_baseline_figures_have_no_targets():
    found = by_key(figures(results()))
    untargeted = [
        key for key in ALL_KEYS if key.startswith(("broker", "shadow.u", "gateway.direct"))
    ]
    untargeted += ["gateway.round_trip.p50", "gateway.round_trip.p99"]
    assert all(found[key].mark is None for key in untargeted)


# ---------------------------------------------------------------- the table


def test_the_table_names_the_machine_and_shows_every_figure_with_ratio_and_mark():
    table = render_table(results(shadow=shadow(per_second=1500), push=push(p50=12.0)))
    assert "machine: Test CPU 3000, 2 cores, Python 3.11.7" in table
    lines = table.splitlines()
    (shadow_line,) = [line for line in lines if "shadow: throughput" in line]
    assert "1500 updates/s" in shadow_line
    assert "x0.188" in shadow_line  # 1500 / 8000
    assert ">= 2000 updates/s" in shadow_line
    assert shadow_line.endswith("MISS")
    (p50_line,) = [line for line in lines if "push: click -> documents at 20/s, p50" in line]
    assert "12.0 ms" in p50_line
    assert "x60.0" in p50_line
    assert p50_line.endswith("pass")
    (base_line,) = [line for line in lines if "broker: pub -> sub, p50" in line]
    assert "0.200 ms" in base_line
    assert "x1.00" in base_line


def test_the_table_shows_the_gateway_against_direct_mtls():
    table = render_table(results(gateway=gateway(per_second=8000.0)))
    lines = table.splitlines()
    (line,) = [
        line for line in lines if "gateway: via the gateway, throughput, 100 in flight" in line
    ]
    assert "8000 msg/s" in line
    assert "x0.800" in line  # 8000 / 10000
    assert "ratio >= 0.900" in line
    assert line.endswith("MISS")
    (direct_line,) = [
        line for line in lines if "gateway: direct mTLS, publish -> PUBACK, p50" in line
    ]
    assert "0.150 ms" in direct_line
    assert "x1.00" in direct_line
    assert "gateway: direct mTLS: 100 latency samples; 50000 messages in 5.00 s" in table
    assert "gateway: via the gateway: 100 latency samples; 40000 messages in 5.00 s" in table


def test_the_table_says_what_was_counted_and_how_click_latency_is_defined():
    table = render_table(results(shadow=shadow(rejected=3)))
    assert "shadow: 100 latency samples, 1 lost; 12500 updates in 5.00 s, 3 rejected" in table
    assert "push: 100 clicks in 4.95 s, covered by 60 documents messages" in table
    assert table.endswith(f"\n{ABOUT}\n")  # what each figure means is told elsewhere


def test_the_table_without_a_baseline_shows_dashes():
    table = render_table(results(broker=None))
    (line,) = [line for line in table.splitlines() if "shadow: update -> accepted, p50" in line]
    assert line.split()[-1] == "-"


def test_a_quick_run_says_so():
    quick = Results(MACHINE, quick=True, broker=broker())
    assert render_table(quick).startswith("The Swan bench (quick)\n")


# ---------------------------------------------------------------- the JSON


def test_the_json_has_machine_settings_figures_phases_and_where_they_are_explained():
    document = to_json(results())
    json.dumps(document)  # plain JSON values only
    assert document["schema"] == SCHEMA
    assert document["quick"] is False
    assert document["machine"] == {
        "cpu": "Test CPU 3000",
        "cores": 2,
        "python": "3.11.7",
        "platform": "Linux-test",
    }
    assert document["settings"] == {"samples": 100}
    assert list(document["figures"]) == ALL_KEYS
    assert set(document["phases"]) == {"broker", "shadow", "push", "gateway"}
    assert document["about"] == ABOUT


def test_each_json_figure_has_value_unit_ratio_target_and_mark():
    figure = to_json(results(shadow=shadow(per_second=1500)))["figures"]["shadow.throughput"]
    assert figure == {
        "label": "shadow: throughput, 100 in flight",
        "value": 1500.0,
        "unit": "updates/s",
        "ratio": 0.1875,
        "target": {"op": ">=", "limit": 2000, "of": "value"},
        "mark": "miss",
    }
    base = to_json(results())["figures"]["broker.round_trip.p50"]
    assert base["target"] is None
    assert base["mark"] is None
    assert base["ratio"] == 1.0


def test_the_gateway_figure_in_json_holds_its_ratio_to_the_target():
    figure = to_json(results())["figures"]["gateway.throughput"]
    assert figure == {
        "label": "gateway: via the gateway, throughput, 100 in flight",
        "value": 9500.0,
        "unit": "msg/s",
        "ratio": 0.95,
        "target": {"op": ">=", "limit": 0.9, "of": "ratio"},
        "mark": "pass",
    }


def test_json_phases_carry_the_counts_behind_the_figures():
    phases = to_json(results())["phases"]
    assert phases["shadow"]["update"] == {
        "samples": 100,
        "lost": 1,
        "min_ms": 1.0,
        "mean_ms": 2.5,
        "p50_ms": 1.0,
        "p90_ms": 4.0,
        "p99_ms": 4.0,
        "max_ms": 4.0,
    }
    assert phases["shadow"]["throughput"] == {
        "completed": 12500,
        "seconds": 5.0,
        "window": 100,
        "per_s": 2500.0,
    }
    assert phases["shadow"]["rejected"] == 0
    assert phases["push"]["clicks"] == 100
    assert phases["push"]["documents"] == 60
    assert phases["push"]["rate_per_s"] == 20.0
    assert set(phases["gateway"]) == {"direct", "gateway"}
    assert phases["gateway"]["direct"]["throughput"]["per_s"] == 10000.0
    assert phases["gateway"]["gateway"]["round_trip"]["p99_ms"] == 0.9
    assert phases["gateway"]["gateway"]["round_trip"]["samples"] == 100


def test_a_phase_without_samples_has_null_latencies_in_json():
    document = to_json(results(shadow=NO_SAMPLES))
    assert document["figures"]["shadow.update.p50"]["value"] is None
    assert document["phases"]["shadow"]["update"]["min_ms"] is None
    assert document["phases"]["shadow"]["update"]["lost"] == 5


def test_every_phase_is_explained_in_the_performance_page_under_its_one_name():
    page = (Path(__file__).parents[3] / "docs" / "performance.md").read_text()
    headings = set(re.findall(r"^### `?([a-z]+)`?", page, flags=re.MULTILINE))
    assert set(ALL_PHASES) | {"pi"} <= headings
