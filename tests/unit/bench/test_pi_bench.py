"""`swan bench pi`: /proc read into figures, the marks against the targets, the report."""

from __future__ import annotations

import json

import pytest

from swan.bench.measured import Machine
from swan.bench.pi import PiBench, PiRun, ProcessSample, parse_sample, render_table, to_json
from swan.cli import build_parser

# /proc/<pid>/stat of a process whose name has a space and a parenthesis in it
STAT = (
    "4242 (swan (pi) x) S 1 4242 4242 0 -1 4194560 5000 0 0 0 "
    "250 50 0 0 20 0 7 0 100 300000000 10000 18446744073709551615"
)
STATUS = """\
Name:\tpython
VmPeak:\t  300000 kB
VmHWM:\t   40960 kB
VmRSS:\t   39000 kB
Threads:\t7
voluntary_ctxt_switches:\t1234
nonvoluntary_ctxt_switches:\t56
"""
MACHINE = Machine(cpu="Test CPU", cores=2, python="3.11.7", platform="Linux")


def test_proc_is_read_into_cpu_time_peak_memory_and_wakeups():
    sampled = parse_sample(STAT, STATUS, ticks_per_second=100)
    assert sampled == ProcessSample(
        cpu_seconds=3.0, peak_rss_bytes=40 * 1024 * 1024, voluntary_switches=1234
    )


def test_a_run_is_the_difference_over_its_window():
    first = ProcessSample(cpu_seconds=3.0, peak_rss_bytes=30 * 2**20, voluntary_switches=100)
    last = ProcessSample(cpu_seconds=3.2, peak_rss_bytes=40 * 2**20, voluntary_switches=150)
    run = PiRun.between("pi", first, last, 20.0)
    assert run.cpu_percent == pytest.approx(1.0)
    assert run.max_rss_mb == 40.0
    assert run.wakeups_per_second == 2.5
    assert run.mark == "pass"


def test_over_either_target_is_a_miss_and_the_baseline_has_no_mark():
    assert PiRun("pi", 20, 2.5, 40, 1).mark == "MISS"
    assert PiRun("pi", 20, 0.5, 61, 1).mark == "MISS"
    assert PiRun("idle", 20, 0.0, 25, 0, baseline=True).mark is None


def test_the_report_has_a_line_per_run_and_the_targets():
    bench = PiBench(
        MACHINE,
        20.0,
        (
            PiRun("baseline: idle", 20, 0.0, 25.4, 0.1, baseline=True),
            PiRun("pi", 20, 0.2, 39.6, 2.6),
        ),
    )
    table = render_table(bench)
    assert "baseline: idle" in table
    assert "0.20" in table
    assert "39.6" in table
    assert "pass" in table
    assert "<= 2 % of one core and <= 60 MB" in table
    document = json.loads(json.dumps(to_json(bench)))
    assert document["schema"] == "swan.bench.pi/1"
    assert document["runs"][1]["mark"] == "pass"
    assert document["runs"][0]["mark"] is None


def test_swan_bench_pi_is_a_target_of_swan_bench():
    args = build_parser().parse_args(["bench", "pi", "--quick"])
    assert args.target == "pi"
    assert build_parser().parse_args(["bench"]).target is None
