"""`swan up` builds the page's export only when its sources changed, and says so; the
build itself (Reflex and bun) runs in the browser tests, here a stand-in writes the files."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from swan.local.webapp import PageBuild, WebAppFailedError, ensure_export, source_digest

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path


# The registry is named: else the build asks npm which one it uses.
ENV = {"NPM_CONFIG_REGISTRY": "https://registry.npmjs.org/"}


@pytest.fixture
def repository(tmp_path):
    """The part of a checkout the page is built from."""
    root = tmp_path / "repo"
    (root / "webapp" / "components").mkdir(parents=True)
    (root / "webapp" / "webapp.py").write_text("app = 1\n")
    (root / "webapp" / "components" / "swan_link.jsx").write_text("export {}\n")
    (root / "rxconfig.py").write_text("config = 1\n")
    (root / "reflex.lock").mkdir()
    (root / "reflex.lock" / "bun.lock").write_text("{}\n")
    (root / "README.md").write_text("not a source of the page\n")
    return root


class Exporter:
    """Stands in for `reflex export`: writes an index.html and counts its runs."""

    def __init__(self) -> None:
        self.runs: list[Mapping[str, str]] = []

    def __call__(self, build: PageBuild, env: Mapping[str, str]) -> None:
        self.runs.append(env)
        client = build.work_dir / ".web" / "build" / "client"
        client.mkdir(parents=True, exist_ok=True)
        (client / "index.html").write_text(f"<p>build {len(self.runs)}</p>")
        (build.work_dir / ".web" / "node_modules").mkdir(exist_ok=True)


def build_in(tmp_path: Path, repository: Path, said: list[str]) -> PageBuild:
    return PageBuild(tmp_path / "work", say=said.append, repository=repository)


def test_the_first_build_says_so_and_the_site_is_kept(tmp_path, repository):
    said: list[str] = []
    export = Exporter()
    site = ensure_export(build_in(tmp_path, repository, said), {**ENV, "PATH": "/bin"}, export)
    assert (site / "index.html").read_text() == "<p>build 1</p>"
    assert "first time" in said[0]
    assert said[-1].startswith("built the web page in")
    env = export.runs[0]
    assert env["REFLEX_WEB_WORKDIR"] == str(tmp_path / "work" / ".web")
    assert env["REFLEX_TELEMETRY_ENABLED"] == "false"
    assert env["NPM_CONFIG_REGISTRY"] == ENV["NPM_CONFIG_REGISTRY"]
    assert env["PATH"] == "/bin"


def test_nothing_is_built_while_the_sources_are_unchanged(tmp_path, repository):
    export = Exporter()
    build = build_in(tmp_path, repository, [])
    ensure_export(build, ENV, export)
    said: list[str] = []
    (repository / "README.md").write_text("changed, but not the page\n")
    (repository / "webapp" / "__pycache__").mkdir()
    (repository / "webapp" / "__pycache__" / "webapp.cpython-311.pyc").write_bytes(b"\0")
    site = ensure_export(build_in(tmp_path, repository, said), ENV, export)
    assert len(export.runs) == 1
    assert said == []
    assert (site / "index.html").read_text() == "<p>build 1</p>"


@pytest.mark.parametrize(
    "change",
    ["webapp/components/swan_link.jsx", "rxconfig.py", "reflex.lock/bun.lock", "webapp/new.py"],
)
def test_a_change_to_a_source_builds_again(tmp_path, repository, change):
    export = Exporter()
    ensure_export(build_in(tmp_path, repository, []), ENV, export)
    (repository / change).write_text("changed\n")
    said: list[str] = []
    site = ensure_export(build_in(tmp_path, repository, said), ENV, export)
    assert len(export.runs) == 2
    assert "changed since the last build" in said[0]
    assert (site / "index.html").read_text() == "<p>build 2</p>"


def test_a_build_that_rewrites_its_lock_is_not_built_again(tmp_path, repository):
    def export_and_lock(build: PageBuild, env: Mapping[str, str]) -> None:
        Exporter()(build, env)
        (repository / "reflex.lock" / "bun.lock").write_text('{"mqtt": "5.16.0"}\n')

    build = build_in(tmp_path, repository, [])
    ensure_export(build, ENV, export_and_lock)
    assert (build.digest_file).read_text() == source_digest(repository)


def test_a_failed_build_keeps_the_last_site_and_builds_again_next_time(tmp_path, repository):
    export = Exporter()
    build = build_in(tmp_path, repository, [])
    ensure_export(build, ENV, export)
    (repository / "webapp" / "webapp.py").write_text("broken\n")

    def failing(build: PageBuild, _env: Mapping[str, str]) -> None:
        raise WebAppFailedError("did not build", build.log_file, "SyntaxError")

    with pytest.raises(WebAppFailedError, match="SyntaxError"):
        ensure_export(build, ENV, failing)
    assert (build.site_dir / "index.html").read_text() == "<p>build 1</p>"
    ensure_export(build, ENV, export)
    assert len(export.runs) == 2


def test_an_export_without_a_page_is_refused(tmp_path, repository):
    with pytest.raises(WebAppFailedError, match=r"no index\.html"):
        ensure_export(build_in(tmp_path, repository, []), ENV, lambda _build, _env: None)


def test_the_work_directory_is_private(tmp_path, repository):
    build = build_in(tmp_path, repository, [])
    ensure_export(build, ENV, Exporter())
    assert oct(build.work_dir.stat().st_mode & 0o777) == oct(0o700)
