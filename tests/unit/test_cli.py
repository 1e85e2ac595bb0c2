import pytest

import swan
from swan.cli import main


def test_help_tells_the_story_and_lists_the_commands(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert "every 108 minutes" in out
    assert "up" in out


def test_version(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"swan {swan.__version__}"


def test_every_command_has_help(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["up", "--help"])
    assert exited.value.code == 0
    assert "--period" in capsys.readouterr().out


def test_no_command_is_bad_input(capsys):
    with pytest.raises(SystemExit) as exited:
        main([])
    assert exited.value.code == 2
    assert "COMMAND" in capsys.readouterr().err


def test_a_bad_setting_is_one_line_and_exit_code_2(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("SWAN_PERIOD_SECONDS", "soon")
    assert main(["--state-dir", str(tmp_path), "up", "--exit-after", "0"]) == 2
    assert capsys.readouterr().err == (
        "swan: invalid setting SWAN_PERIOD_SECONDS='soon': must be a number of seconds\n"
    )


def test_commands_that_need_the_stack_say_how_to_start_it(capsys, tmp_path):
    for command in (["status"], ["press"], ["shadow", "get", "button"]):
        assert main(["--state-dir", str(tmp_path), *command]) == 1
        assert capsys.readouterr().err == (
            f"swan: the local system is not running for {tmp_path}; start it with: swan up\n"
        )
