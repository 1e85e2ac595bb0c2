"""The certificate folder: layout, permissions, atomic writes, no accidental overwrites."""

import json
import os
import re
import stat
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509

from swan.certs import authority, checks
from swan.certs.defaults import CA_DAYS
from swan.certs.errors import (
    CertificateExistsError,
    CertificateRequestError,
    CertificateStoreError,
    InvalidPemError,
    InvalidThingNameError,
    MissingCertificateError,
    UnusableCertificateError,
)
from swan.certs.files import CertificateStore
from swan.core.errors import SwanError

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path):
    return CertificateStore(tmp_path / "state" / "certs")


@pytest.fixture
def with_ca(store):
    store.create_ca(now=NOW)
    return store


def mode(path):
    return stat.S_IMODE(path.stat().st_mode)


def snapshot(directory):
    """Every file under the directory with its bytes and inode: what a write would change."""
    return {
        path: (path.read_bytes(), path.stat().st_ino, path.stat().st_mtime_ns)
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


# ---------------------------------------------------------------- layout and permissions


def test_the_store_keeps_each_file_in_its_place_in_its_folder(tmp_path):
    store = CertificateStore(tmp_path / "certs")
    assert store.directory == tmp_path / "certs"
    assert store.ca_files.certificate == tmp_path / "certs" / "ca.pem"
    assert store.ca_files.key == tmp_path / "certs" / "ca.key"
    assert store.server_files.certificate.name == "server.pem"
    assert store.verification_files.key.name == "verification.key"
    assert store.device_files("pi-1").certificate == tmp_path / "certs" / "devices" / "pi-1.pem"
    assert store.device_files("pi-1").key == tmp_path / "certs" / "devices" / "pi-1.key"
    assert store.crl_path.name == "crl.pem"
    assert store.revoked_path.name == "revoked.json"


def test_keys_are_0600_and_certificates_0644(with_ca):
    store = with_ca
    store.create_server(now=NOW)
    store.create_device("pi-1", now=NOW)
    store.create_verification("a" * 64, now=NOW)
    for files in (store.ca_files, store.server_files, store.device_files("pi-1")):
        assert mode(files.key) == 0o600
        assert mode(files.certificate) == 0o644
    assert mode(store.verification_files.key) == 0o600


def test_certificates_are_0644_even_under_a_strict_umask(store):
    previous = os.umask(0o077)
    try:
        store.create_ca(now=NOW)
    finally:
        os.umask(previous)
    assert mode(store.ca_files.certificate) == 0o644
    assert mode(store.ca_files.key) == 0o600


def test_what_is_written_loads_back(with_ca):
    stored = with_ca.create_device("pi-1", now=NOW)
    loaded = with_ca.load_device("pi-1")
    assert loaded.certificate == stored.issued.certificate
    assert authority.matches(loaded)
    assert stored.created
    assert stored.files == with_ca.device_files("pi-1")
    assert checks.verify_issued_by(loaded.certificate, with_ca.load_ca().certificate, now=NOW)


def test_each_kind_loads_back(with_ca):
    server = with_ca.create_server(now=NOW, hostnames=["swan.lan"], ips=[])
    verification = with_ca.create_verification("a" * 64, now=NOW)
    assert with_ca.load_server().certificate == server.issued.certificate
    assert with_ca.load_verification().certificate == verification.issued.certificate


# ---------------------------------------------------------------- overwriting


CREATE = {
    "ca": lambda store, **kw: (store.create_ca(now=NOW, **kw), store.ca_files),
    "server": lambda store, **kw: (store.create_server(now=NOW, **kw), store.server_files),
    "device": lambda store, **kw: (
        store.create_device("pi-1", now=NOW, **kw),
        store.device_files("pi-1"),
    ),
    "verification": lambda store, **kw: (
        store.create_verification("c" * 64, now=NOW, **kw),
        store.verification_files,
    ),
}


@pytest.mark.parametrize("kind", CREATE)
def test_nothing_is_overwritten_without_force(with_ca, kind):
    _, files = CREATE[kind](with_ca, force=True)  # there is one, whatever was there before
    before = snapshot(with_ca.directory)
    with pytest.raises(CertificateExistsError) as refused:
        CREATE[kind](with_ca)
    message = str(refused.value)
    assert str(files.certificate) in message
    assert "--force" in message
    assert isinstance(refused.value, SwanError)
    assert isinstance(refused.value, ValueError)
    assert snapshot(with_ca.directory) == before


def test_force_replaces_both_files(with_ca):
    first = with_ca.create_device("pi-1", now=NOW)
    second = with_ca.create_device("pi-1", now=NOW, force=True)
    assert authority.certificate_id(first.issued.certificate) != authority.certificate_id(
        second.issued.certificate
    )
    assert with_ca.load_device("pi-1").certificate == second.issued.certificate
    assert mode(second.files.key) == 0o600


def test_a_lone_key_also_blocks_creation(store):
    store.directory.mkdir(parents=True)
    store.ca_files.key.write_bytes(b"something precious")
    with pytest.raises(CertificateExistsError, match=r"ca\.key"):
        store.create_ca(now=NOW)
    assert store.ca_files.key.read_bytes() == b"something precious"
    assert not store.ca_files.certificate.exists()


# ---------------------------------------------------------------- ensure: create what is missing


def test_ensure_ca_creates_then_reuses(store):
    first = store.ensure_ca(now=NOW)
    before = snapshot(store.directory)
    second = store.ensure_ca(now=NOW + timedelta(days=1))
    assert first.created
    assert not second.created
    assert second.issued.certificate == first.issued.certificate
    assert snapshot(store.directory) == before


def test_ensure_device_creates_the_ca_too_then_writes_nothing_more(store):
    first = store.ensure_device("pi-1", now=NOW)
    assert first.created
    assert store.ca_files.certificate.exists()
    before = snapshot(store.directory)
    second = store.ensure_device("pi-1", now=NOW)
    assert not second.created
    assert second.issued.certificate == first.issued.certificate
    assert snapshot(store.directory) == before


def test_ensure_server_creates_then_reuses(store):
    first = store.ensure_server(now=NOW)
    before = snapshot(store.directory)
    second = store.ensure_server(now=NOW)
    assert first.created
    assert not second.created
    assert snapshot(store.directory) == before
    names = first.issued.certificate.extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    ).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]


def test_ensure_refuses_a_certificate_from_a_replaced_ca(store):
    store.ensure_server(now=NOW)
    store.create_ca(now=NOW, force=True)
    with pytest.raises(UnusableCertificateError) as refused:
        store.ensure_server(now=NOW)
    assert "another CA" in str(refused.value)
    assert "swan certs server --force" in str(refused.value)


def test_ensure_refuses_an_expired_ca(store):
    store.ensure_ca(now=NOW)
    with pytest.raises(UnusableCertificateError, match=r"swan certs ca --force"):
        store.ensure_device("pi-1", now=NOW + timedelta(days=CA_DAYS + 1))


def test_ensure_refuses_a_half_written_pair(with_ca):
    with_ca.create_device("pi-1", now=NOW)
    with_ca.device_files("pi-1").key.unlink()
    with pytest.raises(MissingCertificateError, match=r"pi-1\.key"):
        with_ca.ensure_device("pi-1", now=NOW)


# ---------------------------------------------------------------- atomic writes


def test_writes_leave_no_temporary_files(with_ca):
    with_ca.create_server(now=NOW)
    with_ca.create_device("pi-1", now=NOW)
    with_ca.create_device("pi-1", now=NOW, force=True)
    names = [path.name for path in with_ca.directory.rglob("*")]
    assert not [name for name in names if name.startswith(".") or name.endswith(".tmp")]


def test_a_failed_write_leaves_neither_a_temporary_nor_a_partial_file(store, monkeypatch):
    def disk_full(_fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(CertificateStoreError) as failed:
        store.create_ca(now=NOW)
    assert "No space left on device" in str(failed.value)
    assert str(store.ca_files.key) in str(failed.value)
    assert list(store.directory.iterdir()) == []


def test_a_failed_write_keeps_the_previous_file_whole(with_ca, monkeypatch):
    before = with_ca.ca_files.certificate.read_bytes()
    real_fsync = os.fsync
    calls = []

    def fail_on_the_certificate(fd):
        calls.append(fd)
        if len(calls) == 3:  # key file, its folder, then the certificate file
            raise OSError(5, "Input/output error")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fail_on_the_certificate)
    with pytest.raises(CertificateStoreError, match=r"ca\.pem"):
        with_ca.create_ca(now=NOW, force=True)
    assert with_ca.ca_files.certificate.read_bytes() == before


@pytest.mark.skipif(
    os.geteuid() == 0, reason="root may write to a read-only directory: permissions don't bite"
)
def test_a_read_only_directory_gives_a_clear_error(store):
    store.directory.mkdir(parents=True)
    store.directory.chmod(0o500)
    try:
        with pytest.raises(CertificateStoreError) as failed:
            store.create_ca(now=NOW)
    finally:
        store.directory.chmod(0o700)
    assert "cannot write" in str(failed.value)
    assert "Permission denied" in str(failed.value)
    assert isinstance(failed.value, OSError)
    assert list(store.directory.iterdir()) == []


def test_a_state_directory_that_is_a_file_gives_a_clear_error(tmp_path):
    (tmp_path / "state").write_text("not a directory")
    store = CertificateStore(tmp_path / "state" / "certs")
    with pytest.raises(CertificateStoreError) as failed:
        store.create_ca(now=NOW)
    assert str(failed.value).startswith(f"cannot write {store.ca_files.key}: ")
    assert isinstance(failed.value, SwanError)
    assert not isinstance(failed.value, ValueError)  # not bad input: the CLI exits 1


# ---------------------------------------------------------------- loading


def test_issuing_without_a_ca_says_to_create_one(store):
    with pytest.raises(MissingCertificateError) as missing:
        store.create_device("pi-1", now=NOW)
    assert str(missing.value) == f"no CA at {store.ca_files.certificate}: run 'swan certs ca' first"
    assert not store.directory.exists()


def test_a_missing_device_says_how_to_create_it(with_ca):
    with pytest.raises(MissingCertificateError, match="run 'swan certs device pi-9' first"):
        with_ca.load_device("pi-9")


def test_a_corrupt_certificate_names_its_file(with_ca):
    with_ca.ca_files.certificate.write_bytes(b"garbage")
    with pytest.raises(InvalidPemError, match=f"^{re.escape(str(with_ca.ca_files.certificate))}: "):
        with_ca.load_ca()


def test_a_key_from_another_pair_is_refused(with_ca):
    with_ca.create_device("pi-1", now=NOW)
    with_ca.create_device("pi-2", now=NOW)
    with_ca.device_files("pi-1").key.write_bytes(with_ca.device_files("pi-2").key.read_bytes())
    with pytest.raises(UnusableCertificateError, match="does not belong to its certificate"):
        with_ca.load_device("pi-1")


@pytest.mark.parametrize("thing_name", ["../ca", "a/b", "", "pi kitchen"])
def test_device_paths_refuse_names_that_are_not_thing_names(store, thing_name):
    with pytest.raises(InvalidThingNameError):
        store.device_files(thing_name)


def test_the_listing_shows_the_ca_server_verification_then_devices_by_name(with_ca):
    with_ca.create_device("pi-b", now=NOW)
    with_ca.create_device("pi-a", now=NOW)
    with_ca.create_server(now=NOW)
    with_ca.create_verification("a" * 64, now=NOW)
    listed = with_ca.list_certificates()
    assert [item.role for item in listed] == [
        "CA",
        "server",
        "verification",
        "device pi-a",
        "device pi-b",
    ]
    assert listed[3].path == with_ca.device_files("pi-a").certificate
    assert listed[0].certificate == with_ca.load_ca().certificate


def test_an_empty_store_lists_nothing(store):
    assert store.list_certificates() == []


# ---------------------------------------------------------------- revocation


def test_revoking_records_the_certificate_and_rebuilds_the_crl(with_ca):
    device = with_ca.create_device("pi-1", now=NOW).issued.certificate
    crl_path = with_ca.revoke(device, now=NOW + timedelta(hours=1))
    assert crl_path == with_ca.crl_path
    assert mode(crl_path) == 0o644
    crl = authority.load_crl_pem(crl_path.read_bytes())
    assert crl.is_signature_valid(with_ca.load_ca().certificate.public_key())
    entry = crl.get_revoked_certificate_by_serial_number(device.serial_number)
    assert entry is not None
    assert entry.revocation_date_utc == NOW + timedelta(hours=1)
    recorded = json.loads(with_ca.revoked_path.read_text())["revoked"]
    assert recorded == [
        {
            "serial": f"{device.serial_number:x}",
            "revokedAt": (NOW + timedelta(hours=1)).isoformat(),
            "certificateId": authority.certificate_id(device),
            "subject": "CN=pi-1,O=The Swan",
            "caCertificateId": authority.certificate_id(with_ca.load_ca().certificate),
        }
    ]


def test_revoking_twice_keeps_the_first_date(with_ca):
    device = with_ca.create_device("pi-1", now=NOW).issued.certificate
    with_ca.revoke(device, now=NOW)
    with_ca.revoke(device, now=NOW + timedelta(days=1))
    assert with_ca.revoked() == {device.serial_number: NOW}


def test_a_certificate_from_another_ca_cannot_be_revoked_here(with_ca, tmp_path):
    other = CertificateStore(tmp_path / "other")
    other.create_ca(now=NOW)
    foreign = other.create_device("pi-1", now=NOW).issued.certificate
    with pytest.raises(CertificateRequestError, match="was not issued by this CA"):
        with_ca.revoke(foreign, now=NOW)
    assert not with_ca.revoked_path.exists()


def test_a_new_ca_starts_with_an_empty_crl(with_ca):
    device = with_ca.create_device("pi-1", now=NOW).issued.certificate
    with_ca.revoke(device, now=NOW)
    with_ca.create_ca(now=NOW, force=True)
    assert with_ca.revoked() == {}
    crl = authority.load_crl_pem(with_ca.write_crl(now=NOW).read_bytes())
    assert len(crl) == 0
    assert crl.is_signature_valid(with_ca.load_ca().certificate.public_key())


@pytest.mark.parametrize("content", ["{not json", '{"other": []}', '{"revoked": {}}'])
def test_a_corrupt_revocation_list_is_reported(with_ca, content):
    with_ca.revoked_path.write_text(content)
    with pytest.raises(UnusableCertificateError, match="revocation list"):
        with_ca.revoked()
