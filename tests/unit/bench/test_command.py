"""`swan bench` on the command line: its help and its bad input (nothing is started)."""

import json

import pytest

from swan.bench.measured import Machine, Results
from swan.bench.pi import PiBench, PiRun
from swan.bench.runner import Plan
from swan.cli import build_parser, main


def test_help_says_what_each_figure_means(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["bench", "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    for words in (
        "  broker ",
        "  shadow ",
        "  push ",
        "  gateway ",
        "  web ",
        "  viewers ",
        "  crowd ",
        "2x direct",
        "--only crowd",
        "pi ",
        "PUBACK",
        "0.9 of direct",
        "ratio",
        "--quick",
        "--json",
        "--only",
    ):
        assert words in out


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        (["--samples", "0"], "must be positive"),
        (["--rate", "fast"], "not a number"),
        (["--only", "everything"], "invalid choice"),
        (["--crowd-pages", "-1"], "must be 0 or more"),
        (["--crowd-devices", "many"], "not a whole number"),
    ],
)
def test_bad_options_are_exit_code_2_with_the_reason(capsys, argv, complaint):
    with pytest.raises(SystemExit) as exited:
        main(["bench", *argv])
    assert exited.value.code == 2
    assert complaint in capsys.readouterr().err


def test_every_phase_runs_by_default_and_gateway_can_run_alone():
    assert Plan().phases == ("broker", "shadow", "push", "gateway", "viewers", "web")
    args = build_parser().parse_args(["bench", "--only", "gateway"])
    assert args.only == ["gateway"]


def test_quick_shortens_every_run_and_given_options_win():
    quick = Plan.defaults(quick=True)
    full = Plan.defaults(quick=False)
    assert quick.samples < full.samples
    assert quick.seconds < full.seconds
    assert quick.push_seconds < full.push_seconds
    plan = quick.with_options(rate=5.0, window=None, phases=("push",))
    assert plan.rate == 5.0
    assert plan.window == quick.window
    assert plan.phases == ("push",)
    assert plan.settings()["phases"] == ["push"]


def fake_runs(monkeypatch):
    """runner.run and pi.run recording what they were asked; nothing is started."""
    machine = Machine(cpu="Test CPU", cores=2, python="3.11.7", platform="Linux")
    planned, pi_windows = [], []

    def run(plan, say):  # noqa: ARG001
        planned.append(plan)
        return Results(machine, quick=plan.quick, settings=plan.settings())

    def pi_run(seconds, say):  # noqa: ARG001
        pi_windows.append(seconds)
        return PiBench(machine, seconds, (PiRun("pi", seconds, 0.2, 40.0, 2.0),))

    monkeypatch.setattr("swan.bench.runner.run", run)
    monkeypatch.setattr("swan.bench.pi.run", pi_run)
    return planned, pi_windows


def test_swan_bench_measures_every_phase_and_the_pi_in_one_json(monkeypatch, tmp_path, capsys):
    planned, pi_windows = fake_runs(monkeypatch)
    written = tmp_path / "all.json"
    assert main(["bench", "--quick", "--json", str(written)]) == 0
    assert planned[0].phases == ("broker", "shadow", "push", "gateway", "viewers", "web")
    assert pi_windows == [2.0]  # the Pi's quick window
    out = capsys.readouterr().out
    stack_table, pi_table = out.split("CPU % of a core")  # the Pi's table follows the stack's
    assert "The Swan bench" in stack_table
    assert "40.0" in pi_table
    document = json.loads(written.read_text())
    assert document["settings"]["phases"][-1] == "web"
    assert document["pi"]["runs"][0]["name"] == "pi"


@pytest.mark.parametrize(
    ("argv", "phases", "pi_runs"),
    [
        (["--only", "gateway", "--only", "broker"], ("broker", "gateway"), 0),
        (["--only", "pi", "--only", "viewers"], ("viewers",), 1),
        (["web"], ("broker", "viewers", "web"), 0),
    ],
)
def test_only_some_parts(monkeypatch, argv, phases, pi_runs):
    planned, pi_windows = fake_runs(monkeypatch)
    assert main(["bench", "--quick", *argv]) == 0
    assert planned[0].phases == phases
    assert len(pi_windows) == pi_runs


def test_swan_bench_pi_is_the_pi_alone_with_its_own_json(monkeypatch, capsys):
    planned, pi_windows = fake_runs(monkeypatch)
    assert main(["bench", "pi", "--seconds", "3", "--json", "-"]) == 0
    assert planned == []  # no stack phases
    assert pi_windows == [3.0]
    out, err = capsys.readouterr()
    assert json.loads(out)["runs"][0]["name"] == "pi"  # the Pi's document, at the top
    assert "CPU % of a core" in err  # the table, on stderr when the JSON is on stdout


def test_a_target_does_not_take_only(capsys):
    assert main(["bench", "pi", "--only", "shadow"]) == 2
    assert "swan bench pi" in capsys.readouterr().err


def test_the_crowd_s_mix_is_chosen_and_one_side_may_be_empty(monkeypatch):
    planned, _ = fake_runs(monkeypatch)
    argv = ["bench", "--only", "crowd", "--crowd-devices", "0", "--crowd-pages", "700"]
    assert main(argv) == 0
    assert (planned[0].crowd_devices, planned[0].crowd_pages) == (0, 700)
    assert main(["bench", "--only", "crowd"]) == 0
    assert (planned[1].crowd_devices, planned[1].crowd_pages) == (5000, 5000)


def test_a_crowd_of_nobody_is_refused(monkeypatch, capsys):
    planned, _ = fake_runs(monkeypatch)
    argv = ["bench", "--only", "crowd", "--crowd-devices", "0", "--crowd-pages", "0"]
    assert main(argv) == 2
    assert planned == []
    assert "leave the crowd without viewers" in capsys.readouterr().err
