"""The AWS Device Shadow rules: requests, rejections, merge, metadata, delta, get, delete."""

from __future__ import annotations

import json

import pytest

from swan.core.errors import InvalidPayloadError, SwanError
from swan.local.core.shadow import (
    MAX_MESSAGE_BYTES,
    DeleteAccepted,
    InvalidShadowKeyError,
    Rejection,
    ShadowKey,
    ShadowRejectedError,
    StoredShadow,
    UpdateAccepted,
    apply_delete,
    apply_update,
    get_document,
    parse_request_token,
)
from swan.local.core.shadow_errors import FORBIDDEN, INTERNAL_FAILURE, THROTTLED, UNAUTHORIZED

NOW = 1_700_000_000.75
T = 1_700_000_000
KEY = ShadowKey("lamp")


def encode(request: object) -> bytes:
    return json.dumps(request).encode()


def accept(current: StoredShadow | None, request: object, now: float = NOW) -> UpdateAccepted:
    result = apply_update(current, encode(request), now=now)
    assert isinstance(result, UpdateAccepted), result
    return result


def reject(current: StoredShadow | None, payload: bytes) -> Rejection:
    result = apply_update(current, payload, now=NOW)
    assert isinstance(result, Rejection), result
    return result


def shadow_with(**sections: object) -> StoredShadow:
    """A live shadow holding `sections`, built through the real update path."""
    return accept(None, {"state": sections}).shadow


def document(shadow: StoredShadow, now: float = NOW, token: str | None = None) -> dict:
    result = get_document(shadow, key=KEY, now=now, client_token=token)
    assert isinstance(result, dict), result
    return result


# ---------------------------------------------------------------------------- 415 / 413 / 400


def test_415_not_utf8():
    rejection = reject(None, b'{"state": {"reported": {"x": "\xff"}}}')
    assert (rejection.code, rejection.message) == (
        415,
        "Unsupported documented encoding; supported encoding is UTF-8",
    )
    assert rejection.error_type == "UnsupportedDocumentEncodingException"


def test_413_payload_over_the_message_limit():
    padding = "x" * MAX_MESSAGE_BYTES
    rejection = reject(None, encode({"state": {"reported": {"x": padding}}}))
    assert (rejection.code, rejection.message) == (
        413,
        "The payload exceeds the maximum size allowed",
    )
    assert rejection.error_type == "RequestEntityTooLargeException"


def test_413_size_is_checked_before_encoding():
    assert reject(None, b"\xff" * (MAX_MESSAGE_BYTES + 1)).code == 413


def test_payload_exactly_at_the_message_limit_is_read():
    payload = b'{"state": {}}'.ljust(MAX_MESSAGE_BYTES)
    assert isinstance(apply_update(None, payload, now=NOW), UpdateAccepted)


@pytest.mark.parametrize(
    "payload",
    [b"", b"   ", b"{", b"not json", b'{"state": {}} trailing', b"[]", b'"state"', b"null", b"1"],
)
def test_400_invalid_json(payload):
    rejection = reject(None, payload)
    assert (rejection.code, rejection.message, rejection.client_token) == (
        400,
        "Invalid JSON",
        None,
    )
    assert rejection.error_type == "InvalidRequestException"


@pytest.mark.parametrize("constant", [b"NaN", b"Infinity", b"-Infinity"])
def test_400_invalid_json_for_non_json_numbers(constant):
    assert reject(None, b'{"state": {"reported": {"x": ' + constant + b"}}}").message == (
        "Invalid JSON"
    )


def test_400_invalid_json_for_an_integer_too_long_to_read():
    assert reject(None, b'{"state": {"reported": {"x": ' + b"9" * 5000 + b"}}}").message == (
        "Invalid JSON"
    )


def test_400_too_deep_when_deeper_than_the_parser_goes():
    payload = b'{"state": {"reported": {"x": ' + b"[" * 60_000 + b"]" * 60_000 + b"}}}"
    assert reject(None, payload).message == (
        "JSON contains too many levels of nesting; maximum is 6"
    )


@pytest.mark.parametrize("token", [42, None, True, ["t"], {"t": 1}, "x" * 65, "é" * 33])
def test_400_invalid_client_token(token):
    rejection = reject(None, encode({"state": {}, "clientToken": token}))
    assert (rejection.code, rejection.message) == (400, "Invalid clientToken")
    assert rejection.client_token is None


def test_client_token_of_64_bytes_is_valid_and_echoed():
    token = "é" * 32  # 64 bytes in UTF-8
    result = accept(None, {"state": {"desired": {"a": 1}}, "clientToken": token})
    assert result.accepted["clientToken"] == token
    assert result.documents["clientToken"] == token
    assert result.delta is not None
    assert result.delta["clientToken"] == token


def test_no_client_token_key_when_none_was_sent():
    result = accept(None, {"state": {"desired": {"a": 1}}})
    assert "clientToken" not in result.accepted
    assert "clientToken" not in result.documents
    assert result.delta is not None
    assert "clientToken" not in result.delta


@pytest.mark.parametrize("version", [-1, 3.0, 1.5, True, False, "3", None, [3], {"v": 3}])
def test_400_invalid_version(version):
    rejection = reject(None, encode({"state": {}, "version": version, "clientToken": "c"}))
    assert (rejection.code, rejection.message, rejection.client_token) == (
        400,
        "Invalid version",
        "c",
    )


def test_400_missing_state():
    rejection = reject(None, encode({"clientToken": "c"}))
    assert (rejection.code, rejection.message, rejection.client_token) == (
        400,
        "Missing required node: state",
        "c",
    )


@pytest.mark.parametrize("state", [1, "desired", [], [{"desired": {}}], True])
def test_400_state_not_an_object(state):
    assert reject(None, encode({"state": state})).message == "State node must be an object"


@pytest.mark.parametrize("node", ["delta", "metadata", "Desired", "foo"])
def test_400_state_contains_an_invalid_node(node):
    rejection = reject(None, encode({"state": {"desired": {"a": 1}, node: {}}}))
    assert (rejection.code, rejection.message) == (400, "State contains an invalid node")


@pytest.mark.parametrize("value", [1, "on", [1], True])
def test_400_desired_not_an_object(value):
    assert reject(None, encode({"state": {"desired": value}})).message == (
        "Desired node must be an object"
    )


@pytest.mark.parametrize("value", [1, "on", [1], False])
def test_400_reported_not_an_object(value):
    assert reject(None, encode({"state": {"reported": value}})).message == (
        "Reported node must be an object"
    )


def nested(levels: int) -> dict:
    """A section with exactly `levels` levels: the section object itself is level 1."""
    value = {"leaf": 1}
    for _ in range(levels - 1):
        value = {"n": value}
    return value


@pytest.mark.parametrize("section", ["desired", "reported"])
def test_400_nesting_of_7_levels_is_rejected_and_6_accepted(section):
    assert isinstance(
        apply_update(None, encode({"state": {section: nested(6)}}), now=NOW), UpdateAccepted
    )
    rejection = reject(None, encode({"state": {section: nested(7)}, "clientToken": "c"}))
    assert (rejection.code, rejection.message, rejection.client_token) == (
        400,
        "JSON contains too many levels of nesting; maximum is 6",
        "c",
    )


def test_arrays_count_as_nesting_levels():
    five_objects_and_an_array = {"a": {"b": {"c": {"d": {"e": [1]}}}}}
    assert accept(None, {"state": {"reported": five_objects_and_an_array}})
    assert (
        reject(None, encode({"state": {"reported": {"a": five_objects_and_an_array}}})).code == 400
    )


@pytest.mark.parametrize(
    "value", [[None], ["RED", None], [[1, None]], [{"a": None}], {"deep": [1, [None]]}]
)
def test_400_arrays_must_not_contain_null(value):
    rejection = reject(None, encode({"state": {"desired": {"colors": value}}}))
    assert (rejection.code, rejection.message) == (400, "Invalid JSON")


def test_version_is_checked_before_state():
    assert reject(None, encode({"version": "1"})).message == "Invalid version"


def test_first_rejection_wins_when_a_request_is_wrong_twice():
    assert reject(None, encode({"state": {"delta": {}, "desired": 1}})).message == (
        "State contains an invalid node"
    )


# ---------------------------------------------------------------------------- 409


def test_409_version_conflict():
    shadow = shadow_with(desired={"a": 1})  # version 1
    rejection = reject(
        shadow, encode({"state": {"desired": {"a": 2}}, "version": 0, "clientToken": "c"})
    )
    assert (rejection.code, rejection.message, rejection.client_token) == (
        409,
        "Version conflict",
        "c",
    )
    assert rejection.error_type == "ConflictException"


def test_409_for_a_new_shadow_unless_version_is_0():
    assert reject(None, encode({"state": {}, "version": 1})).code == 409
    assert accept(None, {"state": {}, "version": 0}).shadow.version == 1


def test_409_after_delete_the_current_version_is_the_deleted_one():
    shadow = accept(shadow_with(reported={"a": 1}), {"state": {"reported": {"a": 2}}}).shadow
    deleted = apply_delete(shadow, key=KEY, now=NOW)
    assert isinstance(deleted, DeleteAccepted)
    assert reject(deleted.shadow, encode({"state": {}, "version": 0})).code == 409
    assert accept(deleted.shadow, {"state": {}, "version": 2}).shadow.version == 3


def test_matching_version_is_accepted():
    shadow = shadow_with(desired={"a": 1})
    assert accept(shadow, {"state": {"desired": {"a": 2}}, "version": 1}).shadow.version == 2


# ---------------------------------------------------------------------------- 413 merged size


def test_413_merged_document_too_large_from_tiny_request():
    shadow = shadow_with(reported={"big": "x" * 8000})
    request = {"state": {"desired": {"more": "y" * 200}}, "clientToken": "c"}
    assert len(encode(request)) < 300
    rejection = reject(shadow, encode(request))
    assert (rejection.code, rejection.message, rejection.client_token) == (
        413,
        "The payload exceeds the maximum size allowed",
        "c",
    )


def test_state_of_exactly_8192_bytes_is_accepted_and_one_more_rejected():
    overhead = len('{"k":""}')
    assert accept(None, {"state": {"reported": {"k": "x" * (8192 - overhead)}}})
    assert reject(None, encode({"state": {"reported": {"k": "x" * (8193 - overhead)}}})).code == 413


def test_size_counts_desired_plus_reported_in_utf8():
    half = '{"k":""}'
    text = "é" * ((4096 - len(half)) // 2)  # two bytes each
    assert accept(None, {"state": {"desired": {"k": text}, "reported": {"k": text}}})
    assert (
        reject(
            None, encode({"state": {"desired": {"k": text + "é"}, "reported": {"k": text}}})
        ).code
        == 413
    )


def test_metadata_does_not_count_toward_the_size():
    # 1000 leaves: just under 8 KB of state, and far more than that of metadata timestamps.
    leaves = {f"{i:03}": 1 for i in range(1000)}
    result = accept(None, {"state": {"reported": {"a": leaves}}})
    assert len(json.dumps(result.shadow.to_json()["metadata"])) > 8192


# ---------------------------------------------------------------------------- merge


def test_first_update_creates_version_1():
    result = accept(None, {"state": {"reported": {"a": 1}}})
    assert result.shadow == StoredShadow(
        reported={"a": 1}, reported_metadata={"a": {"timestamp": T}}, version=1
    )


def test_update_is_a_deep_merge():
    shadow = shadow_with(reported={"a": 1, "b": {"c": 2, "d": 3}})
    merged = accept(shadow, {"state": {"reported": {"b": {"c": 20, "e": 5}, "f": 6}}}).shadow
    assert merged.reported == {"a": 1, "b": {"c": 20, "d": 3, "e": 5}, "f": 6}


def test_null_deletes_a_key_and_its_metadata():
    shadow = shadow_with(desired={"a": 1, "b": {"c": 2, "d": 3}})
    merged = accept(shadow, {"state": {"desired": {"a": None, "b": {"c": None}}}}).shadow
    assert merged.desired == {"b": {"d": 3}}
    assert merged.desired_metadata == {"b": {"d": {"timestamp": T}}}


def test_deleting_a_missing_key_is_harmless():
    shadow = shadow_with(desired={"a": 1})
    assert accept(shadow, {"state": {"desired": {"zz": None}}}).shadow.desired == {"a": 1}


def test_arrays_are_replaced_whole():
    shadow = shadow_with(desired={"colors": ["RED", "GREEN", "BLUE"]})
    merged = accept(shadow, {"state": {"desired": {"colors": ["RED"]}}}).shadow
    assert merged.desired == {"colors": ["RED"]}
    assert merged.desired_metadata == {"colors": [{"timestamp": T}]}


def test_an_object_replaces_a_scalar_and_a_scalar_replaces_an_object():
    shadow = shadow_with(reported={"a": 1, "b": {"c": 1}})
    merged = accept(shadow, {"state": {"reported": {"a": {"x": 1}, "b": 2}}}).shadow
    assert merged.reported == {"a": {"x": 1}, "b": 2}
    assert merged.reported_metadata == {"a": {"x": {"timestamp": T}}, "b": {"timestamp": T}}


def test_an_object_emptied_by_deletions_stays_as_empty_object():
    shadow = shadow_with(desired={"a": {"b": 1}, "keep": 1})
    merged = accept(shadow, {"state": {"desired": {"a": {"b": None}}}}).shadow
    assert merged.desired == {"a": {}, "keep": 1}
    assert merged.desired_metadata == {"a": {}, "keep": {"timestamp": T}}


def test_a_section_emptied_by_deletions_stays_as_empty_object():
    shadow = shadow_with(desired={"a": 1})
    assert accept(shadow, {"state": {"desired": {"a": None}}}).shadow.desired == {}


def test_deletions_only_where_nothing_exists_create_nothing():
    shadow = shadow_with(reported={"s": 1})
    merged = accept(
        shadow,
        {"state": {"desired": {"x": None}, "reported": {"n": {"a": None}, "s": {"b": None}}}},
    ).shadow
    assert merged.desired is None
    assert merged.reported == {"s": 1}


def test_explicit_empty_object_is_stored():
    merged = accept(None, {"state": {"desired": {}, "reported": {"a": {}}}}).shadow
    assert (merged.desired, merged.reported) == ({}, {"a": {}})
    assert (merged.desired_metadata, merged.reported_metadata) == ({}, {"a": {}})


def test_null_section_deletes_the_whole_section():
    shadow = shadow_with(desired={"a": 1}, reported={"a": 2})
    merged = accept(shadow, {"state": {"desired": None}}).shadow
    assert merged.desired is None
    assert merged.desired_metadata is None
    assert merged.reported == {"a": 2}


def test_null_state_clears_both_sections_but_the_shadow_persists():
    shadow = shadow_with(desired={"a": 1}, reported={"a": 2})  # version 1
    result = accept(shadow, {"state": None, "clientToken": "c"})
    assert result.shadow == StoredShadow(version=2)
    assert document(result.shadow)["state"] == {}


def test_empty_state_is_an_update_that_changes_nothing_but_the_version():
    shadow = shadow_with(desired={"a": 1})
    result = accept(shadow, {"state": {}})
    assert (result.shadow.desired, result.shadow.version) == ({"a": 1}, 2)


def test_other_top_level_fields_are_ignored():
    result = accept(None, {"state": {"reported": {"a": 1}}, "metadata": {"x": 1}, "timestamp": 5})
    assert result.shadow.reported == {"a": 1}


def test_untouched_keys_keep_their_timestamps():
    shadow = accept(None, {"state": {"reported": {"a": 1, "b": 1}}}, now=100).shadow
    merged = accept(shadow, {"state": {"reported": {"b": 2}}}, now=200).shadow
    assert merged.reported_metadata == {"a": {"timestamp": 100}, "b": {"timestamp": 200}}


def test_metadata_mirrors_arrays_element_by_element():
    result = accept(None, {"state": {"reported": {"v": [1, {"a": "x", "b": [2]}, [3, 4]]}}})
    assert result.shadow.reported_metadata == {
        "v": [
            {"timestamp": T},
            {"a": {"timestamp": T}, "b": [{"timestamp": T}]},
            [{"timestamp": T}, {"timestamp": T}],
        ]
    }


def test_inputs_are_never_mutated():
    shadow = shadow_with(desired={"a": {"b": 1}}, reported={"a": {"b": 2}})
    before = json.dumps(shadow.to_json(), sort_keys=True)
    accept(shadow, {"state": {"desired": {"a": {"b": None, "c": 3}}, "reported": None}})
    get_document(shadow, key=KEY, now=NOW)
    apply_delete(shadow, key=KEY, now=NOW)
    assert json.dumps(shadow.to_json(), sort_keys=True) == before


# ---------------------------------------------------------------------------- outputs of an update


def test_accepted_echoes_the_request_state_with_nulls_and_stamps_every_field():
    shadow = shadow_with(desired={"engine": "ON", "color": {"r": 1}})
    request = {"state": {"desired": {"engine": None, "color": {"r": 10}}}, "clientToken": "c"}
    result = accept(shadow, request)
    assert result.accepted == {
        "state": {"desired": {"engine": None, "color": {"r": 10}}},
        "metadata": {"desired": {"engine": {"timestamp": T}, "color": {"r": {"timestamp": T}}}},
        "version": 2,
        "timestamp": T,
        "clientToken": "c",
    }


def test_accepted_for_a_null_section():
    result = accept(shadow_with(desired={"a": 1}), {"state": {"desired": None}})
    assert result.accepted["state"] == {"desired": None}
    assert result.accepted["metadata"] == {"desired": {"timestamp": T}}


def test_accepted_for_null_state_matches_the_live_service():
    # The live response quoted in getmoto/moto#9237.
    current = StoredShadow(reported={"a": 1}, reported_metadata={"a": {"timestamp": 1}}, version=17)
    result = accept(current, {"state": None}, now=1756452769)
    assert result.accepted == {
        "state": None,
        "metadata": {"timestamp": 1756452769},
        "version": 18,
        "timestamp": 1756452769,
    }


def test_accepted_and_delta_carry_the_same_version():
    result = accept(shadow_with(reported={"a": 1}), {"state": {"desired": {"a": 2}}})
    assert result.delta is not None
    assert result.accepted["version"] == result.delta["version"] == result.shadow.version == 2


def test_delta_lists_every_difference_not_only_the_touched_ones():
    shadow = shadow_with(desired={"a": 1, "b": 1}, reported={"a": 0, "b": 1})
    result = accept(shadow, {"state": {"desired": {"b": 2}}, "clientToken": "c"})
    assert result.delta == {
        "state": {"a": 1, "b": 2},
        "metadata": {"a": {"timestamp": T}, "b": {"timestamp": T}},
        "version": 2,
        "timestamp": T,
        "clientToken": "c",
    }


def test_no_delta_when_desired_equals_reported():
    shadow = shadow_with(desired={"a": 1})
    assert accept(shadow, {"state": {"reported": {"a": 1}}}).delta is None


def test_no_delta_without_desired():
    assert accept(None, {"state": {"reported": {"a": 1}}}).delta is None


def test_documents_previous_and_current():
    shadow = accept(None, {"state": {"desired": {"a": 1}}}, now=100).shadow
    result = accept(shadow, {"state": {"reported": {"a": 1}}, "clientToken": "c"}, now=200)
    assert result.documents == {
        "previous": {
            "state": {"desired": {"a": 1}},
            "metadata": {"desired": {"a": {"timestamp": 100}}},
            "version": 1,
        },
        "current": {
            "state": {"desired": {"a": 1}, "reported": {"a": 1}},
            "metadata": {
                "desired": {"a": {"timestamp": 100}},
                "reported": {"a": {"timestamp": 200}},
            },
            "version": 2,
        },
        "timestamp": 200,
        "clientToken": "c",
    }


def test_documents_previous_is_null_when_the_shadow_is_created():
    result = accept(None, {"state": {"reported": {"a": 1}}})
    assert result.documents["previous"] is None
    assert result.documents["current"]["version"] == 1


def test_documents_previous_is_null_when_a_deleted_shadow_is_recreated():
    deleted = apply_delete(shadow_with(reported={"a": 1}), key=KEY, now=NOW)
    assert isinstance(deleted, DeleteAccepted)
    result = accept(deleted.shadow, {"state": {"reported": {"b": 2}}})
    assert result.documents["previous"] is None
    assert result.documents["current"]["state"] == {"reported": {"b": 2}}


# ---------------------------------------------------------------------------- delta rules


def delta_of(desired: dict, reported: dict | None = None) -> dict | None:
    sections: dict = {"desired": desired}
    if reported is not None:
        sections["reported"] = reported
    return document(shadow_with(**sections))["state"].get("delta")


def test_delta_includes_keys_missing_from_reported():
    assert delta_of({"a": 1, "b": 2}, {"a": 1}) == {"b": 2}


def test_delta_includes_a_key_deleted_from_reported_but_still_desired():
    shadow = shadow_with(desired={"a": 1}, reported={"a": 1})
    result = accept(shadow, {"state": {"reported": {"a": None}}})
    assert result.delta is not None
    assert result.delta["state"] == {"a": 1}


def test_delta_is_json_typed():
    assert delta_of(
        {"flag": True, "n": 1, "f": 2.0, "s": "1"}, {"flag": 1, "n": 1.0, "f": 2, "s": 1}
    ) == {
        "flag": True,
        "s": "1",
    }


def test_delta_compares_arrays_whole():
    assert delta_of({"v": [1, 2, 3], "w": [1]}, {"v": [1, 2, 4], "w": [1]}) == {"v": [1, 2, 3]}


def test_delta_of_a_desired_object_against_a_reported_scalar_is_the_whole_object():
    assert delta_of({"a": {"b": 1}}, {"a": 5}) == {"a": {"b": 1}}


def test_delta_metadata_is_the_desired_metadata():
    shadow = accept(None, {"state": {"desired": {"a": {"b": 1, "c": 2}}}}, now=100).shadow
    result = accept(shadow, {"state": {"reported": {"a": {"b": 1}}}}, now=200)
    assert result.delta is not None
    assert result.delta["state"] == {"a": {"c": 2}}
    assert result.delta["metadata"] == {"a": {"c": {"timestamp": 100}}}


# ---------------------------------------------------------------------------- get


def test_get_returns_the_full_document_with_delta():
    shadow = shadow_with(desired={"a": 2}, reported={"a": 1, "b": 1})
    assert document(shadow, token="g") == {
        "state": {"desired": {"a": 2}, "reported": {"a": 1, "b": 1}, "delta": {"a": 2}},
        "metadata": {
            "desired": {"a": {"timestamp": T}},
            "reported": {"a": {"timestamp": T}, "b": {"timestamp": T}},
        },
        "version": 1,
        "timestamp": T,
        "clientToken": "g",
    }


def test_get_without_differences_has_no_delta():
    assert "delta" not in document(shadow_with(desired={"a": 1}, reported={"a": 1}))["state"]


def test_404_get_never_created():
    rejection = get_document(None, key=ShadowKey("mySimulatedThing", "simShadow1"), now=NOW)
    assert rejection == Rejection(404, "No shadow exists with name: 'simShadow1'")
    assert isinstance(rejection, Rejection)
    assert rejection.error_type == "ResourceNotFoundException"


def test_404_get_classic_shadow_names_the_thing():
    rejection = get_document(None, key=ShadowKey("lamp"), now=NOW, client_token="c")
    assert rejection == Rejection(404, "No shadow exists with name: 'lamp'", "c")


def test_404_get_deleted():
    deleted = apply_delete(shadow_with(reported={"a": 1}), key=KEY, now=NOW)
    assert isinstance(deleted, DeleteAccepted)
    rejection = get_document(deleted.shadow, key=KEY, now=NOW)
    assert isinstance(rejection, Rejection)
    assert rejection.code == 404


# ---------------------------------------------------------------------------- delete


def test_delete_returns_version_and_timestamp_and_keeps_the_version():
    shadow = accept(shadow_with(reported={"a": 1}), {"state": {"reported": {"a": 2}}}).shadow
    result = apply_delete(shadow, key=KEY, now=NOW, client_token="d")
    assert result == DeleteAccepted(
        shadow=StoredShadow(version=2, deleted=True),
        accepted={"version": 2, "timestamp": T, "clientToken": "d"},
    )


def test_update_after_delete_continues_the_version_with_a_fresh_state():
    deleted = apply_delete(shadow_with(desired={"a": 1}, reported={"b": 1}), key=KEY, now=NOW)
    assert isinstance(deleted, DeleteAccepted)
    recreated = accept(deleted.shadow, {"state": {"reported": {"c": 1}}}).shadow
    assert recreated == StoredShadow(
        reported={"c": 1}, reported_metadata={"c": {"timestamp": T}}, version=2
    )


def test_404_delete_never_created():
    rejection = apply_delete(None, key=ShadowKey("lamp", "cfg"), now=NOW)
    assert rejection == Rejection(404, "No shadow exists with name: 'cfg'")


def test_404_delete_deleted():
    deleted = apply_delete(shadow_with(reported={"a": 1}), key=KEY, now=NOW)
    assert isinstance(deleted, DeleteAccepted)
    assert apply_delete(deleted.shadow, key=KEY, now=NOW, client_token="d") == Rejection(
        404, "No shadow exists with name: 'lamp'", "d"
    )


# ---------------------------------------------------------------------------- get/delete payloads


@pytest.mark.parametrize("payload", [b"", b"  \n", b"{}", b'{"other": 1}'])
def test_request_token_absent(payload):
    assert parse_request_token(payload) is None


def test_request_token_present():
    assert parse_request_token(b'{"clientToken": "abc"}') == "abc"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"{", "Invalid JSON"),
        (b"[]", "Invalid JSON"),
        (b'{"clientToken": 1}', "Invalid clientToken"),
        (encode({"clientToken": "x" * 65}), "Invalid clientToken"),
    ],
)
def test_request_token_400(payload, message):
    assert parse_request_token(payload) == Rejection(400, message)


def test_request_token_415_and_413():
    assert parse_request_token(b"\xff") == Rejection(
        415, "Unsupported documented encoding; supported encoding is UTF-8"
    )
    rejection = parse_request_token(b"{" + b" " * MAX_MESSAGE_BYTES)
    assert isinstance(rejection, Rejection)
    assert rejection.code == 413


def test_an_oversized_get_or_delete_is_413_even_if_it_is_only_blanks():
    # The size is checked before anything reads the payload, even to skip blanks.
    rejection = parse_request_token(b" " * (MAX_MESSAGE_BYTES + 1))
    assert rejection == Rejection(413, "The payload exceeds the maximum size allowed")
    assert parse_request_token(b" " * MAX_MESSAGE_BYTES) is None


@pytest.mark.parametrize(
    "payload",
    [b'{"clientToken": "\\ud800"}', b'{"clientToken": "ok", "x": "\\udfff"}', b'{"\\udbff": 1}'],
)
def test_a_get_or_delete_holding_a_lone_surrogate_is_invalid_json_and_echoes_no_token(payload):
    assert parse_request_token(payload) == Rejection(400, "Invalid JSON")


# ---------------------------------------------------------------------------- rejections


def test_rejection_payload_with_and_without_token():
    assert Rejection(409, "Version conflict", "c").to_payload(NOW) == {
        "code": 409,
        "message": "Version conflict",
        "timestamp": T,
        "clientToken": "c",
    }
    assert Rejection(400, "Invalid JSON").to_payload(NOW) == {
        "code": 400,
        "message": "Invalid JSON",
        "timestamp": T,
    }


@pytest.mark.parametrize(
    ("rejection", "code", "message", "error_type"),
    [
        (UNAUTHORIZED, 401, "Unauthorized", "UnauthorizedException"),
        (FORBIDDEN, 403, "Forbidden", "ForbiddenException"),
        (THROTTLED, 429, "Rate exceeded", "ThrottlingException"),
        (INTERNAL_FAILURE, 500, "Internal service failure", "InternalFailureException"),
    ],
)
def test_service_rejections(rejection, code, message, error_type):
    assert (rejection.code, rejection.message, rejection.error_type) == (code, message, error_type)
    assert rejection.with_token("t").client_token == "t"


@pytest.mark.parametrize(
    ("code", "error_type"),
    [
        (405, "MethodNotAllowedException"),
        (503, "ServiceUnavailableException"),
        (504, "GatewayTimeoutException"),
    ],
)
def test_other_botocore_error_types(code, error_type):
    assert Rejection(code, "m").error_type == error_type


def test_rejection_code_must_be_an_aws_shadow_code():
    with pytest.raises(ValueError, match="no AWS shadow error has code 418"):
        Rejection(418, "teapot")


def test_shadow_rejected_error_carries_the_rejection():
    error = ShadowRejectedError(Rejection(409, "Version conflict", "c"))
    assert isinstance(error, SwanError)
    assert error.rejection.client_token == "c"
    assert str(error) == "shadow request rejected: 409 Version conflict"


# ---------------------------------------------------------------------------- names


@pytest.mark.parametrize("thing", ["a", "x" * 128, "my-Thing_01:b"])
def test_valid_thing_names(thing):
    assert ShadowKey(thing).display_name == thing


@pytest.mark.parametrize("thing", ["", "x" * 129, "has space", "a/b", "$aws", "é", "a\n"])
def test_invalid_thing_names(thing):
    with pytest.raises(InvalidShadowKeyError, match="invalid thing name") as caught:
        ShadowKey(thing)
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, SwanError)
    assert caught.value.value == thing


@pytest.mark.parametrize("name", ["a", "$x", "s" * 64, "cfg:1_a-b"])
def test_valid_shadow_names(name):
    assert ShadowKey("thing", name).display_name == name


@pytest.mark.parametrize("name", ["", "s" * 65, "a b", "a/b", "#"])
def test_invalid_shadow_names(name):
    with pytest.raises(InvalidShadowKeyError, match="invalid shadow name"):
        ShadowKey("thing", name)


def test_classic_and_named_shadows_behave_the_same():
    for key in (ShadowKey("lamp"), ShadowKey("lamp", "cfg")):
        shadow = shadow_with(desired={"a": 1})
        result = get_document(shadow, key=key, now=NOW)
        assert isinstance(result, dict)
        assert result["state"]["delta"] == {"a": 1}


# ---------------------------------------------------------------------------- storage


def test_to_json_from_json_round_trip():
    shadow = shadow_with(desired={"a": [1, {"b": 2}]}, reported={"c": 3})
    data = json.loads(json.dumps(shadow.to_json()))
    assert StoredShadow.from_json(data) == shadow


def test_to_json_of_a_deleted_shadow():
    shadow = StoredShadow(version=7, deleted=True)
    assert shadow.to_json() == {"state": {}, "metadata": {}, "version": 7, "deleted": True}
    assert StoredShadow.from_json(shadow.to_json()) == shadow


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"state": {}, "metadata": {}, "deleted": False}, "version"),
        ({"state": {}, "metadata": {}, "version": -1, "deleted": False}, "version"),
        ({"state": {}, "metadata": {}, "version": True, "deleted": False}, "version"),
        ({"state": {}, "metadata": {}, "version": 1}, "deleted"),
        ({"metadata": {}, "version": 1, "deleted": False}, "state"),
        ({"state": {"delta": {}}, "metadata": {}, "version": 1, "deleted": False}, "state"),
        ({"state": {"desired": 1}, "metadata": {}, "version": 1, "deleted": False}, "state"),
        ({"state": {"desired": {}}, "metadata": {}, "version": 1, "deleted": False}, "metadata"),
    ],
)
def test_from_json_rejects_a_malformed_record(data, field):
    with pytest.raises(InvalidPayloadError) as caught:
        StoredShadow.from_json(data)
    assert caught.value.field == field
