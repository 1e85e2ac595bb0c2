"""The broker-wide lines of every Mosquitto the project runs: a persistent session ends an
hour after its client disconnects, as AWS IoT Core's do by default."""

import pytest

from swan.local.core.broker_limits import PERSISTENT_SESSION_SECONDS
from swan.local.mosquitto import broker_settings, in_hours


def test_a_persistent_session_is_kept_as_long_as_aws_keeps_it():
    assert PERSISTENT_SESSION_SECONDS == 3600
    lines = broker_settings("swan").splitlines()
    assert "persistent_client_expiration 1h" in lines


@pytest.mark.parametrize(("seconds", "duration"), [(3600, "1h"), (7 * 24 * 3600, "168h")])
def test_mosquitto_is_told_the_period_in_hours(seconds, duration):
    assert in_hours(seconds) == duration


@pytest.mark.parametrize("seconds", [0, 60, 5400])
def test_a_period_mosquitto_cannot_say_is_refused(seconds):
    with pytest.raises(ValueError, match="whole hours"):
        in_hours(seconds)
