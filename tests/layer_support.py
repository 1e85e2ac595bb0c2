"""The Lambda layer's share of the repository (sam/layer/sources.py) and a check that the
functions run from a layer alone: each `app.py` imported (a cold start) in a fresh
interpreter whose only `swan` is the layer's, the repository off the path."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from types import ModuleType

ROOT = Path(__file__).parents[1]
SOURCES = ROOT / "sam" / "layer" / "sources.py"
# what the layer must never carry: the local stand-in, the bench, the deploy code, the
# commands and the command line, the device code
NOT_IN_THE_LAYER = ("swan/local", "swan/bench", "swan/deploy", "swan/commands", "swan/cli.py")
NOT_IN_THE_LAYER_TOP = ("device", "webapp", "tests")


def sources() -> ModuleType:
    """sam/layer/sources.py, a script beside the layer's Makefile, as a module."""
    spec = importlib.util.spec_from_file_location("swan_layer_sources", SOURCES)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def forbidden(files: list[Path]) -> list[str]:
    """The files of `files` (relative to a layer's python/) that the layer must not carry."""
    return sorted(
        str(path)
        for path in files
        if str(path).startswith(NOT_IN_THE_LAYER) or path.parts[0] in NOT_IN_THE_LAYER_TOP
    )


# Run with -I (no PYTHONPATH, no user site, not the current directory): the layer goes first
# and the repository (the editable install's path entry) goes. Every function's app.py is
# imported as Lambda imports it; then each first-party module loaded must be the layer's.
_COLD_STARTS = """
import importlib.util, json, os, sys
layer, repo, functions = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
sys.path[:] = [layer] + [p for p in sys.path if p and os.path.realpath(p) != repo]
for name, path in functions.items():
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert callable(module.lambda_handler), name
ours = {name: getattr(module, "__file__", None) or "" for name, module in sys.modules.items()
        if name.split(".")[0] in ("swan", "device")}
print(json.dumps(ours))
"""


def cold_starts(
    layer: Path, functions: dict[str, Path], environments: dict[str, dict[str, str]]
) -> dict[str, str]:
    """Import each function (logical id -> its app.py) with only `layer` for the project's
    modules; returns the first-party modules loaded, with their files."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PYTHON"))}
    for environment in environments.values():
        env.update(environment)
    env |= {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }
    completed = subprocess.run(
        [
            sys.executable,
            "-I",
            "-c",
            _COLD_STARTS,
            str(layer),
            str(ROOT.resolve()),
            json.dumps({name: str(path) for name, path in functions.items()}),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout)
