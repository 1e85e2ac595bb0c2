"""Both doors' TLS server context: TLS 1.2 at least, as AWS IoT Core, and no session
tickets (tests/integration/test_gateway.py shows a client then cannot resume)."""

import ssl
from datetime import UTC, datetime

from swan.certs.authority import certificate_pem, create_ca, issue_server, private_key_pem
from swan.local.server_tls import server_context


def test_the_doors_speak_tls_1_2_and_up_and_hand_out_no_session_tickets(tmp_path):
    now = datetime.now(UTC)
    server = issue_server(create_ca("Swan Test CA", now=now), now=now)
    cert_file, key_file = tmp_path / "server.pem", tmp_path / "server.key"
    cert_file.write_bytes(certificate_pem(server.certificate))
    key_file.write_bytes(private_key_pem(server.private_key))
    context = server_context(cert_file, key_file)
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    assert context.num_tickets == 0
    assert context.verify_mode == ssl.CERT_NONE  # a door that checks clients says so itself
