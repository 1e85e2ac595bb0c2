"""The WebSocket door's process: the plan the stack hands it, and the ports it says it bound."""

from __future__ import annotations

import stat

from swan.local.core.broker_limits import BrokerLimits
from swan.local.web_door_service import DoorProcessPlan, bound_ports, ready_line
from swan.local.web_gateway import WebDoorPlan

ROLE = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "iot:Connect", "Resource": "*"}],
}


def a_plan(tmp_path):
    return DoorProcessPlan(
        WebDoorPlan("127.0.0.1", 0, 18447, tmp_path / "server.pem", tmp_path / "server.key"),
        region="eu-west-1",
        account="000000000000",
        partition="aws",
        roles={"UnauthenticatedRole": [ROLE]},
        upstream=tmp_path / "identities.sock",
        cognito_database=tmp_path / "cognito.db",
        limits=BrokerLimits(publishes_per_second=None, connects_per_second_per_client=2.0),
    )


def test_the_plan_reaches_the_process_whole(tmp_path):
    plan = a_plan(tmp_path)
    plan.write(tmp_path / "web-door.json")
    assert DoorProcessPlan.read(tmp_path / "web-door.json") == plan


def test_the_plan_file_is_the_users_alone(tmp_path):
    # It names the server's key file: no one else reads where that is.
    a_plan(tmp_path).write(tmp_path / "web-door.json")
    assert stat.S_IMODE((tmp_path / "web-door.json").stat().st_mode) == 0o600


def test_the_ports_bound_are_read_back_from_the_log_once_it_says_them():
    log = "2026-12-05 INFO swan.local.web_door_service: "
    assert bound_ports(log + "starting\n") is None
    assert bound_ports(log + ready_line(40123, 40124) + "\n") == (40123, 40124)
