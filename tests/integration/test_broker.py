"""Mosquitto as the project runs it: listeners, logins and who may do what."""

import queue

import pytest
from support import unique

from swan.adapters.mqtt import Endpoint, MqttError, connect
from swan.local.mosquitto import BrokerMissingError, find_mosquitto


def collect(transport, topic_filter):
    received = queue.Queue()
    transport.subscribe(topic_filter, received.put)
    return received


def test_services_talk_over_the_internal_listener(service):
    topic = unique("swan/test/")
    received = collect(service, topic)
    service.publish(topic, b"hello").result(5)
    assert received.get(timeout=5).payload == b"hello"


def test_a_wrong_password_is_refused(broker):
    plan = broker.plan
    with pytest.raises(MqttError, match="connect failed"):
        connect(
            Endpoint.local(plan.internal_socket, unique(), plan.service.username, "x"), timeout=5
        )


def test_a_device_connects_with_its_certificate_and_publishes_its_clicks(identity, service):
    serial = unique("G030").upper()
    received = collect(service, f"iotbutton/{serial}")
    device = connect(identity.provision(serial))
    try:
        device.publish(f"iotbutton/{serial}", b'{"clickType": "SINGLE"}').result(5)
        assert received.get(timeout=5).topic == f"iotbutton/{serial}"
    finally:
        device.close()


def thrown_out_for_publishing(endpoint, topic, payload):
    """AWS IoT Core closes an MQTT 3.1.1 connection that publishes where it may not."""
    interrupted = queue.Queue()
    device = connect(endpoint, on_interrupted=interrupted.put)
    try:
        device.publish(topic, payload, qos=0)
        assert "UNEXPECTED_HANGUP" in str(interrupted.get(timeout=5))
    finally:
        device.close()


def test_a_device_cannot_publish_as_another_device(identity, service):
    me, other = unique("pi"), unique("pi")
    received = collect(service, "swan/push/#")
    thrown_out_for_publishing(identity.provision(me), f"swan/push/{other}", b"{}")
    device = connect(identity.provision(me))
    try:
        device.publish(f"swan/push/{me}", b"{}").result(5)
        assert received.get(timeout=5).topic == f"swan/push/{me}"  # the refused one never came
        assert received.empty()
    finally:
        device.close()


def test_a_device_cannot_write_the_button_shadow(identity, service):
    received = collect(service, "$aws/things/button/shadow/update")
    topic = "$aws/things/button/shadow/update"
    thrown_out_for_publishing(identity.provision(unique("pi")), topic, b'{"state": {}}')
    service.publish(topic, b"from-service").result(5)
    assert received.get(timeout=5).payload == b"from-service"
    assert received.empty()


def test_a_connection_without_a_certificate_is_refused(identity):
    with pytest.raises(MqttError):
        connect(Endpoint("localhost", identity.port, "anon"), timeout=5)


def test_a_missing_broker_binary_names_the_install_command(monkeypatch):
    monkeypatch.setattr("shutil.which", lambda *_args, **_kwargs: None)
    with pytest.raises(BrokerMissingError, match="apt-get install -y mosquitto"):
        find_mosquitto()


def test_a_device_reads_the_button_shadow_documents(identity, service):
    device = connect(identity.provision(unique("pi")))
    try:
        received = collect(device, "$aws/things/button/shadow/update/documents")
        service.publish("$aws/things/button/shadow/update/documents", b"{}").result(5)
        assert received.get(timeout=5).payload == b"{}"
    finally:
        device.close()
