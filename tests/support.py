"""Helpers shared by the tests."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from swan.core.countdown import Rules
    from swan.local.stack import LocalStack

EVENTS = Path(__file__).parent / "events"


def load_event(name: str) -> Any:
    """A real-shaped event from tests/events (name without .json)."""
    return json.loads((EVENTS / f"{name}.json").read_text())


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now, and that no connection can
    take before its server binds it (`swan.local.ports.free_ports`)."""
    from swan.local import ports  # noqa: PLC0415  (unit tests never call this)

    return ports.free_port()


def unique(prefix: str = "t") -> str:
    """A name no other test uses (topics, things, client ids)."""
    import uuid  # noqa: PLC0415

    return f"{prefix}{uuid.uuid4().hex[:12]}"


def local_boto3(service: str, url: str, stack: LocalStack | None = None, **options: Any) -> Any:
    """A boto3 client of `service` for an API of the local stand-in at `url`, signing as the
    stack's administrator (an API server started on its own, without a stack, checks no
    signature: then any key does)."""
    import boto3  # noqa: PLC0415  (unit tests never call this)

    key = None if stack is None or stack.credentials is None else stack.credentials.admin
    return boto3.client(
        service,
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=key.access_key_id if key else "local",
        aws_secret_access_key=key.secret_access_key if key else "local",
        **options,
    )


def free_ports():
    """Every port of a local stack on a free loopback port (the web page's too)."""
    from dataclasses import fields  # noqa: PLC0415

    from swan.local import ports  # noqa: PLC0415  (unit tests never call this)
    from swan.local.stack import LocalPorts  # noqa: PLC0415

    names = [field.name for field in fields(LocalPorts)]
    return LocalPorts(**dict(zip(names, ports.free_ports(len(names)), strict=True)))


def any_free_ports() -> dict[str, str]:
    """The environment that puts every port of `swan up` on any free port (0)."""
    from swan.local.stack import PORT_VARIABLES  # noqa: PLC0415  (unit tests never call this)

    return dict.fromkeys(PORT_VARIABLES.values(), "0")


def start_local_stack(state_dir: Path, rules: Rules) -> LocalStack:
    """The local stack (no web app) in `state_dir` on free loopback ports, started."""
    from swan.local.stack import LocalStack  # noqa: PLC0415  (unit tests never call this)

    stack = LocalStack(state_dir, rules, certs_dir=state_dir / "certs", ports=free_ports())
    stack.start()
    return stack


def mqtt_varint(value: int) -> bytes:
    """MQTT's variable byte integer, written by hand for the tests (not the codec's own)."""
    out = bytearray()
    while True:
        byte, value = value % 128, value // 128
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def mqtt_string(text: str | bytes) -> bytes:
    """MQTT's length-prefixed string (UTF-8 text, or raw bytes as given)."""
    raw = text.encode() if isinstance(text, str) else text
    return len(raw).to_bytes(2, "big") + raw


def in_another_process(code: str, path: Path) -> str:
    """What `code` prints, run by another Python process with `path` as its argument."""
    done = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()
