from pathlib import Path

import pytest

from swan.core.errors import InvalidSettingError
from swan.settings import Settings


def test_defaults_keep_state_in_dot_swan_and_count_108_minutes(tmp_path):
    settings = Settings.from_env({}, cwd=tmp_path)
    assert settings.state_dir == tmp_path / ".swan"
    assert settings.certs_dir == tmp_path / "certs"
    assert settings.rules.period_seconds == 6480
    assert settings.rules.alarm_seconds == 240
    assert settings.rules.rule_set == "anytime"
    assert settings.cognito_credentials_seconds == 3600  # Cognito's hour


def test_the_local_cognitos_credentials_may_live_shorter(tmp_path):
    env = {"SWAN_COGNITO_CREDENTIALS_SECONDS": "30"}
    assert Settings.from_env(env, cwd=tmp_path).cognito_credentials_seconds == 30


def test_everything_can_be_overridden(tmp_path):
    env = {
        "SWAN_STATE_DIR": "/var/lib/swan",
        "SWAN_CERTS_DIR": "/etc/swan/certs",
        "SWAN_PERIOD_SECONDS": "30",
        "SWAN_RULES": "swan",
    }
    settings = Settings.from_env(env, cwd=tmp_path)
    assert settings.state_dir == Path("/var/lib/swan")
    assert settings.certs_dir == Path("/etc/swan/certs")
    assert settings.rules.period_seconds == 30
    assert settings.rules.alarm_seconds == 7.5
    assert settings.rules.rule_set == "swan"


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({"SWAN_PERIOD_SECONDS": "-5"}, "SWAN_PERIOD_SECONDS"),
        ({"SWAN_PERIOD_SECONDS": "soon"}, "SWAN_PERIOD_SECONDS"),
        ({"SWAN_RULES": "chaos"}, "SWAN_RULES"),
        ({"SWAN_COGNITO_CREDENTIALS_SECONDS": "0"}, "SWAN_COGNITO_CREDENTIALS_SECONDS"),
        ({"SWAN_COGNITO_CREDENTIALS_SECONDS": "1.5"}, "SWAN_COGNITO_CREDENTIALS_SECONDS"),
        ({"SWAN_COGNITO_CREDENTIALS_SECONDS": "3601"}, "SWAN_COGNITO_CREDENTIALS_SECONDS"),
    ],
)
def test_bad_settings_are_named(env, name, tmp_path):
    with pytest.raises(InvalidSettingError) as raised:
        Settings.from_env(env, cwd=tmp_path)
    assert raised.value.name == name
