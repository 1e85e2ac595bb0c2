"""`swan devices`: the things and certificates the local registry knows."""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

from swan.commands import Command
from swan.settings import Settings

if TYPE_CHECKING:
    import argparse

    from swan.local.registry import Registry

DESCRIPTION = """\
List the devices of the local system: each thing, its certificates (AWS certificate id,
status, when it was last connected) and the policies attached to them; then certificates
that belong to no thing yet (e.g. PENDING_ACTIVATION after a refused first connection).
Works whether or not `swan up` is running.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def run(args: argparse.Namespace) -> int:
    from swan.adapters.clock import SystemClock  # noqa: PLC0415
    from swan.local.registry import Registry  # noqa: PLC0415

    state_dir = args.state_dir or Settings.from_env().state_dir
    database = state_dir / "registry.db"
    if not database.exists():
        print(f"no devices yet: the registry ({database}) is created by `swan up`")
        return 0
    with Registry(database, SystemClock()) as registry:
        listing = _listing(registry)
    if args.json:
        print(json.dumps(listing, indent=2))
    else:
        print(_table(listing, time.time()))
    return 0


def _listing(registry: Registry) -> dict[str, Any]:
    def certificate(arn: str) -> dict[str, Any]:
        cert_id = registry.certificate_id_of(arn)
        record = registry.certificate(cert_id) if cert_id else None
        policies = [policy.name for policy in registry.attached_policies(arn)]
        if record is None:
            return {"arn": arn, "policies": policies}
        return {
            "id": record.id,
            "status": record.status,
            "lastSeen": record.last_seen,
            "createdAt": record.created_at,
            "policies": policies,
        }

    things: list[dict[str, Any]] = []
    attached: set[str] = set()
    for thing in registry.things():
        certificates = [certificate(arn) for arn in registry.thing_principals(thing.name)]
        attached.update(c["id"] for c in certificates if "id" in c)
        things.append({"name": thing.name, "certificates": certificates})
    loose = [
        {"id": r.id, "status": r.status, "commonName": r.common_name, "lastSeen": r.last_seen}
        for r in registry.certificates()
        if r.id not in attached
    ]
    return {"things": things, "unattachedCertificates": loose}


def _table(listing: dict[str, Any], now: float) -> str:
    lines = [f"{'thing':<24} {'certificate':<14} {'status':<20} {'last seen':<20} policies"]
    lines.extend(
        f"{thing['name']:<24} {cert.get('id', '-')[:12]:<14} "
        f"{cert.get('status', '-'):<20} {_seen(cert.get('lastSeen'), now):<20} "
        f"{', '.join(cert.get('policies', [])) or '-'}"
        for thing in listing["things"]
        for cert in thing["certificates"] or [{}]
    )
    for cert in listing["unattachedCertificates"]:
        name = f"({cert['commonName']})" if cert["commonName"] else "(no thing)"
        lines.append(
            f"{name:<24} {cert['id'][:12]:<14} {cert['status']:<20} "
            f"{_seen(cert['lastSeen'], now):<20} -"
        )
    if len(lines) == 1:
        return "no devices yet: a device's first connection registers it"
    return "\n".join(lines)


def _seen(epoch: float | None, now: float) -> str:
    if epoch is None:
        return "never"
    if now - epoch < 60:  # noqa: PLR2004
        return "just now"
    return datetime.fromtimestamp(epoch).astimezone().strftime("%Y-%m-%d %H:%M")


COMMAND = Command(
    name="devices",
    help="list the devices: things, certificates, status, last seen",
    description=DESCRIPTION,
    add_arguments=add_arguments,
    run=run,
)
