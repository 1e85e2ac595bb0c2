"""What `swan up` hands the web app: its environment and where it keeps its files."""

from __future__ import annotations

from pathlib import Path

import pytest

from swan.adapters.mqtt import Endpoint
from swan.core.countdown import Rules
from swan.local.webapp import WebAppFailedError, WebAppPlan, webapp_environment

STATE = Path("/state")
WEB = Endpoint(
    "localhost",
    18883,
    "web",
    ca_file=STATE / "certs" / "ca.pem",
    cert_file=STATE / "certs" / "devices" / "web.pem",
    key_file=STATE / "certs" / "devices" / "web.key",
)


def test_the_web_app_gets_the_broker_login_the_rules_and_reflex_settings(tmp_path):
    (tmp_path / "tools" / "node_modules" / ".bin").mkdir(parents=True)
    (tmp_path / "tools" / "node_modules" / ".bin" / "bun").touch()
    plan = WebAppPlan(STATE, WEB, Rules.for_period(30, "swan"), port=3100)
    env = webapp_environment(plan, {"PATH": "/usr/bin"}, repository=tmp_path)
    assert env["PATH"] == "/usr/bin"
    assert env["SWAN_WEB_MQTT_PORT"] == "18883"
    assert env["SWAN_WEB_CLIENT_ID"] == "web"
    assert env["SWAN_WEB_CERT_FILE"] == "/state/certs/devices/web.pem"
    assert env["SWAN_RULES"] == "swan"
    assert env["SWAN_PERIOD_SECONDS"] == "30"
    assert env["SWAN_HISTORY_DB"] == "/state/history.db"
    assert env["REFLEX_API_URL"] == "http://127.0.0.1:3100"
    assert env["REFLEX_WEB_WORKDIR"] == "/state/webapp/.web"
    assert env["REFLEX_BUN_PATH"] == str(tmp_path / "tools" / "node_modules" / ".bin" / "bun")
    assert env["REFLEX_TELEMETRY_ENABLED"] == "false"
    assert plan.url == "http://127.0.0.1:3100/"
    assert plan.log_file == STATE / "logs" / "webapp.log"


def test_a_bun_chosen_by_the_caller_and_a_shared_reflex_directory_are_kept(tmp_path):
    plan = WebAppPlan(STATE, WEB, Rules(), reflex_dir=Path("/cache/reflex"))
    env = webapp_environment(plan, {"REFLEX_BUN_PATH": "/opt/bun"}, repository=tmp_path)
    assert env["REFLEX_BUN_PATH"] == "/opt/bun"
    assert env["REFLEX_STATES_WORKDIR"] == "/cache/reflex/states"


def test_the_web_app_needs_a_client_certificate():
    plan = WebAppPlan(STATE, Endpoint("localhost", 1, "web"), Rules())
    with pytest.raises(WebAppFailedError, match="client certificate"):
        webapp_environment(plan, {})
