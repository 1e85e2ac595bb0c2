"""The direct-mTLS broker of gateway: its configuration (nothing is started)."""

from pathlib import Path

from swan.bench.direct import DirectPlan, render_config

PLAN = DirectPlan(
    directory=Path("/bench/direct-mtls"),
    port=40123,
    ca_file=Path("/bench/certs/ca.pem"),
    cert_file=Path("/bench/certs/server.pem"),
    key_file=Path("/bench/certs/server.key"),
)


def lines():
    return render_config(PLAN, "swan").splitlines()


def test_one_tls_listener_on_loopback_that_requires_a_client_certificate_of_the_ca():
    config = lines()
    assert [line for line in config if line.startswith("listener")] == ["listener 40123 127.0.0.1"]
    assert "cafile /bench/certs/ca.pem" in config
    assert "certfile /bench/certs/server.pem" in config
    assert "keyfile /bench/certs/server.key" in config
    assert "require_certificate true" in config
    assert "use_identity_as_username true" in config


def test_no_acl_no_passwords_and_the_stack_brokers_queue_and_tcp_settings():
    config = lines()
    assert not any(line.startswith(("acl_file", "password_file")) for line in config)
    assert "allow_anonymous false" in config
    assert "max_queued_messages 100000" in config
    assert "max_inflight_messages 0" in config
    assert "set_tcp_nodelay true" in config
    assert "user swan" in config
