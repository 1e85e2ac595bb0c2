"""`swan certs`: the local CA and the certificates it signs, in the certificate folder."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from swan.certs import defaults
from swan.commands import Command, certs_dir
from swan.commands.arguments import whole_number
from swan.settings import Settings

if TYPE_CHECKING:
    from collections.abc import Callable

    from swan.certs.files import CertificateStore, Stored

DESCRIPTION = """\
Create and list the certificates The Swan uses on this machine, kept in the certificate
folder (certs/ in the current directory, --certs-dir, SWAN_CERTS_DIR): the local CA, the
TLS server certificate of the broker and the device gateway (localhost and 127.0.0.1), and
one client certificate per device, whose common name is the device's thing name. Private
keys are written with mode 0600.

Run these for a new device, for other hostnames, or to start over (--force). Each prints
the full paths it wrote, to copy into a device's configuration.
"""

CA_DESCRIPTION = """\
Create the local certificate authority (ca.pem, ca.key). It signs the server and device
certificates and the revocation list. Replacing it (--force) invalidates every
certificate it signed: reissue the server and device certificates afterwards.
"""

DEVICE_DESCRIPTION = """\
Issue a device's client certificate (devices/NAME.pem, devices/NAME.key), signed by the
local CA. NAME is the device's AWS IoT thing name; it becomes the certificate's common
name, and the device must connect with it as its MQTT client id.
"""

SERVER_DESCRIPTION = """\
Issue the TLS server certificate (server.pem, server.key) that the broker and the device
gateway present, signed by the local CA.
"""

REVOKE_DESCRIPTION = """\
Revoke a device's certificate: it can no longer connect, and a connection it has open is
closed at once (when `swan up` is running; otherwise from its next start). The certificate
is added to the CA's revocation list (crl.pem). A revoked certificate is never reactivated:
issue a new one with 'swan certs device NAME --force' if the device is to come back.
"""

VERIFICATION_DESCRIPTION = """\
Make the verification certificate AWS asks for when the local CA is registered with your
account (verification.pem, verification.key): its common name is the registration code
from 'aws iot get-registration-code', and the CA signs it, proving you hold the CA's key.
`swan deploy` does this for you.
"""

CRL_DESCRIPTION = """\
Write the CA's certificate revocation list (crl.pem) again, freshly dated, and print it (or
copy it to --out). It lists every certificate revoked with 'swan certs revoke'.
"""

SHOW_DESCRIPTION = """\
List the certificates in the certificate folder (certs/): subject, AWS certificate id
(SHA-256 of the DER bytes) and expiry.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(title="subcommands", metavar="SUBCOMMAND", required=True)
    ca = _add(actions, "ca", "create the local CA", CA_DESCRIPTION, _run_ca)
    _add_force(ca, "replace an existing CA (its certificates stop verifying)")
    _add_days(ca, defaults.CA_DAYS)

    device = _add(
        actions, "device", "issue a device's client certificate", DEVICE_DESCRIPTION, _run_device
    )
    device.add_argument("name", metavar="NAME", help="the device's thing name, e.g. pi-kitchen")
    _add_force(device, "replace the device's existing certificate and key")
    _add_days(device, defaults.DEVICE_DAYS)

    revoke = _add(
        actions, "revoke", "revoke a device's certificate", REVOKE_DESCRIPTION, _run_revoke
    )
    revoke.add_argument("name", metavar="NAME", help="the device's thing name")

    verification = _add(
        actions,
        "verification",
        "make the verification certificate for registering the CA with AWS",
        VERIFICATION_DESCRIPTION,
        _run_verification,
    )
    verification.add_argument(
        "--code",
        required=True,
        help="the registration code from AWS (aws iot get-registration-code)",
    )
    _add_force(verification, "replace an existing verification certificate")

    crl = _add(actions, "crl", "write and print the revocation list", CRL_DESCRIPTION, _run_crl)
    crl.add_argument("--out", type=Path, metavar="PATH", help="also copy crl.pem to PATH")

    server = _add(
        actions, "server", "issue the TLS server certificate", SERVER_DESCRIPTION, _run_server
    )
    _add_force(server, "replace the existing server certificate and key")
    server.add_argument(
        "--hostname",
        action="append",
        metavar="H",
        help="a DNS name the server answers to; repeat for more "
        f"(default: {' '.join(defaults.SERVER_HOSTNAMES)})",
    )
    server.add_argument(
        "--ip",
        action="append",
        metavar="A",
        help="an IP address the server answers on; repeat for more "
        f"(default: {' '.join(defaults.SERVER_IPS)})",
    )
    _add_days(server, defaults.SERVER_DAYS)

    _add(actions, "show", "list the certificates and their ids", SHOW_DESCRIPTION, _run_show)


def run(args: argparse.Namespace) -> int:
    action: Callable[[argparse.Namespace], int] = args.certs_action
    return action(args)


# ---------------------------------------------------------------- subcommands


def _run_ca(args: argparse.Namespace) -> int:
    store = _store(args)
    replaced = store.ca_files.certificate.exists()
    stored = store.create_ca(now=_now(), force=args.force, days=args.days)
    _report(f"created the local CA {_subject(stored)}", stored)
    if replaced:
        print(
            "note: certificates signed by the previous CA no longer verify; reissue them with "
            "'swan certs server --force' and 'swan certs device NAME --force'"
        )
    return 0


def _run_device(args: argparse.Namespace) -> int:
    stored = _store(args).create_device(args.name, now=_now(), force=args.force, days=args.days)
    _report(f"issued a certificate for device {args.name!r}", stored)
    print(f"  connect as client id {args.name!r}, with the CA in ca.pem to check the server")
    return 0


def _run_server(args: argparse.Namespace) -> int:
    stored = _store(args).create_server(
        now=_now(),
        hostnames=defaults.SERVER_HOSTNAMES if args.hostname is None else args.hostname,
        ips=defaults.SERVER_IPS if args.ip is None else args.ip,
        force=args.force,
        days=args.days,
    )
    _report(f"issued the server certificate for {', '.join(_alternative_names(stored))}", stored)
    return 0


def _run_revoke(args: argparse.Namespace) -> int:
    from swan.certs.authority import certificate_id  # noqa: PLC0415
    from swan.local.client import admin_signer, call  # noqa: PLC0415
    from swan.local.runtime import StackInfo, StackNotRunningError  # noqa: PLC0415

    store = _store(args)
    certificate = store.load_device(args.name).certificate
    crl = store.revoke(certificate, now=_now())
    cert_id = certificate_id(certificate)
    state_dir: Path = args.state_dir or Settings.from_env().state_dir
    try:
        info = StackInfo.read(state_dir)
    except StackNotRunningError:
        _revoke_in_registry(state_dir, cert_id)
        where = "in the registry (swan up is not running)"
    else:
        call(
            "PUT",
            f"{info.iot_url}/certificates/{cert_id}?newStatus=REVOKED",
            signer=admin_signer(state_dir, "iot"),
        )
        where = "by the running swan up; its open connections are closed"
    print(f"revoked the certificate of {args.name!r} ({cert_id[:12]}...) {where}")
    print(f"  revocation list: {crl}")
    return 0


def _revoke_in_registry(state_dir: Path, cert_id: str) -> None:
    from swan.adapters.clock import SystemClock  # noqa: PLC0415
    from swan.local.registry import Registry  # noqa: PLC0415

    database = state_dir / "registry.db"
    if not database.exists():
        return  # never registered: the revocation list is all there is
    with Registry(database, SystemClock()) as registry:
        if registry.certificate(cert_id) is not None:
            registry.set_certificate_status(cert_id, "REVOKED")


def _run_verification(args: argparse.Namespace) -> int:
    stored = _store(args).create_verification(args.code, now=_now(), force=args.force)
    _report("made the verification certificate for the registration code", stored)
    print(
        "  register the CA with: aws iot register-ca-certificate --ca-certificate file://ca.pem"
        " --verification-cert file://verification.pem --set-as-active"
        " --allow-auto-registration"
    )
    return 0


def _run_crl(args: argparse.Namespace) -> int:
    store = _store(args)
    path = store.write_crl(now=_now())
    text = path.read_text()
    if args.out is not None:
        args.out.write_text(text)
        print(f"wrote {path} and {args.out}")
    else:
        print(text, end="")
    return 0


def _run_show(args: argparse.Namespace) -> int:
    from swan.certs import authority, checks  # noqa: PLC0415  (`swan --help` stays fast)

    store = _store(args)
    listed = store.list_certificates()
    if not listed:
        print(f"no certificates in {store.directory} yet; 'swan certs ca' creates the CA")
        return 0
    now = _now()
    ca = next((item.certificate for item in listed if item.role == "CA"), None)
    print(f"certificates in {store.directory}")
    for item in listed:
        certificate = item.certificate
        expiry = certificate.not_valid_after_utc
        if not checks.is_valid_at(certificate, now):
            status = "EXPIRED" if expiry < now else "not yet valid"
        elif ca is not None and not checks.verify_issued_by(certificate, ca, now=now):
            status = "NOT signed by the current CA"
        else:
            status = "valid"
        print(
            f"{item.role}: {item.path.relative_to(store.directory)}\n"
            f"  subject         {certificate.subject.rfc4514_string()}\n"
            f"  certificate id  {authority.certificate_id(certificate)}\n"
            f"  expires         {expiry:%Y-%m-%d %H:%M} UTC ({status})"
        )
    return 0


# ---------------------------------------------------------------- helpers


def _add(
    actions: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    help_text: str,
    description: str,
    action: Callable[[argparse.Namespace], int] | None = None,
) -> argparse.ArgumentParser:
    parser = actions.add_parser(
        name,
        help=help_text,
        description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    if action is not None:
        parser.set_defaults(certs_action=action)
    return parser


def _add_force(parser: argparse.ArgumentParser, help_text: str) -> None:
    parser.add_argument("--force", action="store_true", help=help_text)


def _add_days(parser: argparse.ArgumentParser, default: int) -> None:
    parser.add_argument(
        "--days",
        type=whole_number(1),
        default=default,
        metavar="N",
        help="how many days the certificate stays valid (default: %(default)s)",
    )


def _store(args: argparse.Namespace) -> CertificateStore:
    from swan.certs.files import CertificateStore  # noqa: PLC0415  (`swan --help` stays fast)

    return CertificateStore(certs_dir(args))


def _now() -> datetime:
    return datetime.now(UTC)


def _report(headline: str, stored: Stored) -> None:
    from swan.certs import authority  # noqa: PLC0415  (`swan --help` stays fast)

    certificate = stored.issued.certificate
    print(
        f"{headline}\n"
        f"  certificate     {stored.files.certificate}\n"
        f"  private key     {stored.files.key} (mode 0600: keep it secret)\n"
        f"  certificate id  {authority.certificate_id(certificate)}\n"
        f"  expires         {certificate.not_valid_after_utc:%Y-%m-%d %H:%M} UTC"
    )


def _subject(stored: Stored) -> str:
    return stored.issued.certificate.subject.rfc4514_string()


def _alternative_names(stored: Stored) -> list[str]:
    from cryptography import x509  # noqa: PLC0415  (`swan --help` stays fast)

    names = stored.issued.certificate.extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    ).value
    return [str(name.value) for name in names]


COMMAND = Command(
    name="certs",
    help="create and list the local CA, server and device certificates",
    description=DESCRIPTION,
    add_arguments=add_arguments,
    run=run,
)
