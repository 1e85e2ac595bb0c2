"""The SAM template and the Lambda packaging, with the official tools in .venv-sam: the
linters pass offline, `sam build` builds the functions and the SwanLayer (the modules the
handlers run and nothing of the stand-in, the bench, the deploy code, the commands or the
device code), every built function starts from the layer alone, and the built handlers pass
their moto tests (tests/unit/handlers/test_functions_moto.py, run again on the build output
with only the layer's swan). `sam build` needs Python 3.12 (the Lambda runtime's): without
one these skip and say so. Slow-ish (a build is ~10 s), so each runs once per session."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from aws_support import RESOLVED, function_environment, resolved_template
from layer_support import cold_starts, forbidden, sources

from swan.deploy.tools import SAM_VENV, find_lambda_python, sam_environment

ROOT = Path(__file__).parents[2]
TEMPLATE = ROOT / "sam" / "template.yaml"
REGION = os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION") or "us-east-1"

pytestmark = pytest.mark.skipif(
    not (SAM_VENV / "bin" / "sam").is_file(), reason="no .venv-sam: run scripts/setup"
)


def offline_env() -> dict[str, str]:
    """The tools' environment: a region, no credentials, no profile, no telemetry."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return sam_environment(env, None, REGION)


def test_cfn_lint_passes():
    linted = subprocess.run(
        [SAM_VENV / "bin" / "cfn-lint", TEMPLATE],
        env=offline_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert linted.returncode == 0, linted.stdout + linted.stderr


def test_sam_validate_lint_passes():
    validated = subprocess.run(
        [SAM_VENV / "bin" / "sam", "validate", "--lint", "--template-file", TEMPLATE],
        env=offline_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert "is a valid SAM Template" in validated.stdout + validated.stderr


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    python = find_lambda_python()
    if python is None:
        pytest.skip("sam build needs python3.12 (pyenv install 3.12, or SWAN_LAMBDA_PYTHON)")
    out = tmp_path_factory.mktemp("sam") / "build"
    completed = subprocess.run(
        [
            SAM_VENV / "bin" / "sam",
            "build",
            "--template-file",
            TEMPLATE,
            "--build-dir",
            out,
            "--cache-dir",
            out.parent / "cache",
        ],
        env=sam_environment(offline_env(), python, REGION),
        cwd=ROOT / "sam",
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return out


def test_the_layer_holds_what_the_handlers_import_and_the_locked_packages(built):
    layer = built / "SwanLayer" / "python"
    assert (layer / "swan" / "handlers" / "push.py").is_file()
    assert not list(layer.rglob("__pycache__"))
    ours = sorted(
        path.relative_to(layer)
        for top in ("swan", "device")
        if (layer / top).exists()
        for path in (layer / top).rglob("*")
        if path.is_file()
    )
    assert ours == sources().layer_files(ROOT)
    assert forbidden(ours) == []
    locked = {
        line.split("==")[0]: line.split("==")[1].split()[0]
        for line in (ROOT / "sam" / "layer" / "requirements.txt").read_text().splitlines()
        if "==" in line
    }
    for name, version in locked.items():
        dist = name.replace("-", "_")
        assert (layer / f"{dist}-{version}.dist-info").is_dir(), f"{name}=={version}"
    for function in ("UpdateButtonStatusFunction", "ExpireCountdownFunction"):
        assert sorted(p.name for p in (built / function).iterdir()) == ["app.py"]


def test_every_built_function_starts_from_the_layer_alone(built):
    layer = built / "SwanLayer" / "python"
    functions = {
        logical_id: built / logical_id / "app.py"
        for logical_id in (
            "UpdateButtonStatusFunction",
            "ExpireCountdownFunction",
            "RegisterDeviceFunction",
        )
    }
    loaded = cold_starts(layer, functions, function_environment())
    assert {"swan.handlers.push", "swan.handlers.expire", "swan.handlers.register"} <= set(loaded)
    assert {name: file for name, file in loaded.items() if not file.startswith(str(layer))} == {}


def test_the_built_functions_pass_their_moto_tests(built, tmp_path):
    # the tests' helpers read the template with swan.local, which the layer lacks: resolved here
    resolved = tmp_path / "resolved.json"
    resolved.write_text(json.dumps(resolved_template()))
    env = {
        **offline_env(),
        "SWAN_BUILT_FUNCTIONS": str(built),
        "PYTHONPATH": str(built / "SwanLayer" / "python"),
        RESOLVED: str(resolved),
    }
    tested = subprocess.run(
        [
            # the pytest script, not `python -m pytest`, which would put the repository
            # (and its swan) first on sys.path, before the layer
            Path(sys.executable).parent / "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--no-cov",
            "tests/unit/handlers/test_functions_moto.py",
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert tested.returncode == 0, tested.stdout[-4000:] + tested.stderr[-2000:]
    assert "6 passed" in tested.stdout, tested.stdout[-2000:]
