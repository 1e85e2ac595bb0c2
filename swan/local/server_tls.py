"""The doors' TLS server side, one context for both: the device gateway's mutual TLS and the
WebSocket door's wss://.

AWS IoT Core speaks TLS 1.2 and 1.3 ("AWS IoT Core uses TLS version 1.2 and TLS version 1.3
to encrypt all communication"), so nothing older is accepted. No TLS 1.3 session tickets are
issued: none of the project's clients is set up to resume a session (the device SDK's, the
Pi's, the button's, the bench's), and OpenSSL 3 spent about 0.33 ms of the door's CPU on
each of the two it issued by default at every handshake, 38 % of the server's side of a
mutual-TLS handshake (1.72 -> 1.06 ms, measured). So every TLS 1.3 connection is a full
handshake, its certificate chain and validity checked anew, never taken on trust from an
earlier session.
"""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path


def server_context(cert_file: Path, key_file: Path) -> ssl.SSLContext:
    """A TLS server context with the doors' certificate; the caller adds client checks."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.num_tickets = 0
    return context
