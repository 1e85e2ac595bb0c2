"""Properties of the shadow rules, over generated JSON trees and update sequences."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from swan.core.jsondoc import json_equal
from swan.local.core.shadow import (
    Rejection,
    ShadowKey,
    StoredShadow,
    UpdateAccepted,
    apply_update,
    get_document,
)

KEY = ShadowKey("prop")
NOW = 1_700_000_000.0

# Few key names, so updates collide with what is stored and exercise the merge.
keys = st.sampled_from(["a", "b", "c", "d"])
scalars = st.one_of(
    st.booleans(),
    st.integers(-5, 5),
    st.floats(-5, 5, allow_nan=False, allow_infinity=False),
    st.text(max_size=3),
)


def stored_values(depth: int) -> st.SearchStrategy[Any]:
    """Values that can be stored: no nulls anywhere, at most `depth` container levels."""
    if depth == 0:
        return scalars
    inner = stored_values(depth - 1)
    return st.one_of(scalars, st.lists(inner, max_size=3), st.dictionaries(keys, inner, max_size=3))


def patch_values(depth: int) -> st.SearchStrategy[Any]:
    """Values an update may carry: like stored values, but object members may be null."""
    if depth == 0:
        return st.one_of(st.none(), scalars)
    return st.one_of(
        st.none(),
        scalars,
        st.lists(stored_values(depth - 1), max_size=3),
        st.dictionaries(keys, patch_values(depth - 1), max_size=3),
    )


# A section is level 1, so members of depth 4 keep every tree within the 6-level limit.
stored_sections = st.dictionaries(keys, stored_values(4), max_size=4)
patch_sections = st.dictionaries(keys, patch_values(4), max_size=4)
states = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {}, optional={"desired": st.none() | patch_sections, "reported": st.none() | patch_sections}
    ),
)
requests = st.builds(lambda state: {"state": state}, states)


def encode(request: object) -> bytes:
    return json.dumps(request).encode()


def run(requests: list[dict], now: float = NOW) -> StoredShadow | None:
    shadow = None
    for request in requests:
        result = apply_update(shadow, encode(request), now=now)
        assert isinstance(result, UpdateAccepted), result
        shadow = result.shadow
    return shadow


def contains_null(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, dict):
        return any(contains_null(child) for child in value.values())
    if isinstance(value, list):
        return any(contains_null(element) for element in value)
    return False


def mirrors(state: Any, metadata: Any) -> bool:
    """True when `metadata` has exactly the shape of `state`, with a timestamp per leaf."""
    if isinstance(state, dict):
        return (
            isinstance(metadata, dict)
            and state.keys() == metadata.keys()
            and all(mirrors(state[key], metadata[key]) for key in state)
        )
    if isinstance(state, list):
        return (
            isinstance(metadata, list)
            and len(state) == len(metadata)
            and all(map(mirrors, state, metadata))
        )
    return isinstance(metadata, dict) and set(metadata) == {"timestamp"}


def satisfied(desired: dict, reported: dict) -> bool:
    """Every desired leaf equals the reported one (objects compared member by member)."""
    for key, wanted in desired.items():
        actual = reported.get(key)
        if isinstance(wanted, dict) and isinstance(actual, dict):
            if not satisfied(wanted, actual):
                return False
        elif key not in reported or not json_equal(wanted, actual):
            return False
    return True


def within(delta: dict, desired: dict) -> bool:
    """Every key of `delta`, at every depth, is a key of desired at that path."""
    for key, value in delta.items():
        if key not in desired:
            return False
        if isinstance(value, dict) and isinstance(desired[key], dict):
            if not within(value, desired[key]):
                return False
        elif not json_equal(value, desired[key]):
            return False
    return True


@given(desired=st.none() | stored_sections, reported=st.none() | stored_sections)
def test_merge_then_get_round_trips(desired, reported):
    state = {
        name: section
        for name, section in (("desired", desired), ("reported", reported))
        if section is not None
    }
    shadow = run([{"state": state}])
    assert shadow is not None
    document = get_document(shadow, key=KEY, now=NOW)
    assert isinstance(document, dict)
    for name, section in state.items():
        assert json_equal(document["state"][name], section)
        assert mirrors(document["state"][name], document["metadata"][name])


@given(history=st.lists(requests, max_size=4), request=requests)
def test_applying_the_same_update_twice_gives_the_same_state_and_version_plus_2(history, request):
    before = run(history)
    once = apply_update(before, encode(request), now=NOW)
    assert isinstance(once, UpdateAccepted)
    twice = apply_update(once.shadow, encode(request), now=NOW)
    assert isinstance(twice, UpdateAccepted)
    assert twice.shadow.state == once.shadow.state
    assert twice.shadow.metadata == once.shadow.metadata
    assert twice.shadow.version == (before.version if before else 0) + 2


@given(history=st.lists(requests, min_size=1, max_size=6))
def test_nulls_are_never_stored(history):
    shadow = run(history)
    assert shadow is not None
    assert not contains_null(shadow.state)
    assert not contains_null(shadow.metadata)


@given(history=st.lists(requests, min_size=1, max_size=6))
def test_metadata_keys_mirror_state_keys_exactly(history):
    shadow = run(history)
    assert shadow is not None
    assert mirrors(shadow.state, shadow.metadata)


@given(history=st.lists(requests, min_size=1, max_size=6))
def test_delta_is_empty_iff_every_desired_leaf_equals_reported(history):
    shadow = run(history)
    assert shadow is not None
    document = get_document(shadow, key=KEY, now=NOW)
    assert isinstance(document, dict)
    desired = shadow.desired or {}
    in_sync = satisfied(desired, shadow.reported or {})
    assert ("delta" not in document["state"]) == in_sync


@given(history=st.lists(requests, min_size=1, max_size=6))
def test_delta_never_holds_a_key_absent_from_desired(history):
    shadow = None
    for request in history:
        result = apply_update(shadow, encode(request), now=NOW)
        assert isinstance(result, UpdateAccepted)
        shadow = result.shadow
        if result.delta is not None:
            assert within(result.delta["state"], shadow.desired or {})
            assert mirrors(result.delta["state"], result.delta["metadata"])


garbage = st.one_of(
    st.binary(max_size=12),
    st.builds(encode, st.dictionaries(st.sampled_from(["state", "version", "x"]), scalars)),
)
versioned = st.builds(
    lambda state, version: encode({"state": state, "version": version}),
    states,
    st.integers(0, 4),
)
payloads = st.one_of(st.builds(encode, requests), versioned, garbage)


def declared_version(payload: bytes) -> object:
    try:
        request = json.loads(payload)
    except ValueError:
        return None
    return request.get("version") if isinstance(request, dict) else None


@given(sequence=st.lists(payloads, max_size=10))
def test_version_increases_on_accept_and_never_changes_on_reject(sequence):
    shadow = None
    for payload in sequence:
        version = shadow.version if shadow else 0
        result = apply_update(shadow, payload, now=NOW)
        if isinstance(result, Rejection):
            # The caller keeps its shadow; a 409 means the request named another version.
            if result.code == 409:
                assert declared_version(payload) != version
            continue
        assert declared_version(payload) in {None, version}
        assert result.shadow.version == version + 1
        assert result.accepted["version"] == result.shadow.version
        shadow = result.shadow


@settings(max_examples=50)
@given(history=st.lists(requests, max_size=6), deleted=st.booleans())
def test_to_json_from_json_round_trip(history, deleted):
    shadow = run(history) or StoredShadow()
    if deleted:
        shadow = StoredShadow(version=shadow.version, deleted=True)
    stored = json.loads(json.dumps(shadow.to_json()))
    assert StoredShadow.from_json(stored) == shadow
