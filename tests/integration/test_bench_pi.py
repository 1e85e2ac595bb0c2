"""`swan bench pi` end to end, short: a private stack, the idle client and both Pi runs as
child processes, read from /proc. Figures are reported, never asserted against targets."""

from __future__ import annotations

from swan.bench.pi import PiBench, render_table, run


def test_the_pi_bench_measures_the_baseline_and_both_matrices():
    said = []
    bench = run(1.0, said.append)
    assert isinstance(bench, PiBench)
    assert [r.name for r in bench.runs] == [
        "baseline: idle MQTT 5 client",
        "pi, recording matrix",
        "pi, terminal to /dev/null",
    ]
    for measured in bench.runs:
        assert measured.max_rss_mb > 10  # a Python with awscrt: it was really read
        assert 0 <= measured.cpu_percent < 100
    assert bench.runs[0].mark is None
    assert {r.mark for r in bench.runs[1:]} <= {"pass", "MISS"}
    assert "stopping the private local stack ..." in said
    assert "pi, terminal to /dev/null" in render_table(bench)
