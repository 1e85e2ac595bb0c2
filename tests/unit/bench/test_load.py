"""`python -m swan.bench.load` on bad input: exit code 2 and one line saying why (no connection)."""

import io
import json

import pytest

from swan.bench import load


def run_with_stdin(monkeypatch, text):
    monkeypatch.setattr("sys.stdin", io.StringIO(text))
    return load.main([])


def test_help_says_what_goes_in_and_what_comes_out(capsys):
    with pytest.raises(SystemExit) as exited:
        load.main(["--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    for words in ("stdin", "stdout", "stderr", "swan bench"):
        assert words in out


@pytest.mark.parametrize(
    ("stdin", "complaint"),
    [
        ("", "bad job"),
        ("not json", "bad job"),
        (json.dumps({"phase": "everything"}), "job.phase: not a phase: 'everything'"),
        (json.dumps({"phase": "shadow"}), "job.client: missing"),
        (json.dumps({"phase": "gateway"}), "job.direct: missing"),
    ],
)
def test_a_bad_job_is_exit_code_2_with_the_reason_and_no_answer(
    monkeypatch, capsys, stdin, complaint
):
    assert run_with_stdin(monkeypatch, stdin) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert complaint in err
    assert len(err.strip().splitlines()) == 1
