"""`swan certs` as a user types it: what it writes, what it says, how it refuses."""

import pytest

from swan.certs import authority
from swan.certs.files import CertificateStore
from swan.cli import main


def certs(tmp_path, *args):
    return main(["--state-dir", str(tmp_path), "certs", *args])


def store_in(tmp_path):
    return CertificateStore(tmp_path / "certs")


def certificate_id_of(path):
    return authority.certificate_id(authority.load_certificate_pem(path.read_bytes()))


# ---------------------------------------------------------------- help


def test_swan_help_lists_certs(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    assert "certs" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["certs"], ["ca", "device", "server", "show"]),
        (["certs", "ca"], ["--force", "--days", "3650"]),
        (["certs", "device"], ["NAME", "--force", "--days", "thing name"]),
        (["certs", "server"], ["--hostname", "--ip", "localhost", "127.0.0.1"]),
        (["certs", "show"], ["certificate id"]),
    ],
)
def test_every_certs_command_has_help(capsys, args, expected):
    with pytest.raises(SystemExit) as exited:
        main([*args, "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    for text in expected:
        assert text in out


def test_certs_without_a_subcommand_is_bad_input(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["certs"])
    assert exited.value.code == 2
    assert "SUBCOMMAND" in capsys.readouterr().err


# ---------------------------------------------------------------- swan certs ca


def test_ca_writes_the_ca_and_says_where(capsys, tmp_path):
    assert certs(tmp_path, "ca") == 0
    files = store_in(tmp_path).ca_files
    out = capsys.readouterr().out
    assert "created the local CA CN=The Swan local CA,O=The Swan" in out
    assert str(files.certificate) in out
    assert str(files.key) in out
    assert "0600" in out
    assert certificate_id_of(files.certificate) in out


def test_a_second_ca_needs_force(capsys, tmp_path):
    assert certs(tmp_path, "ca") == 0
    first = certificate_id_of(store_in(tmp_path).ca_files.certificate)
    capsys.readouterr()
    assert certs(tmp_path, "ca") == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        f"swan: {store_in(tmp_path).ca_files.certificate} already exists;"
        " use --force to replace it\n"
    )
    assert certificate_id_of(store_in(tmp_path).ca_files.certificate) == first


def test_force_replaces_the_ca_and_says_what_that_means(capsys, tmp_path):
    assert certs(tmp_path, "ca") == 0
    first = certificate_id_of(store_in(tmp_path).ca_files.certificate)
    assert certs(tmp_path, "ca", "--force", "--days", "30") == 0
    assert certificate_id_of(store_in(tmp_path).ca_files.certificate) != first
    assert "no longer verify" in capsys.readouterr().out


# ---------------------------------------------------------------- swan certs device


def test_device_without_a_ca_says_to_create_one(capsys, tmp_path):
    assert certs(tmp_path, "device", "pi-1") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "run 'swan certs ca' first" in err


def test_device_writes_its_certificate_and_says_where(capsys, tmp_path):
    assert certs(tmp_path, "ca") == 0
    capsys.readouterr()
    assert certs(tmp_path, "device", "pi-kitchen", "--days", "7") == 0
    files = store_in(tmp_path).device_files("pi-kitchen")
    out = capsys.readouterr().out
    assert "issued a certificate for device 'pi-kitchen'" in out
    assert str(files.certificate) in out
    assert str(files.key) in out
    assert certificate_id_of(files.certificate) in out
    assert "client id 'pi-kitchen'" in out


@pytest.mark.parametrize("name", ["pi kitchen", "../ca", "x" * 65])
def test_a_bad_thing_name_is_one_line_and_exit_code_2(capsys, tmp_path, name):
    assert certs(tmp_path, "ca") == 0
    capsys.readouterr()
    assert certs(tmp_path, "device", name) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("swan: invalid thing name")
    assert captured.err.count("\n") == 1
    assert not (store_in(tmp_path).directory / "devices").exists()


def test_a_second_device_certificate_needs_force(capsys, tmp_path):
    assert certs(tmp_path, "ca") == 0
    assert certs(tmp_path, "device", "pi-1") == 0
    assert certs(tmp_path, "device", "pi-1") == 2
    assert "--force" in capsys.readouterr().err
    assert certs(tmp_path, "device", "pi-1", "--force") == 0


@pytest.mark.parametrize("days", ["0", "-3", "soon"])
def test_a_bad_lifetime_is_refused_by_the_parser(capsys, tmp_path, days):
    with pytest.raises(SystemExit) as exited:
        certs(tmp_path, "device", "pi-1", "--days", days)
    assert exited.value.code == 2
    assert "--days" in capsys.readouterr().err


# ---------------------------------------------------------------- swan certs server


def test_server_defaults_to_localhost_and_127_0_0_1(capsys, tmp_path):
    assert certs(tmp_path, "ca") == 0
    capsys.readouterr()
    assert certs(tmp_path, "server") == 0
    files = store_in(tmp_path).server_files
    out = capsys.readouterr().out
    assert "issued the server certificate for localhost, 127.0.0.1" in out
    assert str(files.certificate) in out
    assert str(files.key) in out
    assert certificate_id_of(files.certificate) in out


def test_server_takes_repeated_hostnames_and_ips(capsys, tmp_path):
    assert certs(tmp_path, "ca") == 0
    args = ["--hostname", "swan.lan", "--hostname", "localhost", "--ip", "::1"]
    assert certs(tmp_path, "server", *args) == 0
    assert "for swan.lan, localhost, ::1" in capsys.readouterr().out


def test_a_bad_ip_is_one_line_and_exit_code_2(capsys, tmp_path):
    assert certs(tmp_path, "ca") == 0
    capsys.readouterr()
    assert certs(tmp_path, "server", "--ip", "999.0.0.1") == 2
    err = capsys.readouterr().err
    assert err == "swan: invalid IP address '999.0.0.1': use an IPv4 or IPv6 address\n"


# ---------------------------------------------------------------- swan certs show


def test_show_on_an_empty_state_directory_says_how_to_start(capsys, tmp_path):
    assert certs(tmp_path, "show") == 0
    assert "'swan certs ca' creates the CA" in capsys.readouterr().out


def test_show_lists_subjects_ids_and_expiry(capsys, tmp_path):
    assert certs(tmp_path, "ca") == 0
    assert certs(tmp_path, "server") == 0
    assert certs(tmp_path, "device", "pi-1") == 0
    capsys.readouterr()
    assert certs(tmp_path, "show") == 0
    out = capsys.readouterr().out
    store = store_in(tmp_path)
    for role, files in [
        ("CA: ca.pem", store.ca_files),
        ("server: server.pem", store.server_files),
        ("device pi-1: devices/pi-1.pem", store.device_files("pi-1")),
    ]:
        assert role in out
        assert certificate_id_of(files.certificate) in out
    assert "CN=pi-1,O=The Swan" in out
    assert out.count("(valid)") == 3
    assert "UTC" in out


def test_show_flags_certificates_from_a_replaced_ca(capsys, tmp_path):
    assert certs(tmp_path, "ca") == 0
    assert certs(tmp_path, "device", "pi-1") == 0
    assert certs(tmp_path, "ca", "--force") == 0
    capsys.readouterr()
    assert certs(tmp_path, "show") == 0
    assert "NOT signed by the current CA" in capsys.readouterr().out


def test_certificates_live_in_certs_of_the_current_directory_by_default(
    capsys, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SWAN_CERTS_DIR")
    monkeypatch.setenv("SWAN_STATE_DIR", "state")
    assert main(["certs", "ca"]) == 0
    assert (tmp_path / "certs" / "ca.pem").is_file()
    assert str(tmp_path / "certs" / "ca.pem") in capsys.readouterr().out
    assert not (tmp_path / "state").exists()  # the state directory keeps databases and logs


def test_the_certificate_folder_comes_from_the_environment_or_the_flag(
    capsys, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SWAN_CERTS_DIR", "from-env")
    assert main(["certs", "ca"]) == 0
    assert (tmp_path / "from-env" / "ca.pem").is_file()
    flagged = ["--certs-dir", str(tmp_path / "flagged"), "certs"]
    assert main([*flagged, "ca"]) == 0
    assert main([*flagged, "device", "pi-a"]) == 0
    assert (tmp_path / "flagged" / "devices" / "pi-a.pem").is_file()
    assert str(tmp_path / "flagged" / "devices" / "pi-a.pem") in capsys.readouterr().out


def test_the_verification_certificate_carries_the_registration_code(tmp_path, capsys):
    code = "a" * 64
    assert main(["--state-dir", str(tmp_path), "certs", "ca"]) == 0
    assert main(["--state-dir", str(tmp_path), "certs", "verification", "--code", code]) == 0
    out = capsys.readouterr().out
    assert "verification.pem" in out
    assert "aws iot register-ca-certificate" in out
    from swan.certs.files import CertificateStore  # noqa: PLC0415

    issued = CertificateStore(tmp_path / "certs").load_verification()
    from cryptography.x509.oid import NameOID  # noqa: PLC0415

    (common_name,) = issued.certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    assert common_name.value == code


def test_revoking_without_a_running_stack_updates_the_revocation_list(tmp_path, capsys):
    assert main(["--state-dir", str(tmp_path), "certs", "ca"]) == 0
    assert main(["--state-dir", str(tmp_path), "certs", "device", "pi-kitchen"]) == 0
    capsys.readouterr()
    assert main(["--state-dir", str(tmp_path), "certs", "revoke", "pi-kitchen"]) == 0
    assert "swan up is not running" in capsys.readouterr().out
    assert main(["--state-dir", str(tmp_path), "certs", "crl"]) == 0
    crl = capsys.readouterr().out
    assert crl.startswith("-----BEGIN X509 CRL-----")
    from cryptography import x509  # noqa: PLC0415

    from swan.certs.files import CertificateStore  # noqa: PLC0415

    listed = x509.load_pem_x509_crl(crl.encode())
    device = CertificateStore(tmp_path / "certs").load_device("pi-kitchen").certificate
    assert listed.get_revoked_certificate_by_serial_number(device.serial_number) is not None


def test_devices_before_anything_ran(tmp_path, capsys):
    assert main(["--state-dir", str(tmp_path), "devices"]) == 0
    assert "no devices yet" in capsys.readouterr().out
