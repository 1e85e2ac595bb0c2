import pytest

from swan.core.errors import InvalidPayloadError
from swan.core.fields import PayloadReader


@pytest.mark.parametrize("raw", [b"{", b"\xff\xfe", "[1, 2]", b"null", b'"text"'])
def test_a_payload_must_be_a_json_object(raw):
    with pytest.raises(InvalidPayloadError) as raised:
        PayloadReader.decode("thing", raw)
    assert raised.value.field == "payload"
    assert str(raised.value).startswith("invalid thing: payload: ")


def test_a_decoded_mapping_is_taken_as_is():
    assert PayloadReader.decode("thing", {"a": 1}).data == {"a": 1}


def test_strings_are_limited_in_bytes_not_characters():
    fields = PayloadReader("thing", {"name": "é" * 3})
    assert fields.string("name", max_bytes=6) == "ééé"
    with pytest.raises(InvalidPayloadError, match="name: must be at most 5 bytes"):
        fields.string("name", max_bytes=5)


def test_nested_fields_are_named_by_their_path():
    fields = PayloadReader("thing", {"outer": {"inner": 3}})
    with pytest.raises(InvalidPayloadError) as raised:
        fields.mapping("outer").string("inner")
    assert raised.value.field == "outer.inner"


def test_optional_fields_may_be_absent_or_null():
    fields = PayloadReader("thing", {"a": None})
    assert fields.optional_string("a") is None
    assert fields.optional_number("b") is None
    assert fields.optional_mapping("a") is None
