"""A Raspberry Pi installs `.[device]` alone (README, "A real Pi"): `swan pi` and what it
runs must work without the local system's packages. Each check runs in a fresh interpreter
whose imports of those packages fail, as they would on a Pi: the command line's help, every
device module, the Pi's pictures, and a real `swan pi` connecting to the local stack's
device gateway with its certificate files given, as a Pi connects to AWS IoT Core."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from support import start_local_stack, unique

from swan.core.countdown import Rules

ROOT = Path(__file__).parents[2]
# the local system's extras (pyproject.toml: local, web, aws, dev), by the names they import as
NOT_ON_A_PI = ("cryptography", "yaml", "boto3", "botocore", "reflex", "wsproto", "moto")

# sys.argv[1:]: the names to refuse, "--", then what to run: "import" imports every device
# module; anything else is a `swan` command line
_WITHOUT = """
import importlib, importlib.abc, pkgutil, sys
split = sys.argv.index("--")
refused, command = set(sys.argv[1:split]), sys.argv[split + 1:]

class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.partition(".")[0] in refused:
            raise ModuleNotFoundError(f"No module named {name!r} (not on a Pi)", name=name)
        return None

sys.meta_path.insert(0, Refuse())
if command == ["import"]:
    import device
    for module in pkgutil.iter_modules(device.__path__):
        importlib.import_module(f"device.{module.name}")
        print(module.name)
    sys.exit(0)
from swan.cli import main
sys.exit(main(command))
"""


def without(refused, *command, timeout=60):
    return subprocess.run(
        [sys.executable, "-c", _WITHOUT, *refused, "--", *command],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_the_refusal_holds():
    """The checks below can fail: a command that needs a refused package does."""
    refused = without(NOT_ON_A_PI, "certs", "ca")
    assert refused.returncode != 0
    assert "not on a Pi" in refused.stderr


@pytest.mark.parametrize("command", [["--help"], ["pi", "--help"], ["press", "--help"]])
def test_the_command_line_helps_without_the_local_systems_packages(command):
    helped = without(NOT_ON_A_PI, *command)
    assert helped.returncode == 0, helped.stderr
    assert "usage: swan" in helped.stdout


def test_every_device_module_imports_without_the_local_systems_packages():
    imported = without(NOT_ON_A_PI, "import")
    assert imported.returncode == 0, imported.stderr
    expected = sorted(path.stem for path in (ROOT / "device").glob("*.py") if path.stem[0] != "_")
    assert sorted(imported.stdout.split()) == expected


def test_the_pi_draws_its_pictures_without_the_local_systems_packages(tmp_path):
    drawn = without(NOT_ON_A_PI, "pi", "--pictures", str(tmp_path))
    assert drawn.returncode == 0, drawn.stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "led-alarm.png",
        "led-failure.png",
        "led-full.png",
        "led-half.png",
    ]


@pytest.mark.parametrize("identity", ["files", "folder"])
def test_a_pi_with_only_the_device_extra_connects_and_stops_cleanly(tmp_path, identity):
    """Its certificate given as files (--cert, --key), or found in the certificate folder
    by its thing name (devices/<thing>.pem), where `swan certs device` wrote it."""
    stack = start_local_stack(tmp_path / "state", Rules())
    try:
        thing = unique("pi-extra-")
        endpoint = stack.device_endpoint(thing)
        files = ["--cert", str(endpoint.cert_file), "--key", str(endpoint.key_file)]
        folder = ["--certs-dir", str(stack.certs.directory)]
        ran = without(
            NOT_ON_A_PI,
            *(folder if identity == "folder" else []),
            "pi",
            "--thing",
            thing,
            "--endpoint",
            endpoint.host,
            "--port",
            str(endpoint.port),
            "--ca",
            str(endpoint.ca_file),
            *(files if identity == "files" else []),
            "--matrix",
            "recording",
            "--exit-after",
            "4",
            timeout=60,
        )
    finally:
        stack.stop()
    assert ran.returncode == 0, ran.stderr
    assert f"{thing}: connected" in ran.stderr
    assert "not on a Pi" not in ran.stderr
