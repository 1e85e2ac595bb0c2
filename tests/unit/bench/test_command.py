"""`swan bench` on the command line: its help and its bad input (nothing is started)."""

import pytest

from swan.bench.runner import Plan
from swan.cli import build_parser, main


def test_help_says_what_each_figure_means(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["bench", "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    for words in (
        "(a) broker",
        "(b) shadow",
        "(c) push",
        "(d) gateway",
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
    ],
)
def test_bad_options_are_exit_code_2_with_the_reason(capsys, argv, complaint):
    with pytest.raises(SystemExit) as exited:
        main(["bench", *argv])
    assert exited.value.code == 2
    assert complaint in capsys.readouterr().err


def test_every_phase_runs_by_default_and_gateway_can_run_alone():
    assert Plan().phases == ("broker", "shadow", "push", "gateway")
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
