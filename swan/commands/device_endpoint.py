"""Where the Pi connects and as whom: from flags, then the environment, then the local
system's state directory.

With an endpoint (`--endpoint`, `SWAN_IOT_ENDPOINT`: AWS IoT Core's `iot:Data-ATS`
endpoint, or any other gateway), the port defaults to 8883, the CA to the system's trust
store, and the certificate and key must be given (or be in the state directory's
certificate folder, as `swan certs device NAME` writes them). Without one, the Pi connects to
the local system `swan up` runs: the port from `<state>/stack.json`, the local CA, and its
certificate from the stack's certificate folder, issued by the local CA if it has none yet
(as `swan press` does).
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Final

from swan.adapters.mqtt import Endpoint
from swan.core import names
from swan.core.errors import InvalidSettingError
from swan.core.port_numbers import check_port, parse_port

if TYPE_CHECKING:
    from collections.abc import Mapping

AWS_PORT: Final = 8883


@dataclass(frozen=True)
class ConnectOptions:
    """What the command line said (None: not given)."""

    thing: str | None = None
    endpoint: str | None = None
    port: int | None = None
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None


def default_thing(hostname: str | None = None) -> str:
    """`pi-<hostname>`, with what a thing name may not hold replaced by `-`."""
    host = hostname if hostname is not None else socket.gethostname()
    name = "pi-" + re.sub(r"[^a-zA-Z0-9:_-]", "-", host.split(".")[0] or "local")
    return name[: names.MAX_THING_NAME]


def resolve(
    options: ConnectOptions,
    env: Mapping[str, str],
    state_dir: Path,
    certs_dir: Path,
    *,
    now: datetime | None = None,
) -> Endpoint:
    """The endpoint the Pi connects to, its client id being its thing name."""
    thing = options.thing or env.get("SWAN_PI_THING") or default_thing()
    names.check_thing_name(thing)
    if options.port is not None:
        check_port("--port", options.port)
    host = options.endpoint or env.get("SWAN_IOT_ENDPOINT")
    ca = options.ca_file or _path(env, "SWAN_DEVICE_CA")
    cert = options.cert_file or _path(env, "SWAN_DEVICE_CERT")
    key = options.key_file or _path(env, "SWAN_DEVICE_KEY")
    if (cert is None) != (key is None):
        raise InvalidSettingError("cert/key", cert or key, "give both the certificate and its key")
    if host is not None:
        port = options.port or _port(env) or AWS_PORT
        cert, key = _remote_identity(thing, certs_dir, cert, key)
        return Endpoint(host, port, thing, ca_file=ca, cert_file=cert, key_file=key)
    return _local(thing, options, (state_dir, certs_dir), (ca, cert, key), now or datetime.now(UTC))


def _local(
    thing: str,
    options: ConnectOptions,
    dirs: tuple[Path, Path],
    files: tuple[Path | None, Path | None, Path | None],
    now: datetime,
) -> Endpoint:
    """The running local stack's device port and certificate folder (with `--port`: that
    port, and the certificate folder given)."""
    from swan.certs.files import CertificateStore  # noqa: PLC0415
    from swan.local.runtime import StackInfo  # noqa: PLC0415

    state_dir, certs_dir = dirs
    ca, cert, key = files
    if options.port is not None:
        host, port = "localhost", options.port
    else:
        info = StackInfo.read(state_dir)  # says to start `swan up` if it is not running
        host, port = info.device_host, info.device_port
        certs_dir = Path(info.certs_dir)
    store = CertificateStore(certs_dir)
    if cert is None or key is None:
        stored = store.ensure_device(thing, now=now)
        cert, key = stored.files.certificate, stored.files.key
    return Endpoint(
        host, port, thing, ca_file=ca or store.ca_files.certificate, cert_file=cert, key_file=key
    )


def _remote_identity(
    thing: str, certs_dir: Path, cert: Path | None, key: Path | None
) -> tuple[Path, Path]:
    if cert is not None and key is not None:
        return cert, key
    from swan.certs.folder import CertificateFolder  # noqa: PLC0415  (no cryptography)

    files = CertificateFolder(certs_dir).device_files(thing)
    if files.certificate.exists() and files.key.exists():
        return files.certificate, files.key
    raise InvalidSettingError(
        "cert",
        None,
        f"no certificate for {thing}: pass --cert and --key, or make one with "
        f"'swan certs device {thing}'",
    )


def _path(env: Mapping[str, str], name: str) -> Path | None:
    raw = env.get(name)
    return Path(raw) if raw else None


def _port(env: Mapping[str, str]) -> int | None:
    raw = env.get("SWAN_DEVICE_PORT")
    return None if raw is None else parse_port("SWAN_DEVICE_PORT", raw)
