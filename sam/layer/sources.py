"""The project's own modules the Lambda functions run: the SwanLayer's share of the repository.

Starting from each `sam/functions/*/app.py`, follows every import of a first-party package
(`swan`, `device`) that runs, transitively: at module level and inside functions, but not
under `if TYPE_CHECKING:` (never executed). Each module brings its parent packages'
`__init__.py`, which Python runs first. So the layer carries the handlers, the parts of the
core, the adapters and the settings they use, and none of the local stand-in, the bench, the
deploy code, the commands or the device code (tests/integration/test_sam.py holds that, and
imports every built function from the layer alone).

Standard library only: `make build-SwanLayer` runs it with the Lambda runtime's python3.12.

    python3 sam/layer/sources.py <repository> [<target directory to copy them into>]
"""

from __future__ import annotations

import ast
import shutil
import sys
from pathlib import Path

FIRST_PARTY = ("swan", "device")


def _module_file(root: Path, name: str) -> Path | None:
    """The file that defines module `name` under `root`, or None if it is not ours."""
    base = root.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node of `tree` except what sits under `if TYPE_CHECKING:` (its else runs)."""
    found: list[ast.AST] = []
    pending: list[ast.AST] = [tree]
    while pending:
        node = pending.pop()
        found.append(node)
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            pending.extend(node.orelse)
        else:
            pending.extend(ast.iter_child_nodes(node))
    return found


def _package_of(name: str, path: Path) -> str:
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


def imported_names(path: Path, name: str = "") -> set[str]:
    """The absolute names of the modules (or of `from` targets) imported at run time by the
    module `name` in `path`; a `from a import b` gives both `a` and `a.b`."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in _runtime_nodes(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = _package_of(name, path).split(".")
                anchor = ".".join(package[: len(package) - node.level + 1])
                base = f"{anchor}.{base}" if base else anchor
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
    return names


def _with_parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:end]) for end in range(1, len(parts) + 1)]


def closure(root: Path, entry_points: list[Path]) -> dict[str, Path]:
    """Every first-party module the entry points run, by name, with its file."""
    found: dict[str, Path] = {}
    pending = [name for path in entry_points for name in imported_names(path)]
    while pending:
        wanted = pending.pop()
        if wanted.split(".")[0] not in FIRST_PARTY:
            continue
        for name in _with_parents(wanted):
            if name in found:
                continue
            path = _module_file(root, name)
            if path is None:
                continue  # `from a import b` where b is a name, not a module
            found[name] = path
            pending.extend(imported_names(path, name))
    return found


def entry_points(root: Path) -> list[Path]:
    """The functions' own code: each `sam/functions/<name>/app.py`."""
    return sorted((root / "sam" / "functions").glob("*/app.py"))


def layer_files(root: Path) -> list[Path]:
    """The repository's files the layer carries, relative to `root`, sorted."""
    return sorted(path.relative_to(root) for path in closure(root, entry_points(root)).values())


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) not in {1, 2}:
        sys.stderr.write("usage: sources.py <repository> [<target directory>]\n")
        return 2
    root = Path(args[0]).resolve()
    files = layer_files(root)
    if len(args) == 1:
        sys.stdout.write("".join(f"{path}\n" for path in files))
        return 0
    target = Path(args[1])
    for path in files:
        (target / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / path, target / path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
