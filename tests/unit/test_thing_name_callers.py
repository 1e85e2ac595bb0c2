"""Every caller that takes a thing name refuses what AWS IoT refuses, with the one rule
(swan.core.names.check_thing_name), each in its own words: the registry, a topic, a shadow
key, a device's certificate, the Pi's settings and the CLI."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from swan.adapters.clock import FakeClock
from swan.certs.authority import create_ca, issue_device
from swan.certs.folder import MAX_COMMON_NAME
from swan.cli import main
from swan.commands.device_endpoint import ConnectOptions, resolve
from swan.core.errors import InvalidThingNameError, InvalidTopicError
from swan.core.names import THING_NAME_RULE
from swan.core.topics import ShadowTopics, push_topic
from swan.local.core.shadow import InvalidShadowKeyError, ShadowKey
from swan.local.registry import Registry
from swan.local.registry_errors import InvalidValueError

BAD = ["", "x" * 129, "has space", "a/b", "é"]
NOW = datetime(2025, 11, 25, tzinfo=UTC)
CA = create_ca(now=NOW)


@pytest.fixture
def registry(tmp_path):
    with Registry(tmp_path / "registry.db", FakeClock()) as opened:
        yield opened


@pytest.mark.parametrize("name", BAD)
def test_each_caller_refuses_a_bad_thing_name_with_the_one_rule(name, registry, tmp_path):
    refusals = []
    with pytest.raises(InvalidValueError) as registry_refused:
        registry.create_thing(name)
    refusals.append(registry_refused.value)
    with pytest.raises(InvalidTopicError) as topic_refused:
        ShadowTopics(name)
    refusals.append(topic_refused.value)
    with pytest.raises(InvalidShadowKeyError) as key_refused:
        ShadowKey(name)
    refusals.append(key_refused.value)
    with pytest.raises(InvalidThingNameError) as certificate_refused:
        issue_device(CA, name, now=NOW)
    refusals.append(certificate_refused.value)
    if name:  # no name at all is the Pi's default name (pi-<hostname>)
        with pytest.raises(InvalidThingNameError) as settings_refused:
            resolve(ConnectOptions(thing=name), {}, tmp_path, tmp_path / "certs")
        refusals.append(settings_refused.value)
    assert all(THING_NAME_RULE in str(refusal) for refusal in refusals), refusals


@pytest.mark.parametrize("name", ["x" * 64, "x" * 128, "pi-kitchen"])
def test_each_caller_takes_what_aws_takes(name, registry):
    assert registry.create_thing(name).name == name
    assert ShadowTopics(name).update == f"$aws/things/{name}/shadow/update"
    assert ShadowKey(name).thing == name
    assert push_topic(name).endswith(name)


def test_a_certificate_adds_its_common_names_limit():
    assert issue_device(CA, "x" * MAX_COMMON_NAME, now=NOW)
    with pytest.raises(InvalidThingNameError, match="common name holds at most 64"):
        issue_device(CA, "x" * (MAX_COMMON_NAME + 1), now=NOW)


def test_the_cli_refuses_a_bad_thing_name_before_asking(capsys, tmp_path):
    assert main(["--state-dir", str(tmp_path), "shadow", "get", "pi kitchen"]) == 2
    assert capsys.readouterr().err == f"swan: invalid thing name 'pi kitchen': {THING_NAME_RULE}\n"
