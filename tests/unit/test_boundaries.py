"""The layout's boundaries, read from the source with `ast`: every import counts, at module
level, inside functions and under `if TYPE_CHECKING:`.

- the Swan's core (swan/core) is pure: the standard library without I/O or clocks, and itself;
- the stand-in's pure half (swan/local/core) the same, plus the Swan's core;
- what runs on a device (device/) takes the core, the adapters and its own modules, the
  standard library and the packages of its extra (`pip install '.[device]'`), never the
  stand-in, the bench, the deploy code or the commands, not even through what it imports;
- the handlers (what the Lambda layer carries) nothing of those nor of the device.
"""

from __future__ import annotations

import ast
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from layer_support import sources

ROOT = Path(__file__).parents[2]
STDLIB = frozenset(sys.stdlib_module_names)
# what touches the world or the clock: a pure core takes values and `now` from its caller
IO_MODULES = frozenset(
    {
        "asyncio",
        "concurrent",
        "fcntl",
        "ftplib",
        "glob",
        "http",
        "io",
        "logging",
        "mmap",
        "multiprocessing",
        "os",
        "pathlib",
        "random",
        "secrets",
        "select",
        "selectors",
        "shutil",
        "signal",
        "smtplib",
        "socket",
        "socketserver",
        "sqlite3",
        "ssl",
        "subprocess",
        "sys",
        "tempfile",
        "threading",
        "time",
        "urllib",
    }
)
# the packages the device extra brings (pyproject.toml) by the names they import as:
# awsiotsdk is `awsiot` over `awscrt`; sense-emu is `sense_emu`; and `sense_hat`, which
# Raspberry Pi OS installs (python3-sense-hat) and a Pi's venv sees (--system-site-packages)
DEVICE_PACKAGES = frozenset({"awsiot", "awscrt", "sense_emu", "sense_hat"})
NOT_FOR_DEVICES = ("swan.local", "swan.bench", "swan.deploy", "swan.commands", "swan.cli")
NOT_FOR_HANDLERS = (*NOT_FOR_DEVICES, "device")


@dataclass(frozen=True)
class Import:
    module: str  # absolute: `from a import b` gives both `a` and `a.b`
    path: Path
    line: int

    def __str__(self) -> str:
        return f"{self.path.relative_to(self.path.parents[2])}:{self.line}: {self.module}"


def _module_name(root: Path, path: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_in(path: Path, root: Path) -> list[Import]:
    """Every import statement in `path` (a module under `root`), wherever it sits."""
    name = _module_name(root, path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[Import] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [Import(alias.name, path, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                base = f"{anchor}.{base}" if base else anchor
            found.append(Import(base, path, node.lineno))
            found += [Import(f"{base}.{a.name}", path, node.lineno) for a in node.names]
    return found


def imports_under(root: Path, folder: str) -> list[Import]:
    files = sorted((root / folder).rglob("*.py"))
    assert files, folder
    return [found for path in files for found in imports_in(path, root)]


def within(module: str, *packages: str) -> bool:
    return any(module == package or module.startswith(f"{package}.") for package in packages)


def top(module: str) -> str:
    return module.partition(".")[0]


def core_breaches(root: Path) -> list[str]:
    return [
        str(found)
        for found in imports_under(root, "swan/core")
        if not within(found.module, "swan.core")
        and not (top(found.module) in STDLIB and top(found.module) not in IO_MODULES)
        and top(found.module) != "__future__"
    ]


def test_the_core_imports_nothing_of_the_stand_in_nor_any_io():
    assert core_breaches(ROOT) == []


def test_the_stand_ins_pure_half_imports_the_standard_library_the_core_and_itself():
    breaches = [
        str(found)
        for found in imports_under(ROOT, "swan/local/core")
        if not within(found.module, "swan.core", "swan.local.core")
        and not (top(found.module) in STDLIB and top(found.module) not in IO_MODULES)
        and top(found.module) != "__future__"
    ]
    assert breaches == []


def test_device_code_imports_the_core_the_adapters_itself_and_its_extras_packages():
    allowed_swan = ("swan.core", "swan.adapters", "device")
    breaches = [
        str(found)
        for found in imports_under(ROOT, "device")
        if not within(found.module, *allowed_swan)
        and found.module not in {"swan", "swan.__version__"}
        and top(found.module) not in STDLIB | DEVICE_PACKAGES
    ]
    assert breaches == []


def test_nothing_a_device_runs_reaches_the_stand_in_bench_deploy_or_commands():
    """Through the adapters too: the modules a device's code runs, followed transitively."""
    reached = sources().closure(ROOT, sorted((ROOT / "device").glob("*.py")))
    assert "swan.adapters.mqtt" in reached
    assert sorted(name for name in reached if within(name, *NOT_FOR_DEVICES)) == []


def test_the_handlers_import_nothing_of_the_stand_in_bench_deploy_commands_or_device():
    breaches = [
        str(found)
        for found in imports_under(ROOT, "swan/handlers")
        if within(found.module, *NOT_FOR_HANDLERS)
    ]
    assert breaches == []
    reached = sources().closure(ROOT, sorted((ROOT / "swan" / "handlers").glob("*.py")))
    assert sorted(name for name in reached if within(name, *NOT_FOR_HANDLERS)) == []


@pytest.mark.parametrize(
    "added",
    [
        "from swan.local.stack import LocalStack\n",
        "def later():\n    import sqlite3\n",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from swan.local import core\n",
        "from ..local.core import shadow\n",
    ],
)
def test_a_forbidden_import_added_to_the_core_is_found(tmp_path, added):
    shutil.copytree(ROOT / "swan" / "core", tmp_path / "swan" / "core")
    assert core_breaches(tmp_path) == []
    with (tmp_path / "swan" / "core" / "countdown.py").open("a") as countdown:
        countdown.write(added)
    breaches = core_breaches(tmp_path)
    assert breaches
    assert all("countdown.py:" in breach for breach in breaches)
