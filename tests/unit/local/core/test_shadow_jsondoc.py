"""The JSON-tree helpers under the shadow: strict decoding, typed equality, nesting, size."""

from __future__ import annotations

import json

import pytest

from swan.core.jsondoc import (
    JsonDecodeFailedError,
    array_contains_null,
    compact_size,
    decode_json,
    delta,
    json_equal,
    merge,
    nesting_exceeds,
    stamp,
)
from swan.local.core.shadow import apply_update
from swan.local.core.shadow_errors import Rejection


@pytest.mark.parametrize("text", ["NaN", "[Infinity]", '{"a": -Infinity}', "{", "", "1 2"])
def test_decode_json_is_strict(text):
    with pytest.raises(JsonDecodeFailedError):
        decode_json(text)


def test_decode_json_reads_json():
    assert decode_json('{"a": [1, 2.5, true, null, "x"]}') == {"a": [1, 2.5, True, None, "x"]}


@pytest.mark.parametrize(
    ("left", "right", "equal"),
    [
        (True, 1, False),
        (1, True, False),
        (False, 0, False),
        (True, True, True),
        (1, 1.0, True),
        (2, 2.5, False),
        ("1", 1, False),
        (None, None, True),
        (None, 0, False),
        ({"a": 1}, {"a": 1.0}, True),
        ({"a": 1}, {"b": 1}, False),
        ({"a": True}, {"a": 1}, False),
        ([1, [True]], [1.0, [True]], True),
        ([1], [1, 1], False),
        ([1], {"0": 1}, False),
    ],
)
def test_json_equal(left, right, equal):
    assert json_equal(left, right) is equal


@pytest.mark.parametrize(
    ("value", "levels"),
    [(1, 0), ("x", 0), ({}, 1), ([], 1), ({"a": 1}, 1), ({"a": [{"b": 1}]}, 3), ([[[]]], 3)],
)
def test_nesting_levels_are_counted_from_the_value_itself(value, levels):
    assert not nesting_exceeds(value, levels)
    assert nesting_exceeds(value, levels - 1) is (levels > 0)


@pytest.mark.parametrize(
    ("value", "found"),
    [
        ({"a": None}, False),
        ({"a": [1, None]}, True),
        ({"a": {"b": [[None]]}}, True),
        ({"a": [{"b": None}]}, True),
        ({"a": [{"b": 1}, [2]]}, False),
        ([None], True),
        (None, False),
    ],
)
def test_array_contains_null(value, found):
    assert array_contains_null(value) is found


def test_compact_size_counts_utf8_bytes_without_spaces():
    assert compact_size({"a": [1, 2]}) == len('{"a":[1,2]}')
    assert compact_size({"k": "é"}) == len('{"k":""}') + 2


def test_compact_size_counts_a_lone_surrogate_instead_of_failing():
    assert compact_size("\ud800") == 2 + 3


@pytest.mark.parametrize(
    "text",
    ['"\\ud800"', '{"a": "x\\udfff"}', '{"\\udbff": 1}', '[["\\uDC00"]]', b'"\xff"'],
)
def test_decode_json_refuses_text_that_is_not_unicode(text):
    with pytest.raises(JsonDecodeFailedError):
        decode_json(text)


def test_decode_json_reads_a_surrogate_pair_and_utf8_bytes():
    assert decode_json('"\\ud83d\\udea8"') == "\N{POLICE CARS REVOLVING LIGHT}"
    assert decode_json('"\\\\ud800"') == "\\ud800"  # an escaped backslash, then text
    assert decode_json("\N{SNOWMAN}".join('""').encode()) == "\N{SNOWMAN}"


def test_a_lone_surrogate_escape_is_refused_as_invalid_json():
    payload = b'{"state": {"reported": {"x": "\\ud800"}}, "clientToken": "\\udfff"}'
    result = apply_update(None, payload, now=1)
    assert isinstance(result, Rejection)
    assert (result.code, result.message) == (400, "Invalid JSON")


def test_stamp_mirrors_the_shape():
    assert stamp({"a": [1, {"b": None}], "c": {}}, 7) == {
        "a": [{"timestamp": 7}, {"b": {"timestamp": 7}}],
        "c": {},
    }
    assert stamp(None, 7) == {"timestamp": 7}


def test_merge_and_delta_never_mutate_their_arguments():
    state = {"a": {"b": 1}, "l": [1]}
    metadata = stamp(state, 1)
    patch = {"a": {"b": None, "c": {"d": 2}}, "l": [2], "x": None}
    snapshot = json.dumps([state, metadata, patch])
    merged, merged_metadata = merge(state, metadata, patch, 2)
    assert merged == {"a": {"c": {"d": 2}}, "l": [2]}
    assert merged_metadata == {"a": {"c": {"d": {"timestamp": 2}}}, "l": [{"timestamp": 2}]}
    delta(merged, state, merged_metadata)
    assert json.dumps([state, metadata, patch]) == snapshot
