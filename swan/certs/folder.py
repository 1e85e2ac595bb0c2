"""The certificate folder's layout: where each certificate and key lives, by name only.

No cryptography here: a Raspberry Pi with only the device extra finds its certificate in
the folder (`swan pi --endpoint ... --thing pi-kitchen` reads `devices/pi-kitchen.pem`)
without the packages that make certificates (swan.certs.files does that).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from swan.core import names as aws_names
from swan.core.errors import InvalidThingNameError

if TYPE_CHECKING:
    from pathlib import Path

# RFC 5280 caps a common name at 64 characters; AWS allows thing names of 128 (swan.core.names).
MAX_COMMON_NAME: Final = 64


def check_thing_name(thing_name: str) -> str:
    """The thing name, if AWS IoT (swan.core.names.check_thing_name) and a certificate's
    common name can both hold it."""
    aws_names.check_thing_name(thing_name)
    if len(thing_name) > MAX_COMMON_NAME:
        raise InvalidThingNameError(
            thing_name,
            f"a certificate's common name holds at most {MAX_COMMON_NAME} characters",
        )
    return thing_name


@dataclass(frozen=True)
class PemFiles:
    """Where one certificate and its private key live."""

    certificate: Path
    key: Path


class CertificateFolder:
    """Where the CA, server, device and verification certificates of one folder live."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @property
    def ca_files(self) -> PemFiles:
        return self._pair("ca")

    @property
    def server_files(self) -> PemFiles:
        return self._pair("server")

    @property
    def verification_files(self) -> PemFiles:
        return self._pair("verification")

    def device_files(self, thing_name: str) -> PemFiles:
        # The name check also keeps the path inside devices/: no '/', no '..'.
        return self._pair(f"devices/{check_thing_name(thing_name)}")

    @property
    def crl_path(self) -> Path:
        return self.directory / "crl.pem"

    @property
    def revoked_path(self) -> Path:
        return self.directory / "revoked.json"

    def _pair(self, stem: str) -> PemFiles:
        return PemFiles(self.directory / f"{stem}.pem", self.directory / f"{stem}.key")
