"""The picture of push -> every viewer against the viewers: its lines, its scales, the PNG."""

import struct

import pytest

from swan.bench import plot
from swan.bench.measured import (
    CrowdFigures,
    FanOut,
    Idle,
    Latencies,
    Machine,
    Results,
    ViewerFigures,
    ViewerRun,
)
from swan.cli import main

MACHINE = Machine(cpu="Test CPU 3000", cores=2, python="3.11.7", platform="Linux-test")


def fan_out(clients, p50_ms, p99_ms):
    samples = tuple([p50_ms / 1000] * 60 + [p99_ms / 1000] * 40)
    return FanOut(clients, clients, 1.0, {}, 1, Latencies(samples), 0, 0, Idle(1.0, 0, 0, 0))


def results(*, crowd=True):
    runs = (
        ViewerRun(1000, fan_out(1000, 100, 300), fan_out(1000, 120, 400)),
        ViewerRun(3000, fan_out(3000, 300, 800), fan_out(3000, 500, 1100)),
    )
    return Results(
        MACHINE,
        quick=False,
        viewers=ViewerFigures(runs),
        crowd=CrowdFigures(5000, 5000, fan_out(10000, 300, 700), fan_out(10000, 400, 900))
        if crowd
        else None,
    )


def test_each_path_has_a_p50_line_dashed_and_a_p99_line_over_every_size():
    lines = {line.label: line for line in plot.series(results())}
    assert list(lines) == [
        "direct mTLS, p50",
        "direct mTLS, p99",
        "gateway, p50",
        "gateway, p99",
        "crowd direct (devices + subscribers), p50",
        "crowd direct (devices + subscribers), p99",
        "crowd through the gateway (devices + pages), p50",
        "crowd through the gateway (devices + pages), p99",
    ]
    assert lines["gateway, p99"].points == ((1000, 400.0), (3000, 1100.0))
    assert lines["direct mTLS, p50"].points == ((1000, 100.0), (3000, 300.0))
    assert lines["crowd through the gateway (devices + pages), p99"].points == ((10000, 900.0),)
    assert lines["crowd direct (devices + subscribers), p50"].points == ((10000, 300.0),)
    assert [line.dashed for line in lines.values()] == [True, False] * 4


def test_no_viewers_and_no_crowd_is_nothing_to_plot():
    with pytest.raises(plot.NothingToPlotError, match="no viewers or crowd"):
        plot.series(Results(MACHINE, quick=False))


def test_the_scales_hold_every_point_with_room_and_grow_the_right_way():
    lines = plot.series(results())
    scale = plot.Scale.of(lines)
    assert scale.y_high == 1200  # 1,100 ms and some room, to a round number
    assert scale.x(1000) < scale.x(3000) < scale.x(10000)
    assert scale.y(0) > scale.y(500) > scale.y(1100)  # up the picture
    left, top, right, bottom = plot.MARGIN
    for line in lines:
        for viewers, ms in line.points:
            assert left < scale.x(viewers) < plot.WIDTH - right
            assert top <= scale.y(ms) <= plot.HEIGHT - bottom
    assert scale.x_ticks() == [1000, 2000, 5000, 10000]
    assert scale.y_ticks()[0] == 0
    assert scale.y_ticks()[-1] == scale.y_high


@pytest.mark.parametrize(
    ("value", "ceiling"),
    [(1.0, 1.0), (1.1, 1.2), (2.2, 2.5), (3.1, 4.0), (6.5, 8.0), (8.7, 10.0), (1188, 1200)],
)
def test_an_axis_ends_at_a_round_number_above_its_highest_point(value, ceiling):
    assert plot.nice_ceiling(value) == pytest.approx(ceiling)


def test_the_picture_is_a_png_of_the_planned_size(tmp_path):
    path = tmp_path / "viewers.png"
    plot.draw(results(crowd=False), path, "push -> every viewer")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])  # the IHDR chunk
    assert (width, height) == (plot.WIDTH, plot.HEIGHT)


def test_swan_bench_refuses_a_plot_of_phases_that_draw_nothing(capsys, tmp_path):
    code = main(["bench", "--only", "gateway", "--plot", str(tmp_path / "p.png")])
    assert code == 2
    assert "--plot" in capsys.readouterr().err
    assert not (tmp_path / "p.png").exists()


def test_lone_points_labels_go_left_unless_one_there_is_too_close():
    spots = [(800.0, 100.0), (800.0, 300.0), (800.0, 290.0), (800.0, 200.0), (500.0, 300.0)]
    assert plot.label_sides(spots, gap=14) == [False, False, True, False, False]
