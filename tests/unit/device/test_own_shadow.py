"""The Pi's own shadow documents and its status topic (the last will), and that the
template's DevicePolicy lets a Pi say only its own status."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from device import own_shadow
from device.lights import Lights
from swan.core.countdown import Push
from swan.core.errors import InvalidTopicError
from swan.local.core.policy import PolicyContext, Principal
from swan.local.stack import local_deployment

TEMPLATE = Path(__file__).parents[3] / "sam" / "template.yaml"


def test_the_reported_section_says_everything_the_pi_knows():
    push = Push(at=10.0, by="web", source="web")
    section = own_shadow.reported(
        online=True, firmware="1.2.3", display="sensehat", lights=Lights(0.8), last_push=push
    )
    assert section == {
        "online": True,
        "firmware": "1.2.3",
        "display": "sensehat",
        "brightness": 0.8,
        "lowLight": False,
        "lastPushSeen": {"at": 10.0, "by": "web", "source": "web", "clickType": "SINGLE"},
    }


def test_requests_carry_a_client_token():
    update = json.loads(own_shadow.update_request({"online": False}, "tok"))
    assert update == {"state": {"reported": {"online": False}}, "clientToken": "tok"}
    assert json.loads(own_shadow.get_request("tok")) == {"clientToken": "tok"}


def test_the_last_will_is_a_shadow_update_document_on_a_topic_that_is_not_reserved():
    assert own_shadow.status_topic("pi-kitchen") == "swan/status/pi-kitchen"
    assert not own_shadow.status_topic("pi-kitchen").startswith("$")
    payload = json.loads(own_shadow.status_payload(online=False))
    assert payload == {"state": {"reported": {"online": False}}}
    with pytest.raises(InvalidTopicError):
        own_shadow.status_topic("pi/kitchen")


def test_the_device_policy_lets_a_pi_say_only_its_own_status():
    deployment = local_deployment(TEMPLATE)[1]
    policy = deployment.policies["DevicePolicy"].document
    context = deployment.context
    pi = Principal.of(
        [policy],
        PolicyContext("pi-kitchen", "pi-kitchen", context.region, context.account_id),
    )
    assert pi.can_publish("swan/status/pi-kitchen")
    assert not pi.can_publish("swan/status/pi-hall")
    assert not pi.can_publish("$aws/things/button/shadow/update")  # still nobody
