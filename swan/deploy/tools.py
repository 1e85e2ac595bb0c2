"""The programs a deployment runs: the SAM CLI (in .venv-sam), Python 3.12 for `sam build`
(the Lambda runtime's version), and Reflex for the static export."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Final

from swan.core.errors import SwanError

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

REPO: Final = Path(__file__).resolve().parents[2]
TEMPLATE: Final = REPO / "sam" / "template.yaml"
SAM_VENV: Final = REPO / ".venv-sam"
LAMBDA_PYTHON: Final = (3, 12)


class MissingToolError(SwanError, FileNotFoundError):
    """A program the deployment needs is not installed; `hint` says how to get it."""

    def __init__(self, tool: str, hint: str) -> None:
        self.tool = tool
        self.hint = hint
        super().__init__(f"{tool} is missing: {hint}")


class ToolFailedError(SwanError, RuntimeError):
    def __init__(self, command: Sequence[str], returncode: int) -> None:
        self.command = tuple(command)
        self.returncode = returncode
        super().__init__(f"{' '.join(command[:3])} ... failed with exit code {returncode}")


def sam_executable(venv: Path = SAM_VENV) -> Path:
    """The SAM CLI that scripts/setup installs into .venv-sam."""
    sam = venv / "bin" / "sam"
    if not sam.is_file():
        raise MissingToolError("sam", "run scripts/setup (it installs .venv-sam)")
    return sam


def _runs_as(python: Path, version: tuple[int, int]) -> bool:
    try:
        found = subprocess.run(  # noqa: S603  (a Python interpreter, asked its version)
            [str(python), "-c", "import sys; print(*sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
    except OSError:
        return False
    return found.returncode == 0 and found.stdout.split() == [str(part) for part in version]


def find_lambda_python(env: Mapping[str, str] = os.environ) -> Path | None:
    """The directory of a working `python3.12`, for `sam build` to find on PATH.

    `SWAN_LAMBDA_PYTHON` (a python3.12 executable) wins; then pyenv's versions (pyenv's
    shims are not enough: a shim fails unless that version is selected); then PATH.
    """
    name = "python{}.{}".format(*LAMBDA_PYTHON)
    candidates: list[Path] = []
    if env.get("SWAN_LAMBDA_PYTHON"):
        candidates.append(Path(env["SWAN_LAMBDA_PYTHON"]))
    roots = [Path(env["PYENV_ROOT"])] if env.get("PYENV_ROOT") else []
    roots.append(Path(env.get("HOME", "~")).expanduser() / ".pyenv")
    for root in roots:
        versions = sorted((root / "versions").glob("{}.{}.*".format(*LAMBDA_PYTHON)), reverse=True)
        candidates += [version / "bin" / name for version in versions]
    on_path = shutil.which(name, path=env.get("PATH"))
    if on_path:
        candidates.append(Path(on_path))
    for candidate in candidates:
        if candidate.is_file() and _runs_as(candidate, LAMBDA_PYTHON):
            return candidate.parent
    return None


def sam_environment(
    env: Mapping[str, str], python_dir: Path | None, region: str | None = None
) -> dict[str, str]:
    """The environment the SAM CLI runs in: no telemetry, Python 3.12 first on PATH."""
    result = {**env, "SAM_CLI_TELEMETRY": "0"}
    if python_dir is not None:
        result["PATH"] = f"{python_dir}{os.pathsep}{env.get('PATH', '')}"
    if region:
        result["AWS_DEFAULT_REGION"] = region
        result["AWS_REGION"] = region
    return result


def run(command: Sequence[str], *, env: Mapping[str, str], cwd: Path | None = None) -> None:
    """Run a program with its output on the terminal; raise if it fails."""
    # the deployment's own tools (sam, reflex), by path, with arguments it built
    completed = subprocess.run(list(command), env=dict(env), cwd=cwd, check=False)  # noqa: S603
    if completed.returncode != 0:
        raise ToolFailedError(command, completed.returncode)
