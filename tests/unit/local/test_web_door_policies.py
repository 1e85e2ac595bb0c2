"""The WebSocket door's principals: a role's MQTT statements, parsed once for all of its
identities' connections, and a role whose statements cannot be parsed refused every time."""

from pathlib import Path

import pytest

from swan.local.core.policy import PolicyDocumentError
from swan.local.sigv4 import SigningKey
from swan.local.web_gateway import WebDoorPlan, WebSocketDoor

ROLE = "swan-page-role"
ALLOW = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "iot:Connect", "Resource": "*"}],
}
BROKEN = {"Version": "2012-10-17", "Statement": [{"Effect": "Maybe"}]}


def door(roles):
    plan = WebDoorPlan("127.0.0.1", 0, 0, Path("server.pem"), Path("server.key"))
    return WebSocketDoor(
        plan,
        region="us-east-1",
        account="123456789012",
        partition="aws",
        lookup=lambda _key: None,
        roles=roles,
        upstream=Path("identities.sock"),
    )


def key(identity):
    return SigningKey(
        f"ASIA{identity}",
        "secret",
        f"arn:aws:sts::123456789012:assumed-role/{ROLE}/CognitoIdentityCredentials",
        identity_id=f"us-east-1:{identity}",
    )


def test_a_roles_statements_are_parsed_once_for_every_identity():
    web = door({ROLE: [ALLOW]})
    first = web._principal(key("one"), "page-one")
    second = web._principal(key("two"), "page-two")
    assert first.can_connect()
    assert second.can_connect()
    assert second.policies[0] is first.policies[0]  # not parsed again
    assert (first.context.client_id, second.context.client_id) == ("page-one", "page-two")


def test_a_role_whose_statements_cannot_be_parsed_is_refused_every_time():
    web = door({ROLE: [BROKEN]})
    for identity in ("one", "two"):
        with pytest.raises(PolicyDocumentError):
            web._principal(key(identity), f"page-{identity}")
