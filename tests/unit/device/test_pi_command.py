"""`swan pi` on the command line: its help, its pictures, its refusals."""

from __future__ import annotations

from dataclasses import replace

import pytest

from swan.cli import main
from swan.commands.pi import _matrix
from swan.core.backoff import RECONNECT


def test_help_names_the_matrices_and_the_last_will(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["pi", "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert "sensehat,emu,terminal,png,recording" in out
    assert "swan/status/THING" in out


def test_pictures_are_written_and_named(tmp_path, capsys):
    assert main(["pi", "--pictures", str(tmp_path)]) == 0
    names = sorted(path.name for path in tmp_path.iterdir())
    assert names == ["led-alarm.png", "led-failure.png", "led-full.png", "led-half.png"]
    assert capsys.readouterr().out.count(".png") == 4


def test_a_silly_backoff_is_bad_input(capsys):
    assert main(["pi", "--max-backoff", "0"]) == 2
    assert "--max-backoff" in capsys.readouterr().err


def test_without_swan_up_it_says_to_start_it(tmp_path, capsys):
    assert main(["--state-dir", str(tmp_path), "pi", "--thing", "pi-x"]) == 1
    assert "start it with: swan up" in capsys.readouterr().err


def test_auto_is_the_sense_hat_where_there_is_one_else_the_terminal():
    assert _matrix("auto") == "terminal"  # no sense_hat here
    assert _matrix("emu") == "emu"


@pytest.mark.parametrize(("argv", "longest"), [([], 32.0), (["--max-backoff", "5"], 5.0)])
def test_a_pi_reconnects_by_the_one_policy_with_its_longest_wait(
    tmp_path, monkeypatch, argv, longest
):
    plans = []
    monkeypatch.setattr("device.app.run", lambda plan, _say: plans.append(plan) or 0)
    cert, key = tmp_path / "pi.pem", tmp_path / "pi.key"
    files = ["--cert", str(cert), "--key", str(key)]
    assert main(["pi", "--thing", "pi-x", "--endpoint", "iot.example", *files, *argv]) == 0
    (plan,) = plans
    assert plan.backoff == replace(RECONNECT, max_delay=longest)
    assert plan.backoff.first_delay == RECONNECT.first_delay
