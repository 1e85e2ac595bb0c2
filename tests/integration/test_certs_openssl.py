"""The certificates `swan certs` writes, checked by OpenSSL, as mosquitto will check them."""

import hashlib
import shutil
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from swan.certs import authority
from swan.certs.files import CertificateStore

OPENSSL = shutil.which("openssl")

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(OPENSSL is None, reason="the openssl command is not installed"),
]


def swan(state_dir, *args):
    dirs = ["--state-dir", str(state_dir), "--certs-dir", str(state_dir / "certs")]
    return subprocess.run(
        [sys.executable, "-m", "swan", *dirs, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def openssl(*args):
    return subprocess.run([OPENSSL, *args], capture_output=True, timeout=30, check=False)


@pytest.fixture(scope="module")
def state(tmp_path_factory):
    state_dir = tmp_path_factory.mktemp("state")
    for args in (["ca"], ["server"], ["device", "pi-kitchen"]):
        result = swan(state_dir, "certs", *args)
        assert result.returncode == 0, result.stderr
    return CertificateStore(state_dir / "certs")


def test_openssl_accepts_the_device_certificate_for_client_auth(state):
    result = openssl(
        "verify",
        "-x509_strict",
        "-purpose",
        "sslclient",
        "-CAfile",
        str(state.ca_files.certificate),
        str(state.device_files("pi-kitchen").certificate),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().strip().endswith(": OK")


def test_openssl_accepts_the_server_certificate_for_localhost_and_127_0_0_1(state):
    result = openssl(
        "verify",
        "-x509_strict",
        "-purpose",
        "sslserver",
        "-verify_hostname",
        "localhost",
        "-verify_ip",
        "127.0.0.1",
        "-CAfile",
        str(state.ca_files.certificate),
        str(state.server_files.certificate),
    )
    assert result.returncode == 0, result.stderr


def test_openssl_refuses_a_certificate_from_another_ca(state, tmp_path):
    other = CertificateStore(tmp_path)
    other.create_ca(now=datetime.now(UTC))
    result = openssl(
        "verify",
        "-CAfile",
        str(other.ca_files.certificate),
        str(state.device_files("pi-kitchen").certificate),
    )
    assert result.returncode != 0


def test_the_certificate_id_is_what_openssl_der_and_sha256_give(state):
    path = state.device_files("pi-kitchen").certificate
    der = openssl("x509", "-in", str(path), "-outform", "DER")
    assert der.returncode == 0, der.stderr
    expected = hashlib.sha256(der.stdout).hexdigest()
    loaded = authority.load_certificate_pem(path.read_bytes())
    assert authority.certificate_id(loaded) == expected
    shown = swan(state.directory.parent, "certs", "show")
    assert expected in shown.stdout


def test_the_key_files_hold_the_certificates_keys(state):
    for files in (state.ca_files, state.server_files, state.device_files("pi-kitchen")):
        from_key = openssl("pkey", "-in", str(files.key), "-pubout")
        from_certificate = openssl("x509", "-in", str(files.certificate), "-noout", "-pubkey")
        assert from_key.returncode == 0, from_key.stderr
        assert from_key.stdout == from_certificate.stdout


def test_openssl_sees_a_revoked_device_in_the_crl(tmp_path):
    store = CertificateStore(tmp_path)
    now = datetime.now(UTC)
    store.create_ca(now=now)
    revoked = store.create_device("pi-old", now=now)
    kept = store.create_device("pi-new", now=now)
    crl = store.revoke(revoked.issued.certificate, now=now)

    checked = openssl("crl", "-in", str(crl), "-CAfile", str(store.ca_files.certificate), "-noout")
    assert checked.returncode == 0, checked.stderr
    assert b"verify OK" in checked.stderr + checked.stdout

    def verify(certificate):
        return openssl(
            "verify",
            "-crl_check",
            "-CRLfile",
            str(crl),
            "-CAfile",
            str(store.ca_files.certificate),
            str(certificate),
        )

    refused = verify(revoked.files.certificate)
    assert refused.returncode != 0
    assert b"certificate revoked" in refused.stdout + refused.stderr
    assert verify(kept.files.certificate).returncode == 0
