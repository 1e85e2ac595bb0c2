"""The MQTT 5 transport's configuration and routing, without a broker (the connection, its
retries, the will and the resubscribing are exercised against the real stack in
tests/integration/test_pi.py)."""

from __future__ import annotations

import logging
from concurrent.futures import Future
from datetime import UTC, datetime

import pytest
from awscrt import mqtt5

from swan.adapters.mqtt import Endpoint, MqttError, reconnect_arguments
from swan.adapters.mqtt5 import Mqtt5Transport, Will, builder_arguments
from swan.certs.files import CertificateStore
from swan.core.backoff import RECONNECT, Backoff


@pytest.fixture
def endpoint(tmp_path):
    store = CertificateStore(tmp_path / "certs")
    store.ensure_ca(now=datetime.now(UTC))
    device = store.ensure_device("pi-one", now=datetime.now(UTC))
    return Endpoint(
        "localhost",
        8883,
        "pi-one",
        ca_file=store.ca_files.certificate,
        cert_file=device.files.certificate,
        key_file=device.files.key,
    )


def test_a_device_connects_as_its_thing_with_backoff_jitter_and_a_will(endpoint):
    arguments = builder_arguments(
        endpoint, will=Will("swan/status/pi-one", b"{}"), backoff=Backoff(0.5, 16)
    )
    assert arguments["client_id"] == "pi-one"
    assert arguments["min_reconnect_delay_ms"] == 500
    assert arguments["max_reconnect_delay_ms"] == 16000
    assert arguments["retry_jitter_mode"] == mqtt5.ExponentialBackoffJitterMode.DECORRELATED
    assert (
        arguments["offline_queue_behavior"]
        == mqtt5.ClientOperationQueueBehaviorType.FAIL_ALL_ON_DISCONNECT
    )
    assert arguments["will"].topic == "swan/status/pi-one"
    assert arguments["will"].qos == mqtt5.QoS.AT_LEAST_ONCE
    assert not arguments["will"].retain
    assert arguments["enable_metrics_collection"] is False
    assert 30 <= arguments["keep_alive_interval_sec"] <= 1200  # what AWS IoT allows


def test_a_device_reconnects_by_the_one_policy_in_awscrts_milliseconds(endpoint):
    arguments = builder_arguments(endpoint, will=None, backoff=RECONNECT)
    assert (arguments["min_reconnect_delay_ms"], arguments["max_reconnect_delay_ms"]) == (
        500,
        32_000,
    )


def test_an_mqtt311_connection_reconnects_by_it_in_whole_seconds_never_shorter():
    assert reconnect_arguments() == {
        "reconnect_min_timeout_secs": 1,
        "reconnect_max_timeout_secs": 32,
    }
    assert reconnect_arguments(Backoff(1.2, 7.5)) == {
        "reconnect_min_timeout_secs": 2,
        "reconnect_max_timeout_secs": 8,
    }


def test_without_a_certificate_there_is_no_mqtt5_device():
    with pytest.raises(MqttError, match="certificate"):
        builder_arguments(Endpoint("h", 1, "x"), will=None, backoff=Backoff())


def test_backoff_delays_must_make_sense():
    with pytest.raises(ValueError, match="backoff"):
        Backoff(first_delay=10, max_delay=1)


def received(topic, payload):
    return mqtt5.PublishReceivedData(mqtt5.PublishPacket(topic=topic, payload=payload))


def test_messages_go_to_the_handlers_whose_filter_matches(endpoint, caplog):
    transport = Mqtt5Transport(endpoint)
    got = []
    transport.subscribe("swan/push/pi-one/+", lambda m: got.append(("replies", m.topic)))
    transport.subscribe("swan/push/pi-one/rejected", lambda _: 1 / 0)
    assert transport.topic_filters == ("swan/push/pi-one/+", "swan/push/pi-one/rejected")
    with caplog.at_level(logging.ERROR):
        transport._received(received("swan/push/pi-one/rejected", b"{}"))
        transport._received(received("elsewhere", b"{}"))
    assert got == [("replies", "swan/push/pi-one/rejected")]
    assert "handler failed" in caplog.text
    transport.unsubscribe("swan/push/pi-one/rejected")
    assert transport.topic_filters == ("swan/push/pi-one/+",)


def test_offline_a_publish_fails_at_once_instead_of_queueing(endpoint):
    transport = Mqtt5Transport(endpoint)
    with pytest.raises(MqttError):
        transport.publish("swan/push/pi-one", b"{}").result(5)


def test_lifecycle_hooks_are_told_and_their_errors_logged(endpoint, caplog):
    told = []
    transport = Mqtt5Transport(
        endpoint,
        on_connected=lambda: told.append("connected"),
        on_disconnected=lambda error: told.append(("gone", error)),
        on_connect_failed=lambda _: 1 / 0,
    )
    transport._connection_success(mqtt5.LifecycleConnectSuccessData())
    assert transport.connected
    transport._disconnection(mqtt5.LifecycleDisconnectData(exception=None))
    assert not transport.connected
    with caplog.at_level(logging.ERROR):
        transport._connection_failure(mqtt5.LifecycleConnectFailureData())
    assert told == ["connected", ("gone", None)]
    assert (transport.connections, transport.failures) == (1, 1)
    assert "hook failed" in caplog.text


def puback(code):
    future = Future()
    future.set_result(mqtt5.PublishCompletionData(mqtt5.PubackPacket(reason_code=code)))
    return future


def test_a_refused_publish_is_an_error_and_nobody_listening_is_not():
    from swan.adapters.mqtt5 import _settle_publish  # noqa: PLC0415

    refused, fine = Future(), Future()
    _settle_publish(refused, puback(mqtt5.PubackReasonCode.NOT_AUTHORIZED))
    _settle_publish(fine, puback(mqtt5.PubackReasonCode.NO_MATCHING_SUBSCRIBERS))
    with pytest.raises(MqttError, match="refused"):
        refused.result()
    assert fine.result() is None


def test_a_refused_subscription_is_an_error():
    from swan.adapters.mqtt5 import _check_suback  # noqa: PLC0415

    suback = mqtt5.SubackPacket(reason_codes=[mqtt5.SubackReasonCode.NOT_AUTHORIZED])
    with pytest.raises(MqttError, match="NOT_AUTHORIZED"):
        _check_suback(suback, ["$aws/things/button/shadow/update"])
