"""`swan deploy` on the command line: the dry run needs no AWS at all."""

from __future__ import annotations

from pathlib import Path

import pytest

from swan.cli import main
from swan.commands.deploy import profile_region


@pytest.fixture
def fresh(monkeypatch, tmp_path):
    """A fresh clone's shell: no AWS settings, an empty state directory."""
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "SWAN_STATE_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))  # none: no region
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    monkeypatch.setattr("swan.deploy.tools.find_lambda_python", lambda: Path("/opt/python3.12/bin"))
    return tmp_path / "state"


def test_the_dry_run_prints_every_step_and_does_nothing(fresh, capsys):
    assert main(["--state-dir", str(fresh), "deploy", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("swan deploy --dry-run: 11 steps, nothing is done.")
    for step in range(1, 12):
        assert f"[{step}/11] " in out
    for expected in (
        "iot:RegisterCACertificate setAsActive allowAutoRegistration",
        "iot:DescribeEndpoint endpointType=iot:Data-ATS",
        "sam build --template-file",
        "PATH='/opt/python3.12/bin:$PATH'",
        "sam deploy --template-file",
        "'DeviceCaCertificateId=<ca_id>'",
        "wss://<endpoint>/mqtt",
        "reflex export --frontend-only",
        "s3://<bucket>",
        "cloudfront:CreateInvalidation Paths=/*",
    ):
        assert expected in out, expected
    assert not fresh.exists()  # nothing written, not even the state directory


def test_the_dry_run_names_the_stack_and_region(fresh, capsys):
    args = ["--state-dir", str(fresh), "deploy", "--dry-run", "--region", "eu-north-1"]
    assert main([*args, "--stack-name", "swan2"]) == 0
    out = capsys.readouterr().out
    assert "--stack-name swan2 --region eu-north-1" in out
    assert "Backend" not in out
    assert "swan-config.json" in out


def test_a_real_deployment_needs_a_region(fresh, capsys):
    assert main(["--state-dir", str(fresh), "deploy"]) == 2
    assert "--region" in capsys.readouterr().err


def test_a_stack_name_that_would_break_an_aws_limit_is_refused_at_once(fresh, capsys):
    args = ["--state-dir", str(fresh), "deploy", "--dry-run", "--stack-name", "s" * 44]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "--stack-name" in err
    assert "Lambda function name" in err
    assert "at most 43 characters" in err
    assert main([*args[:-1], "s" * 43]) == 0


@pytest.mark.usefixtures("fresh")
def test_without_a_region_the_profiles_is_used(tmp_path, monkeypatch):
    (tmp_path / "aws-config").write_text(
        "[default]\nregion = eu-west-3\n[profile swan]\nregion = eu-north-1\n"
    )
    assert profile_region(None) == "eu-west-3"
    assert profile_region("swan") == "eu-north-1"
    monkeypatch.setenv("AWS_PROFILE", "swan")
    assert profile_region(None) == "eu-north-1"


def test_an_unknown_profile_is_one_line_and_exit_code_2(fresh, capsys):
    assert main(["--state-dir", str(fresh), "deploy", "--profile", "nobody"]) == 2
    err = capsys.readouterr().err
    assert "--profile" in err
    assert len(err.strip().splitlines()) == 1
