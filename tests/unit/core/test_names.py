"""AWS IoT's names: the thing name's one check, held to botocore's iot model."""

from __future__ import annotations

import re

import botocore.session
import pytest
from hypothesis import given
from hypothesis import strategies as st

from swan.core.errors import InvalidThingNameError, SwanError
from swan.core.names import MAX_THING_NAME, THING_NAME, THING_NAME_RULE, check_thing_name

GOOD = ["a", "x" * 128, "my-Thing_01:b", "G030JF0553648RUH", "us-east-1:0f1e2d3c"]
BAD = ["", "x" * 129, "has space", "a/b", "$aws", "é", "a\n", "a+b", "a.b", "#", "+"]


@pytest.mark.parametrize("service", ["iot", "iot-data"])
def test_the_shape_is_botocores_thing_name(service):
    shape = botocore.session.get_session().get_service_model(service).shape_for("ThingName")
    assert (shape.metadata["min"], shape.metadata["max"]) == (1, MAX_THING_NAME)
    assert shape.metadata["pattern"] == "[a-zA-Z0-9:_-]+"


@pytest.mark.parametrize("name", GOOD)
def test_aws_thing_names_pass(name):
    assert check_thing_name(name) == name


@pytest.mark.parametrize("name", BAD)
def test_other_names_are_refused_with_the_rule(name):
    with pytest.raises(InvalidThingNameError) as refused:
        check_thing_name(name)
    assert isinstance(refused.value, SwanError)
    assert isinstance(refused.value, ValueError)
    assert (refused.value.thing_name, refused.value.problem) == (name, THING_NAME_RULE)
    assert str(refused.value) == f"invalid thing name {name!r}: {THING_NAME_RULE}"


@given(st.text(max_size=140))
def test_the_check_is_botocores_pattern_and_length(name):
    aws = re.fullmatch(r"[a-zA-Z0-9:_-]+", name, re.ASCII) and 1 <= len(name) <= 128
    assert bool(THING_NAME.fullmatch(name)) == bool(aws)
