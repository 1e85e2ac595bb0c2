"""Port numbers: one parser for every port a user names, one error naming the setting."""

from __future__ import annotations

import argparse

import pytest
from hypothesis import given
from hypothesis import strategies as st

from swan.core.errors import InvalidSettingError
from swan.core.port_numbers import MAX_PORT, check_port, parse_port, port_argument


@pytest.mark.parametrize(("raw", "port"), [("1", 1), ("8883", 8883), ("65535", 65535)])
def test_a_port_is_a_whole_number_up_to_65535(raw, port):
    assert parse_port("SWAN_DEVICE_PORT", raw) == port
    assert parse_port("SWAN_DEVICE_PORT", raw, any_port=True) == port


def test_zero_is_any_free_port_where_a_listener_takes_one():
    assert parse_port("SWAN_IOT_PORT", "0", any_port=True) == 0
    with pytest.raises(InvalidSettingError, match="1-65535"):
        parse_port("SWAN_DEVICE_PORT", "0")


@pytest.mark.parametrize("raw", ["", "x", "-1", "65536", "80.0", " 80", "٣", "0x50"])
@pytest.mark.parametrize("any_port", [True, False])
def test_anything_else_is_refused_naming_the_setting(raw, any_port):
    with pytest.raises(InvalidSettingError) as refused:
        parse_port("SWAN_WEB_PORT", raw, any_port=any_port)
    assert refused.value.name == "SWAN_WEB_PORT"
    assert refused.value.problem.startswith("must be a port number")
    assert ("0 = any free port" in refused.value.problem) is any_port


@given(st.integers(min_value=-(2**20), max_value=2**20), st.booleans())
def test_checking_a_number_is_parsing_its_digits(port, any_port):
    lowest = 0 if any_port else 1
    if lowest <= port <= MAX_PORT:
        assert check_port("--port", port, any_port=any_port) == port
        assert parse_port("--port", str(port), any_port=any_port) == port
    else:
        with pytest.raises(InvalidSettingError):
            check_port("--port", port, any_port=any_port)


def test_an_option_takes_a_port_and_refuses_anything_else_in_the_rules_words():
    parser = argparse.ArgumentParser(prog="swan-test", exit_on_error=False)
    parser.add_argument("--port", type=port_argument("--port"))
    parser.add_argument("--http-port", type=port_argument("--http-port", any_port=True))
    assert parser.parse_args(["--port", "8883", "--http-port", "0"]).http_port == 0
    with pytest.raises(argparse.ArgumentError, match="must be a port number, 1-65535"):
        parser.parse_args(["--port", "70000"])
    with pytest.raises(argparse.ArgumentError, match="0 = any free port"):
        parser.parse_args(["--http-port", "x"])
