"""Golden tests: AWS's published shadow examples, and the known bugs of other emulators.

Sources (quoted payloads are compared exactly):
- AWS IoT developer guide, `using-device-shadows.md` (the smart lamp walk-through),
  `device-shadow-data-flow.md` (colour/engine, optimistic locking), `device-shadow-document.md`
  (arrays, delta state with `lights`), archived in awsdocs/aws-iot-docs.
- aws/aws-iot-device-sdk-js-v2 shadow sample README: output captured from the live service.
"""

from __future__ import annotations

import json

from swan.local.core.shadow import (
    DeleteAccepted,
    Rejection,
    ShadowKey,
    StoredShadow,
    UpdateAccepted,
    apply_delete,
    apply_update,
    get_document,
)


def update(current: StoredShadow | None, request: object, now: float) -> UpdateAccepted:
    result = apply_update(current, json.dumps(request).encode(), now=now)
    assert isinstance(result, UpdateAccepted), result
    return result


def full_document(shadow: StoredShadow, now: float, token: str | None = None) -> dict:
    result = get_document(shadow, key=ShadowKey("thing"), now=now, client_token=token)
    assert isinstance(result, dict), result
    return result


def stamps(timestamp: int, count: int) -> list[dict]:
    return [{"timestamp": timestamp}] * count


# ---------------------------------------------------------------- using-device-shadows.md


def test_guide_smart_lamp_walkthrough():
    key = ShadowKey("mySimulatedThing", "simShadow1")
    assert get_document(None, key=key, now=1591140000) == Rejection(
        404, "No shadow exists with name: 'simShadow1'"
    )
    # The guide's shadow was already at version 2 (created empty from the console).
    lamp = update(
        StoredShadow(version=2),
        {
            "state": {"reported": {"ID": "SmartLamp21", "ColorRGB": [128, 128, 128]}},
            "clientToken": "426bfd96-e720-46d3-95cd-014e3ef12bb6",
        },
        now=1591140517,
    ).shadow
    assert get_document(lamp, key=key, now=1591141111) == {
        "state": {"reported": {"ID": "SmartLamp21", "ColorRGB": [128, 128, 128]}},
        "metadata": {
            "reported": {"ID": {"timestamp": 1591140517}, "ColorRGB": stamps(1591140517, 3)}
        },
        "version": 3,
        "timestamp": 1591141111,
    }

    app = update(
        lamp,
        {
            "state": {"desired": {"ColorRGB": [255, 255, 0]}},
            "clientToken": "21b21b21-bfd2-4279-8c65-e2f697ff4fab",
        },
        now=1591141596,
    )
    assert app.accepted == {
        "state": {"desired": {"ColorRGB": [255, 255, 0]}},
        "metadata": {"desired": {"ColorRGB": stamps(1591141596, 3)}},
        "version": 4,
        "timestamp": 1591141596,
        "clientToken": "21b21b21-bfd2-4279-8c65-e2f697ff4fab",
    }
    assert app.delta == {
        "version": 4,
        "timestamp": 1591141596,
        "state": {"ColorRGB": [255, 255, 0]},
        "metadata": {"ColorRGB": stamps(1591141596, 3)},
        "clientToken": "21b21b21-bfd2-4279-8c65-e2f697ff4fab",
    }

    device = update(
        app.shadow,
        {
            "state": {"reported": {"ColorRGB": [255, 255, 0]}},
            "clientToken": "a4dc2227-9213-4c6a-a6a5-053304f60258",
        },
        now=1591142747,
    )
    assert device.accepted == {
        "state": {"reported": {"ColorRGB": [255, 255, 0]}},
        "metadata": {"reported": {"ColorRGB": stamps(1591142747, 3)}},
        "version": 5,
        "timestamp": 1591142747,
        "clientToken": "a4dc2227-9213-4c6a-a6a5-053304f60258",
    }
    assert device.delta is None
    desired_metadata = {"ColorRGB": stamps(1591141596, 3)}
    assert device.documents == {
        "previous": {
            "state": {
                "desired": {"ColorRGB": [255, 255, 0]},
                "reported": {"ID": "SmartLamp21", "ColorRGB": [128, 128, 128]},
            },
            "metadata": {
                "desired": desired_metadata,
                "reported": {"ID": {"timestamp": 1591140517}, "ColorRGB": stamps(1591140517, 3)},
            },
            "version": 4,
        },
        "current": {
            "state": {
                "desired": {"ColorRGB": [255, 255, 0]},
                "reported": {"ID": "SmartLamp21", "ColorRGB": [255, 255, 0]},
            },
            "metadata": {
                "desired": desired_metadata,
                "reported": {"ID": {"timestamp": 1591140517}, "ColorRGB": stamps(1591142747, 3)},
            },
            "version": 5,
        },
        "timestamp": 1591142747,
        "clientToken": "a4dc2227-9213-4c6a-a6a5-053304f60258",
    }
    assert get_document(device.shadow, key=key, now=1591143269) == {
        "state": {
            "desired": {"ColorRGB": [255, 255, 0]},
            "reported": {"ID": "SmartLamp21", "ColorRGB": [255, 255, 0]},
        },
        "metadata": {
            "desired": desired_metadata,
            "reported": {"ID": {"timestamp": 1591140517}, "ColorRGB": stamps(1591142747, 3)},
        },
        "version": 5,
        "timestamp": 1591143269,
    }


# ---------------------------------------------------------------- device-shadow-data-flow.md


def test_guide_client_requests_a_state_change_and_device_reports_it():
    initial = update(None, {"state": {"reported": {"color": {"r": 255, "g": 255, "b": 0}}}}, 1)
    app = update(initial.shadow, {"state": {"desired": {"color": {"r": 10}, "engine": "ON"}}}, 2)
    assert app.delta is not None
    assert app.delta["state"] == {"color": {"r": 10}, "engine": "ON"}
    device = update(app.shadow, {"state": {"reported": {"color": {"r": 10}, "engine": "ON"}}}, 3)
    assert device.delta is None
    assert device.shadow.reported == {"color": {"r": 10, "g": 255, "b": 0}, "engine": "ON"}


def test_guide_deleting_a_property():
    shadow = update(None, {"state": {"desired": {"engine": "ON", "color": "red"}}}, 1).shadow
    result = update(shadow, {"state": {"desired": {"engine": None}}}, 2)
    assert result.shadow.desired == {"color": "red"}


def test_guide_optimistic_locking():
    initial = StoredShadow(
        desired={"colors": ["RED", "GREEN", "BLUE"]},
        desired_metadata={"colors": stamps(1, 3)},
        version=10,
    )
    token = "426bfd96-e720-46d3-95cd-014e3ef12bb6"
    stale = {"state": {"desired": {"colors": ["BLUE"]}}, "version": 9, "clientToken": token}
    rejected = apply_update(initial, json.dumps(stale).encode(), now=2)
    assert isinstance(rejected, Rejection)
    assert {"code": 409, "message": "Version conflict", "clientToken": token}.items() <= (
        rejected.to_payload(2).items()
    )
    accepted = update(initial, {"state": {"desired": {"colors": ["BLUE"]}}, "version": 10}, 3)
    assert (accepted.shadow.desired, accepted.shadow.version) == ({"colors": ["BLUE"]}, 11)


# ---------------------------------------------------------------- device-shadow-document.md


def test_guide_arrays_replace_whole_and_reject_null():
    shadow = update(None, {"state": {"desired": {"colors": ["RED", "GREEN", "BLUE"]}}}, 1).shadow
    assert update(shadow, {"state": {"desired": {"colors": ["RED"]}}}, 2).shadow.desired == {
        "colors": ["RED"]
    }
    invalid = {"state": {"desired": {"colors": [None, "RED", "GREEN"]}}}
    assert isinstance(apply_update(shadow, json.dumps(invalid).encode(), now=2), Rejection)


def test_guide_delta_state():
    shadow = update(
        None,
        {
            "state": {
                "desired": {"color": "RED", "state": "STOP"},
                "reported": {"color": "GREEN", "engine": "ON"},
            }
        },
        12345,
    ).shadow
    document = full_document(shadow, 12345)
    assert document["state"]["delta"] == {"color": "RED", "state": "STOP"}


def test_guide_nested_delta_keeps_the_path_to_the_leaf():
    shadow = update(
        None,
        {
            "state": {
                "desired": {"lights": {"color": {"r": 255, "g": 255, "b": 255}}},
                "reported": {"lights": {"color": {"r": 255, "g": 0, "b": 255}}},
            }
        },
        1,
    ).shadow
    assert full_document(shadow, 1)["state"]["delta"] == {"lights": {"color": {"g": 255}}}


def test_guide_lights_and_engine_delta():
    shadow = update(
        None,
        {
            "state": {
                "desired": {"lights": {"color": "RED"}, "engine": "ON"},
                "reported": {"lights": {"color": "GREEN"}, "engine": "ON"},
            }
        },
        1,
    ).shadow
    assert full_document(shadow, 1)["state"]["delta"] == {"lights": {"color": "RED"}}


def test_guide_empty_sections():
    reported_only = update(None, {"state": {"reported": {"temp": 55}}}, 1).shadow
    assert full_document(reported_only, 1)["state"] == {"reported": {"temp": 55}}
    cleared = update(
        update(None, {"state": {"desired": {"color": "RED"}}}, 1).shadow,
        {"state": {"reported": {"color": "red"}, "desired": None}},
        2,
    ).shadow
    assert full_document(cleared, 2)["state"] == {"reported": {"color": "red"}}


# ---------------------------------------------------------------- js-v2 sample (live)


def test_sdk_sample_first_update_creates_version_1_with_previous_null():
    token = "2e073dae-7c50-458f-a495-c16fae14a406"
    result = update(
        None, {"state": {"reported": {"Color": "green"}}, "clientToken": token}, 1719853620
    )
    assert result.accepted == {
        "state": {"reported": {"Color": "green"}},
        "metadata": {"reported": {"Color": {"timestamp": 1719853620}}},
        "version": 1,
        "timestamp": 1719853620,
        "clientToken": token,
    }
    assert result.documents == {
        "previous": None,
        "current": {
            "state": {"reported": {"Color": "green"}},
            "metadata": {"reported": {"Color": {"timestamp": 1719853620}}},
            "version": 1,
        },
        "timestamp": 1719853620,
        "clientToken": token,
    }


SAMPLE_AT_VERSION_8 = StoredShadow(
    desired={"Color": "red", "Status": "Great"},
    reported={"Color": "red", "Status": "Great"},
    desired_metadata={"Color": {"timestamp": 1719855498}, "Status": {"timestamp": 1719856710}},
    reported_metadata={"Color": {"timestamp": 1719856038}, "Status": {"timestamp": 1719856694}},
    version=8,
)


def test_sdk_sample_get_with_client_token():
    token = "e6e3123c-5526-404f-8006-a8cc44da0f23"
    assert full_document(SAMPLE_AT_VERSION_8, 1719856723, token) == {
        "state": {
            "desired": {"Color": "red", "Status": "Great"},
            "reported": {"Color": "red", "Status": "Great"},
        },
        "metadata": {
            "desired": {"Color": {"timestamp": 1719855498}, "Status": {"timestamp": 1719856710}},
            "reported": {"Color": {"timestamp": 1719856038}, "Status": {"timestamp": 1719856694}},
        },
        "version": 8,
        "timestamp": 1719856723,
        "clientToken": token,
    }


def test_sdk_sample_reported_change_publishes_delta_with_desired_metadata():
    token = "05ed8956-4958-4fcc-bdd8-e454182c3a45"
    result = update(
        SAMPLE_AT_VERSION_8,
        {"state": {"reported": {"Status": "Awful"}}, "clientToken": token},
        1719857563,
    )
    assert result.accepted == {
        "state": {"reported": {"Status": "Awful"}},
        "metadata": {"reported": {"Status": {"timestamp": 1719857563}}},
        "version": 9,
        "timestamp": 1719857563,
        "clientToken": token,
    }
    assert result.delta == {
        "version": 9,
        "timestamp": 1719857563,
        "state": {"Status": "Great"},
        "metadata": {"Status": {"timestamp": 1719856710}},
        "clientToken": token,
    }
    assert result.documents["current"] == {
        "state": {
            "desired": {"Color": "red", "Status": "Great"},
            "reported": {"Color": "red", "Status": "Awful"},
        },
        "metadata": {
            "desired": {"Color": {"timestamp": 1719855498}, "Status": {"timestamp": 1719856710}},
            "reported": {"Color": {"timestamp": 1719856038}, "Status": {"timestamp": 1719857563}},
        },
        "version": 9,
    }


def test_sdk_sample_delete_and_classic_404():
    token = "14e3c6d4-8544-4828-8e51-4abeb9058206"
    at_13 = StoredShadow(
        reported={"Color": "red"}, reported_metadata={"Color": {"timestamp": 1}}, version=13
    )
    key = ShadowKey("YourThingName")
    deleted = apply_delete(at_13, key=key, now=1719858420, client_token=token)
    assert isinstance(deleted, DeleteAccepted)
    assert deleted.accepted == {"version": 13, "timestamp": 1719858420, "clientToken": token}
    missing = get_document(deleted.shadow, key=key, now=1719858421)
    assert isinstance(missing, Rejection)
    assert missing.to_payload(1719858421) == {
        "code": 404,
        "message": "No shadow exists with name: 'YourThingName'",
        "timestamp": 1719858421,
    }


# ---------------------------------------------------------------- other emulators' bugs


def test_moto_7695_delta_holds_desired_values_not_reported():
    shadow = update(
        None, {"state": {"reported": {"online": False}, "desired": {"online": True}}}, 1
    ).shadow
    assert full_document(shadow, 1)["state"] == {
        "desired": {"online": True},
        "reported": {"online": False},
        "delta": {"online": True},
    }


def test_moto_7695_delta_ignores_reported_only_keys():
    shadow = update(
        None, {"state": {"reported": {"online": True, "temp": 20}, "desired": {"mode": "eco"}}}, 1
    ).shadow
    assert full_document(shadow, 1)["state"]["delta"] == {"mode": "eco"}
    reported_only = update(None, {"state": {"reported": {"online": True}}}, 1).shadow
    assert "delta" not in full_document(reported_only, 1)["state"]


def test_moto_7695_nulls_are_not_stored():
    shadow = update(
        None, {"state": {"desired": {"new": None, "kept": 1, "obj": {"x": None}}}}, 1
    ).shadow
    assert shadow.desired == {"kept": 1}
    assert shadow.desired_metadata == {"kept": {"timestamp": 1}}
    assert "null" not in json.dumps(shadow.to_json())


def test_moto_8331_complex_nested_delta():
    shadow = update(
        None,
        {
            "state": {
                "desired": {
                    "a": {"b": {"c": 1, "d": [1, 2]}, "e": "same", "f": {"g": True}},
                    "h": {"i": 1},
                },
                "reported": {
                    "a": {"b": {"c": 2, "d": [1, 3], "x": 9}, "e": "same", "f": "scalar"},
                    "h": {"i": 1, "j": 2},
                    "z": 0,
                },
            }
        },
        1,
    ).shadow
    assert full_document(shadow, 1)["state"]["delta"] == {
        "a": {"b": {"c": 1, "d": [1, 2]}, "f": {"g": True}}
    }


def test_moto_8342_nested_delta_shrinks_as_reported_catches_up():
    shadow = update(None, {"state": {"desired": {"a": {"b": 1, "c": {"d": 2, "e": 3}}}}}, 1).shadow
    caught_up = update(shadow, {"state": {"reported": {"a": {"b": 1, "c": {"d": 2}}}}}, 2)
    assert caught_up.delta is not None
    assert caught_up.delta["state"] == {"a": {"c": {"e": 3}}}
    assert caught_up.delta["metadata"] == {"a": {"c": {"e": {"timestamp": 1}}}}
    done = update(caught_up.shadow, {"state": {"reported": {"a": {"c": {"e": 3}}}}}, 3)
    assert done.delta is None


def test_localstack_7004_delta_published_for_a_desired_update():
    result = update(None, {"state": {"desired": {"color": "RED"}}}, 1)
    assert result.delta is not None
    assert result.delta["state"] == {"color": "RED"}


def test_localstack_7004_delta_published_for_an_update_that_only_touched_reported():
    shadow = update(None, {"state": {"desired": {"color": "RED"}, "reported": {"color": "RED"}}}, 1)
    assert shadow.delta is None
    drifted = update(shadow.shadow, {"state": {"reported": {"color": "BLUE"}}}, 2)
    assert drifted.delta is not None
    assert drifted.delta["state"] == {"color": "RED"}
    unrelated = update(drifted.shadow, {"state": {"reported": {"battery": 80}}}, 3)
    assert unrelated.delta is not None
    assert unrelated.delta["state"] == {"color": "RED"}
