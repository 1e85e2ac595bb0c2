"""JSON trees: strict decoding, typed equality, nesting, size, merge and difference.

A JSON tree here is what `json.loads` returns: dict, list, str, int, float, bool or None.
Nothing in this module mutates its arguments; results share untouched subtrees with the
inputs, so every tree is treated as immutable.

`merge`, `stamp` and `delta` implement the AWS Device Shadow tree rules (reference section
1.1-1.3): a metadata tree mirrors a state tree exactly, one `{"timestamp": t}` per leaf.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any, Final, NoReturn

if TYPE_CHECKING:
    from collections.abc import Mapping

JsonObject = dict[str, Any]

# A `\uD800`-`\uDFFF` escape: JSON text may spell a lone surrogate, which is no character.
_SURROGATE_ESCAPE: Final = re.compile(r"\\u[dD][89a-fA-F]")


class JsonDecodeFailedError(ValueError):
    """The text is not a single strict JSON value of valid Unicode text (NaN and Infinity
    are not JSON; neither is a string holding half of a surrogate pair)."""


def _reject_constant(name: str) -> NoReturn:
    raise JsonDecodeFailedError(f"{name} is not JSON")


def decode_json(text: str | bytes | bytearray, *, lone_surrogates: bool = False) -> Any:
    """Parse `text` (or UTF-8 bytes) as strict JSON.

    Raises JsonDecodeFailedError for malformed text, for bytes that are not UTF-8, for
    NaN/Infinity (Python accepts them by default, JSON does not), for integers too long to
    convert, and for a lone surrogate escape such as `"\\ud800"`: Python decodes it, but it is
    no Unicode character and cannot be encoded again, so AWS refuses it as invalid JSON
    and so does every decoder here. Raises RecursionError when the nesting is deeper than
    the interpreter can parse; callers decide what that means.

    `lone_surrogates=True` lets such escapes through, for a reader that must pass them on to
    code that refuses them itself (the rules engine: see swan.local.core.iotsql.decode_payload).
    """
    if isinstance(text, bytes | bytearray):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as error:
            raise JsonDecodeFailedError(f"not UTF-8 text ({error.reason})") from None
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except JsonDecodeFailedError:
        raise
    except ValueError as error:  # JSONDecodeError and int-too-long both land here
        raise JsonDecodeFailedError(str(error)) from error
    if not lone_surrogates and _SURROGATE_ESCAPE.search(text) and _holds_surrogate(value):
        raise JsonDecodeFailedError("a string holds a lone surrogate, which is not Unicode text")
    return value


def is_unicode_text(value: str) -> bool:
    """True when `value` is Unicode text: a lone surrogate (`"\\ud800"` in JSON) is not."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _holds_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        return not is_unicode_text(value)
    if isinstance(value, dict):
        return any(_holds_surrogate(key) or _holds_surrogate(child) for key, child in value.items())
    if isinstance(value, list):
        return any(_holds_surrogate(element) for element in value)
    return False


def json_equal(left: Any, right: Any) -> bool:
    """Equality as JSON sees it: `true` is not `1`, but `1` and `1.0` are the same number."""
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    if isinstance(left, int | float) and isinstance(right, int | float):
        return left == right
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(json_equal(left[k], right[k]) for k in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(map(json_equal, left, right))
    return type(left) is type(right) and left == right


def nesting_exceeds(value: Any, max_levels: int) -> bool:
    """True when `value` has more than `max_levels` levels of containers.

    The value itself is level 1 if it is an object or an array, and every object or array
    nested inside it adds one level; scalars add none. So `{"a": 1}` has 1 level and
    `{"a": [{"b": 1}]}` has 3. The walk stops one level past the limit, so it is cheap and
    safe on hostile input.
    """
    if not isinstance(value, dict | list):
        return False
    if max_levels <= 0:
        return True
    children = value.values() if isinstance(value, dict) else value
    return any(nesting_exceeds(child, max_levels - 1) for child in children)


def array_contains_null(value: Any) -> bool:
    """True when any array anywhere in `value` holds a null, however deep inside it.

    Objects outside arrays may hold nulls (they mean "delete"); inside an array a null could
    only be stored, and stored nulls are not allowed.
    """
    if isinstance(value, dict):
        return any(array_contains_null(child) for child in value.values())
    if isinstance(value, list):
        return any(_contains_null(element) for element in value)
    return False


def _contains_null(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, dict):
        return any(_contains_null(child) for child in value.values())
    if isinstance(value, list):
        return any(_contains_null(element) for element in value)
    return False


def compact_size(value: Any) -> int:
    """Bytes of `value` as compact UTF-8 JSON (no spaces, non-ASCII not escaped)."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    # A lone surrogate from a "\ud800" escape is valid JSON text but not UTF-8; count it as
    # the three bytes it takes rather than failing.
    return len(text.encode("utf-8", "surrogatepass"))


def stamp(value: Any, timestamp: int) -> Any:
    """The metadata tree of `value`: its shape, with every leaf (null too) `{"timestamp": t}`.

    Arrays get one entry per element and an object element gets nested metadata, as in the
    AWS shadow document (`"ColorRGB": [{"timestamp": t}, {"timestamp": t}, ...]`).
    """
    if isinstance(value, dict):
        return {key: stamp(child, timestamp) for key, child in value.items()}
    if isinstance(value, list):
        return [stamp(element, timestamp) for element in value]
    return {"timestamp": timestamp}


def merge(
    state: Mapping[str, Any], metadata: Mapping[str, Any], patch: Mapping[str, Any], timestamp: int
) -> tuple[JsonObject, JsonObject]:
    """Deep-merge `patch` into `state`, keeping `metadata` in step; returns (state, metadata).

    - `null` deletes the key (and its metadata); nulls are never stored.
    - An object merges into an object key by key; anything else replaces the old value whole,
      so arrays are atomic.
    - An object emptied by deletions stays as `{}`: that is what the AWS Greengrass shadow
      manager (AWS's own implementation of these rules) does, and `{}` is a valid value.
    - A patch object that only deletes, where no object exists, changes nothing: deleting
      keys that are not there is a no-op, not "create an empty object". An explicit `{}` does
      store `{}`.
    - Every value written gets fresh timestamps; untouched keys keep theirs.
    """
    new_state = dict(state)
    new_metadata = dict(metadata)
    for key, value in patch.items():
        if value is None:
            new_state.pop(key, None)
            new_metadata.pop(key, None)
        elif isinstance(value, dict):
            existing = state.get(key)
            existed = isinstance(existing, dict)
            base_state: Mapping[str, Any] = existing if isinstance(existing, dict) else {}
            base_metadata = metadata.get(key, {}) if existed else {}
            merged, merged_metadata = merge(base_state, base_metadata, value, timestamp)
            if existed or merged or not value:
                new_state[key] = merged
                new_metadata[key] = merged_metadata
        else:
            new_state[key] = value
            new_metadata[key] = stamp(value, timestamp)
    return new_state, new_metadata


def delta(
    desired: Mapping[str, Any], reported: Mapping[str, Any], desired_metadata: Mapping[str, Any]
) -> tuple[JsonObject, JsonObject]:
    """The desired values that reported does not match, with their metadata.

    Walks desired only: a key missing from reported is included, a key only in reported is
    not. Objects on both sides are compared key by key and keep the path down to each
    differing leaf; anything else (arrays included) is compared whole, JSON-typed, and the
    whole desired value goes in. The metadata is the desired metadata of those same values.
    """
    differences: JsonObject = {}
    differences_metadata: JsonObject = {}
    for key, wanted in desired.items():
        actual = reported.get(key)
        wanted_metadata = desired_metadata.get(key, {})
        if isinstance(wanted, dict) and isinstance(actual, dict):
            nested, nested_metadata = delta(wanted, actual, wanted_metadata)
            if nested:
                differences[key] = nested
                differences_metadata[key] = nested_metadata
        elif key not in reported or not json_equal(wanted, actual):
            differences[key] = wanted
            differences_metadata[key] = wanted_metadata
    return differences, differences_metadata
