"""Default names and lifetimes of the project's certificates (no imports: `--help` reads them)."""

from __future__ import annotations

from typing import Final

DEFAULT_CA_NAME: Final = "The Swan local CA"
SERVER_HOSTNAMES: Final = ("localhost",)
SERVER_IPS: Final = ("127.0.0.1",)

# Lifetimes in days. The CA outlives what it signs; the verification certificate is needed
# only while the CA is registered with AWS; a CRL is rebuilt well before its next update.
CA_DAYS: Final = 3650
DEVICE_DAYS: Final = 1825
SERVER_DAYS: Final = 825
VERIFICATION_DAYS: Final = 30
CRL_DAYS: Final = 30
