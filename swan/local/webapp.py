"""The web page as a part of the local system: a static export, served from the stack.

The page needs no server of ours (webapp/README.md): it is Reflex's static export, and it
talks to AWS IoT itself, finding the deployment in `/swan-config.json` beside it. Locally:

- `ensure_export` builds the export (`reflex export --frontend-only --no-zip`) when the
  page's sources (webapp/, rxconfig.py, reflex.lock/) changed since the last build, and
  keeps it in `<work dir>/site`; a build says so, and shows its progress.
- `WebPage` serves that directory on a loopback port, and `/swan-config.json` made from
  the stack's endpoints (the local Cognito Identity, the identity pool, the plain
  MQTT-over-WebSocket door): the code path the page takes on AWS, with no Reflex backend.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import mimetypes
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Final, Self
from urllib.parse import unquote, urlsplit

from swan.adapters.private_files import open_private, private_directory
from swan.core.errors import SwanError
from swan.local.child import spawn
from swan.local.core.sigv4 import is_loopback_host
from swan.local.httpapi import ErrorTypes, HttpRequest, HttpResponse, HttpServer

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping


log = logging.getLogger(__name__)

REPOSITORY = Path(__file__).resolve().parents[2]
BUN = Path("tools") / "node_modules" / ".bin" / "bun"
DEFAULT_PORT = 3000
BUILD_TIMEOUT = 600.0

SITE_CONFIG: Final = "swan-config.json"
# What the export is built from: a change to any of these builds it again.
SOURCES: Final = ("webapp", "rxconfig.py", "reflex.lock")
_SKIPPED: Final = frozenset({"__pycache__", ".mypy_cache", ".ruff_cache"})
# Reflex's build chatter worth showing while it builds (the rest goes to the build log).
_PROGRESS: Final = ("Initializing", "Installing", "Compiling", "Creating Production Build")


class WebAppFailedError(SwanError, RuntimeError):
    """The page could not be built (the build log says why)."""

    def __init__(self, problem: str, log_file: Path, log_tail: str) -> None:
        self.log_file = log_file
        self.log_tail = log_tail
        tail = f":\n{log_tail}" if log_tail else ""
        super().__init__(f"the web app {problem} (log: {log_file}){tail}")


def reflex_environment(
    base: Mapping[str, str], work_dir: Path, repository: Path = REPOSITORY
) -> dict[str, str]:
    """`base` plus what every `reflex` command of the project needs: bun from tools/, no
    telemetry or version checks, and the generated files kept in `work_dir`."""
    env = dict(base)
    env.update(
        {
            "REFLEX_TELEMETRY_ENABLED": "false",
            "REFLEX_CHECK_LATEST_VERSION": "false",
            "REFLEX_WEB_WORKDIR": str(work_dir / ".web"),
            "REFLEX_STATES_WORKDIR": str(work_dir / "states"),
        }
    )
    bun = repository / BUN
    if "REFLEX_BUN_PATH" not in env and bun.exists():
        env["REFLEX_BUN_PATH"] = str(bun)
    return env


# ---------------------------------------------------------------- the build


def _silent(_line: str) -> None:
    """Progress nobody asked to see."""


@dataclass(frozen=True)
class PageBuild:
    """Where the page's export is built and kept, and who hears how a build goes."""

    work_dir: Path  # Reflex's generated frontend (its packages too), the export, the log
    say: Callable[[str], None] = _silent
    repository: Path = REPOSITORY
    timeout: float = BUILD_TIMEOUT

    @property
    def site_dir(self) -> Path:
        return self.work_dir / "site"

    @property
    def log_file(self) -> Path:
        return self.work_dir / "build.log"

    @property
    def digest_file(self) -> Path:
        return self.work_dir / "site.sha256"


def source_digest(repository: Path = REPOSITORY) -> str:
    """A digest of everything the export is built from (names and contents)."""
    digest = hashlib.sha256()
    for path in _source_files(repository):
        digest.update(path.relative_to(repository).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _source_files(repository: Path) -> list[Path]:
    found: list[Path] = []
    for name in SOURCES:
        top = repository / name
        if top.is_file():
            found.append(top)
        elif top.is_dir():
            found += (
                path
                for path in top.rglob("*")
                if path.is_file() and not _SKIPPED.intersection(path.relative_to(top).parts)
            )
    return sorted(found)


@contextlib.contextmanager
def _build_lock(work_dir: Path) -> Iterator[None]:
    """One build at a time per work directory (stacks started side by side share one)."""
    private_directory(work_dir)
    with os.fdopen(open_private(work_dir / "build.lock", os.O_RDWR | os.O_CREAT), "r+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def ensure_export(
    build: PageBuild,
    base_env: Mapping[str, str] | None = None,
    export: Callable[[PageBuild, Mapping[str, str]], None] | None = None,
) -> Path:
    """The exported page for the sources as they are now: built if they changed since the
    last build (or it never ran), else the last build as it is. Returns its directory.
    `export` runs the build (default: `reflex export` into `<work dir>/.web/build/client`)."""
    with _build_lock(build.work_dir):
        digest = source_digest(build.repository)
        site = build.site_dir
        stamp = build.digest_file
        if (site / "index.html").is_file() and stamp.is_file() and stamp.read_text() == digest:
            return site
        first = not (build.work_dir / ".web" / "node_modules").is_dir()
        build.say(
            "building the web page for the first time (its npm packages are installed"
            " first: this may take a minute) ..."
            if first
            else "building the web page (webapp/ changed since the last build) ..."
        )
        began = time.monotonic()
        env = reflex_environment(os.environ if base_env is None else base_env, build.work_dir)
        env.setdefault("PYTHONUNBUFFERED", "1")
        registry = env.get("NPM_CONFIG_REGISTRY") or _npm_registry()
        if registry:  # else Reflex probes a second npm mirror
            env["NPM_CONFIG_REGISTRY"] = registry
        (export or _run_export)(build, env)
        exported = build.work_dir / ".web" / "build" / "client"
        if not (exported / "index.html").is_file():
            raise WebAppFailedError("export has no index.html", build.log_file, "")
        fresh = build.work_dir / "site.new"
        shutil.rmtree(fresh, ignore_errors=True)
        shutil.copytree(exported, fresh)
        shutil.rmtree(site, ignore_errors=True)
        fresh.rename(site)
        # Read again: the build writes reflex.lock/ when the page's packages changed.
        stamp.write_text(source_digest(build.repository))
        build.say(f"built the web page in {time.monotonic() - began:.0f} s")
        return site


def _run_export(build: PageBuild, env: Mapping[str, str]) -> None:
    command = [sys.executable, "-m", "reflex", "export", "--frontend-only", "--no-zip"]
    log_fd = open_private(build.log_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    with os.fdopen(log_fd, "w") as log_out:
        process = spawn(  # leads a process group: bun and vite stop, or die, with it
            command,
            group=True,
            cwd=build.repository,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
        timed_out = threading.Event()

        def overdue() -> None:
            timed_out.set()
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)

        watchdog = threading.Timer(build.timeout, overdue)
        watchdog.start()
        shown: set[str] = set()
        tail: list[str] = []
        try:
            assert process.stdout is not None  # noqa: S101  (PIPE asked for above)
            for raw in process.stdout:
                log_out.write(raw)
                line = " ".join(raw.replace("━", " ").split())
                tail = [*tail[-11:], line]
                step = next((word for word in _PROGRESS if line.startswith(word)), None)
                if step is not None and step not in shown:
                    shown.add(step)
                    build.say(f"  {step.lower()} ...")
            returncode = process.wait()
        finally:
            watchdog.cancel()
            if process.poll() is None:
                overdue()
                process.wait()
    if timed_out.is_set():
        raise WebAppFailedError(
            f"did not build in {build.timeout:g} s", build.log_file, "\n".join(tail)
        )
    if returncode != 0:
        raise WebAppFailedError("did not build", build.log_file, "\n".join(tail))


# ---------------------------------------------------------------- the server

SITE_ERRORS: Final = ErrorTypes(
    bad_request="BadRequest",
    too_large="PayloadTooLarge",
    internal="InternalError",
    busy="ServiceUnavailable",
    forbidden="Forbidden",
)
_TYPES: Final = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".jsx": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".xml": "application/xml",
    ".svg": "image/svg+xml",
}
IMMUTABLE: Final = "public, max-age=31536000, immutable"  # /assets/: names carry a hash


def page_config(
    region: str, identity_pool_id: str, iot_endpoint: str, cognito_endpoint: str | None = None
) -> dict[str, str]:
    """`/swan-config.json`: what one build of the page needs to find a deployment. On AWS
    `swan deploy` writes it (no `cognitoEndpoint`: the SDK finds Cognito in the region)."""
    config = {"region": region, "identityPoolId": identity_pool_id, "iotEndpoint": iot_endpoint}
    if cognito_endpoint:
        config["cognitoEndpoint"] = cognito_endpoint
    return config


@dataclass(frozen=True)
class PagePlan:
    """Where the page is served, and the deployment it finds there."""

    config: Mapping[str, str]
    port: int = DEFAULT_PORT
    host: str = "127.0.0.1"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"


@dataclass
class Site:
    """The files of one export, answered as a static host answers them."""

    root: Path
    config: bytes
    requests: Counter[str] = field(default_factory=Counter)  # path -> times asked

    def respond(self, request: HttpRequest) -> HttpResponse:
        path = unquote(urlsplit(request.target).path) or "/"
        self.requests[path] += 1
        if not is_loopback_host(request.headers.get("host")):  # a page rebinding its DNS name
            return _error(403, "only loopback names are served")
        if request.method != "GET":
            return _error(405, "a static page: GET only")
        if path == f"/{SITE_CONFIG}":
            return HttpResponse(200, self.config, _headers(SITE_CONFIG, "no-store"))
        file = self._file(path)
        if file is None:
            missing = self.root / "404.html"
            body = missing.read_bytes() if missing.is_file() else b"not found\n"
            return HttpResponse(404, body, _headers("404.html", "no-cache"))
        cache = IMMUTABLE if path.startswith("/assets/") else "no-cache"
        headers = _headers(file.name, cache)
        compressed = file.with_name(file.name + ".gz")
        accepts = request.headers.get("accept-encoding", "")
        if "gzip" in accepts and compressed.is_file():
            headers |= {"Content-Encoding": "gzip", "Vary": "Accept-Encoding"}
            return HttpResponse(200, compressed.read_bytes(), headers)
        return HttpResponse(200, file.read_bytes(), headers)

    def _file(self, path: str) -> Path | None:
        parts = PurePosixPath(path).parts[1:]
        if any(part in {"..", "."} or part.startswith(".") for part in parts):
            return None
        file = self.root.joinpath(*parts)
        if file.is_dir():
            file = file / "index.html"
        if not file.is_file():
            return None
        if not file.resolve().is_relative_to(self.root.resolve()):
            return None
        return file


def _headers(name: str, cache: str) -> dict[str, str]:
    suffix = PurePosixPath(name).suffix
    kind = _TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"
    return {
        "Content-Type": kind,
        "Cache-Control": cache,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }


def _error(status: int, message: str) -> HttpResponse:
    return HttpResponse(status, f"{message}\n".encode(), {"Content-Type": "text/plain"})


class _PageServer(HttpServer):
    """The project's HTTP server, serving a page: a browser's requests are what it is for,
    where the APIs refuse them (`Site.respond` keeps the DNS-rebinding guard)."""

    def _refuse_foreign(self, request: HttpRequest) -> None:
        """Every browser request passes here."""


class WebPage:
    """The exported page and `/swan-config.json`, on `plan.host:plan.port`; `start` builds
    the export first when the page's sources changed."""

    def __init__(self, plan: PagePlan, build: PageBuild) -> None:
        self.plan = plan
        self.build = build
        self.site: Site | None = None
        self._server: HttpServer | None = None

    @property
    def url(self) -> str:
        return self.plan.url

    @property
    def requests(self) -> Counter[str]:
        """Every path asked for since the start, and how often (for the tests)."""
        return self.site.requests if self.site else Counter()

    def start(self) -> None:
        root = ensure_export(self.build)
        config = json.dumps(dict(self.plan.config), indent=2).encode() + b"\n"
        self.site = Site(root, config)
        server = _PageServer(
            "web page",
            self.site.respond,
            errors=SITE_ERRORS,
            host=self.plan.host,
            port=self.plan.port,
        )
        server.start()
        self._server = server
        log.info("web page at %s (%s)", self.plan.url, root)

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.stop()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def _npm_registry() -> str | None:
    npm = shutil.which("npm")
    if npm is None:
        return None
    try:
        found = subprocess.run(  # noqa: S603  (npm, found on PATH, reading its own config)
            [npm, "config", "get", "registry"],
            capture_output=True,
            text=True,
            timeout=15,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return found.stdout.strip() or None
