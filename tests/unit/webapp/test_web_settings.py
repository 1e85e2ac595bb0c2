"""The web backend's settings from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from swan.core.errors import InvalidSettingError
from webapp.settings import CognitoLogin, WebSettings


def test_by_default_the_backend_is_the_thing_web_on_the_device_port(tmp_path):
    settings = WebSettings.from_env({}, cwd=tmp_path)
    certs = tmp_path / ".swan" / "certs"
    assert settings.mqtt.host == "localhost"
    assert settings.mqtt.port == 8883
    assert settings.mqtt.client_id == "web"
    assert settings.mqtt.ca_file == certs / "ca.pem"
    assert settings.mqtt.cert_file == certs / "devices" / "web.pem"
    assert settings.mqtt.key_file == certs / "devices" / "web.key"
    assert settings.rule_set == "anytime"
    assert settings.period_seconds == 6480
    assert settings.history_limit == 12


def test_swan_up_passes_the_port_the_certificate_and_the_rules(tmp_path):
    env = {
        "SWAN_STATE_DIR": str(tmp_path / "state"),
        "SWAN_DEVICE_PORT": "18883",
        "SWAN_WEB_CERT_FILE": "/certs/web.pem",
        "SWAN_WEB_KEY_FILE": "/certs/web.key",
        "SWAN_WEB_CA_FILE": "/certs/ca.pem",
        "SWAN_RULES": "swan",
        "SWAN_PERIOD_SECONDS": "30",
        "SWAN_WEB_HISTORY": "5",
    }
    settings = WebSettings.from_env(env, cwd=tmp_path)
    assert settings.mqtt.port == 18883
    assert settings.mqtt.cert_file == Path("/certs/web.pem")
    assert settings.rule_set == "swan"
    assert settings.period_seconds == 30
    assert settings.history_limit == 5
    assert WebSettings.from_env({**env, "SWAN_WEB_MQTT_PORT": "9"}).mqtt.port == 9


@pytest.mark.parametrize(
    ("name", "value"),
    [("SWAN_WEB_MQTT_PORT", "none"), ("SWAN_WEB_MQTT_PORT", "70000"), ("SWAN_WEB_HISTORY", "0")],
)
def test_bad_values_are_named(tmp_path, name, value):
    with pytest.raises(InvalidSettingError, match=name):
        WebSettings.from_env({name: value}, cwd=tmp_path)


POOL = "eu-west-1:4ae3f1b2-52c9-4c6e-9a3e-0123456789ab"
ENDPOINT = "a1b2c3d4e5f6g7-ats.iot.eu-west-1.amazonaws.com"


def test_on_aws_the_backend_signs_a_websocket_with_the_identity_pools_credentials(tmp_path):
    env = {"SWAN_WEB_MODE": "aws", "SWAN_IDENTITY_POOL_ID": POOL, "SWAN_IOT_ENDPOINT": ENDPOINT}
    login = WebSettings.from_env(env, cwd=tmp_path).mqtt
    assert login == CognitoLogin(
        endpoint=ENDPOINT, region="eu-west-1", identity_pool_id=POOL, port=443, ca_file=None
    )


def test_the_region_may_be_given_and_tests_point_it_at_a_private_broker(tmp_path):
    env = {
        "SWAN_WEB_MODE": "aws",
        "SWAN_IDENTITY_POOL_ID": POOL,
        "SWAN_IOT_ENDPOINT": "localhost",
        "AWS_REGION": "eu-central-1",
        "SWAN_WEB_MQTT_PORT": "18443",
        "SWAN_WEB_CA_FILE": "/certs/test-ca.pem",
    }
    login = WebSettings.from_env(env, cwd=tmp_path).mqtt
    assert isinstance(login, CognitoLogin)
    assert (login.region, login.port, login.ca_file) == (
        "eu-central-1",
        18443,
        Path("/certs/test-ca.pem"),
    )


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({"SWAN_WEB_MODE": "cloud"}, "SWAN_WEB_MODE"),
        ({"SWAN_WEB_MODE": "aws", "SWAN_IOT_ENDPOINT": ENDPOINT}, "SWAN_IDENTITY_POOL_ID"),
        (
            {
                "SWAN_WEB_MODE": "aws",
                "SWAN_IDENTITY_POOL_ID": "pool",
                "SWAN_IOT_ENDPOINT": ENDPOINT,
            },
            "SWAN_IDENTITY_POOL_ID",
        ),
        ({"SWAN_WEB_MODE": "aws", "SWAN_IDENTITY_POOL_ID": POOL}, "SWAN_IOT_ENDPOINT"),
        (
            {
                "SWAN_WEB_MODE": "aws",
                "SWAN_IDENTITY_POOL_ID": POOL,
                "SWAN_IOT_ENDPOINT": f"wss://{ENDPOINT}/mqtt",
            },
            "SWAN_IOT_ENDPOINT",
        ),
    ],
)
def test_aws_mode_names_what_is_missing_or_wrong(tmp_path, env, name):
    with pytest.raises(InvalidSettingError, match=name):
        WebSettings.from_env(env, cwd=tmp_path)
