"""IoT SQL: the rules The Swan deploys, parsed and evaluated as AWS IoT Core would."""

# ruff: noqa: S608 - the SQL built here is IoT SQL for the parser under test; no database

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support import load_event

from swan.core.errors import InvalidTopicError
from swan.local.core.iotsql import (
    CLIENT_ID_UNKNOWN,
    MAX_NESTING,
    UNDEFINED,
    AllFields,
    And,
    Call,
    Column,
    Comparison,
    Field,
    Function,
    InvalidRuleError,
    Literal,
    Message,
    Not,
    NullTest,
    Operator,
    Or,
    decode_payload,
    parse_rule,
)

NOW_MS = 1_764_087_120_123
SERIAL = "G030JF0553648RUH"

BUTTON_RULE = (
    "SELECT *, topic(2) AS serial, clientid() AS clientId, timestamp() AS receivedAt "
    "FROM 'iotbutton/+'"
)
PUSH_RULE = (
    "SELECT *, topic(3) AS thing, clientid() AS clientId, timestamp() AS receivedAt "
    "FROM 'swan/push/+'"
)
JITR_RULE = "SELECT * FROM '$aws/events/certificates/registered/+'"


def message(topic="t/a/b", payload=None, client_id="dev-1", principal=None):
    return Message(topic, payload, client_id, NOW_MS, principal)


def select(expression_sql, payload=None, topic="t/a/b", **kwargs):
    """The value of one expression for a message, or UNDEFINED if it was left out."""
    rule = parse_rule(f"SELECT {expression_sql} AS v FROM '#'")
    output = rule.evaluate(message(topic, payload, **kwargs))
    assert output is not None
    return output.get("v", UNDEFINED)


def fires(where, payload=None, topic="t/a/b"):
    output = parse_rule(f"SELECT 1 AS one FROM '#' WHERE {where}").evaluate(message(topic, payload))
    return output is not None


# ---------------------------------------------------------------- the project's rules


def test_button_rule_adds_serial_client_and_time_to_the_click():
    click = load_event("iot_button_click_single")
    rule = parse_rule(BUTTON_RULE)
    output = rule.evaluate(message(f"iotbutton/{SERIAL}", click, client_id=SERIAL))
    assert output == {**click, "serial": SERIAL, "clientId": SERIAL, "receivedAt": NOW_MS}


def test_button_rule_parses_to_its_parts():
    rule = parse_rule(BUTTON_RULE)
    assert rule.topic_filter == "iotbutton/+"
    assert rule.where is None
    assert rule.selects_payload
    assert rule.items == (
        AllFields(),
        Column(Call(Function.TOPIC, 2), "serial"),
        Column(Call(Function.CLIENT_ID), "clientId"),
        Column(Call(Function.TIMESTAMP), "receivedAt"),
    )


def test_push_rule_names_the_thing_from_the_topic():
    request = {"clientToken": "push-pi-kitchen-0042", "source": "pi"}
    topic = "swan/push/pi-kitchen"
    output = parse_rule(PUSH_RULE).evaluate(message(topic, request, client_id="pi-kitchen"))
    assert output == {
        **request,
        "thing": "pi-kitchen",
        "clientId": "pi-kitchen",
        "receivedAt": NOW_MS,
    }


def test_push_rule_ignores_the_replies_it_causes():
    rule = parse_rule(PUSH_RULE)
    assert rule.evaluate(message("swan/push/pi-kitchen/accepted", {"ok": True})) is None


def test_jitr_rule_passes_the_event_through_unchanged():
    event = load_event("jitr_registered")
    topic = "$aws/events/certificates/registered/" + "a3" * 32
    output = parse_rule(JITR_RULE).evaluate(message(topic, event, client_id=None))
    assert output == event
    assert output is not event


def test_selected_keys_override_payload_keys_in_order():
    rule = parse_rule("SELECT *, topic(2) AS serial FROM 'iotbutton/+'")
    output = rule.evaluate(message("iotbutton/ABC", {"serial": "forged", "x": 1}))
    assert output == {"serial": "ABC", "x": 1}


def test_star_after_a_column_overrides_it():
    output = parse_rule("SELECT topic(1) AS a, * FROM 'a/#'").evaluate(message("a/b", {"a": 2}))
    assert output == {"a": 2}


# ---------------------------------------------------------------- the SELECT list


@pytest.mark.parametrize(
    ("sql", "payload", "expected"),
    [
        ("SELECT a FROM '#'", {"a": 1, "b": 2}, {"a": 1}),
        ("SELECT a.b.c FROM '#'", {"a": {"b": {"c": [1]}}}, {"c": [1]}),
        ("SELECT a.b AS ab FROM '#'", {"a": {"b": None}}, {"ab": None}),
        ("SELECT a, b FROM '#'", {"a": 1}, {"a": 1}),
        ("SELECT a.b FROM '#'", {"a": 5}, {}),
        ("SELECT a.b FROM '#'", {"a": [{"b": 1}]}, {}),
        ("SELECT a FROM '#'", [1, 2], {}),
        ("SELECT a FROM '#'", None, {}),
        ("SELECT 'x' AS s, 42 AS n, -1.5 AS f FROM '#'", None, {"s": "x", "n": 42, "f": -1.5}),
        ("SELECT 2e3 AS n, 1.25E-2 AS m FROM '#'", {}, {"n": 2000.0, "m": 0.0125}),
        (
            "SELECT true AS t, FALSE AS f, NULL AS n FROM '#'",
            {},
            {"t": True, "f": False, "n": None},
        ),
        ("SELECT '' AS empty FROM '#'", {}, {"empty": ""}),
        ("SELECT a = 1 AS one, a > 5 AS big FROM '#'", {"a": 1}, {"one": True, "big": False}),
        ("SELECT b = 1 AS missing FROM '#'", {"a": 1}, {}),
        ("SELECT * FROM '#'", {}, {}),
        ("select * from '#'", {"k": "v"}, {"k": "v"}),
    ],
)
def test_select_builds_the_output_object(sql, payload, expected):
    assert parse_rule(sql).evaluate(message(payload=payload)) == expected


@pytest.mark.parametrize(
    ("expression", "topic", "expected"),
    [
        ("topic()", "t/a/b", "t/a/b"),
        ("topic(1)", "t/a/b", "t"),
        ("topic(3)", "t/a/b", "b"),
        ("topic(4)", "t/a/b", UNDEFINED),
        ("TOPIC(2)", "t/a/b", "a"),
        ("topic(2)", "t//b", ""),
        ("topic( 2 )", "t/a/b", "a"),
    ],
)
def test_topic_function(expression, topic, expected):
    assert select(expression, topic=topic) == expected


def test_clientid_timestamp_and_principal():
    cert = "c" * 64
    assert select("clientid()", client_id="pi-kitchen") == "pi-kitchen"
    assert select("clientId()", client_id=None) == CLIENT_ID_UNKNOWN
    assert select("timestamp()") == NOW_MS
    assert select("principal()", principal=cert) == cert
    assert select("principal()") is UNDEFINED


# ---------------------------------------------------------------- WHERE


@pytest.mark.parametrize(
    ("where", "payload", "expected"),
    [
        ("a = 1", {"a": 1}, True),
        ("a = 1", {"a": 1.0}, True),
        ("a = 1", {"a": 2}, False),
        ("a = 1", {"a": "1"}, False),
        ("a = 1", {"a": True}, False),
        ("a = true", {"a": True}, True),
        ("a = 'x'", {"a": "x"}, True),
        ("a = 'X'", {"a": "x"}, False),
        ("a <> 'x'", {"a": "y"}, True),
        ("a != 'x'", {"a": "x"}, False),
        ("a <> 'x'", {"a": 5}, False),
        ("a <> 'x'", {}, False),
        ("a = b", {"a": {"k": [1, 2]}, "b": {"k": [1, 2.0]}}, True),
        ("a = b", {"a": [1], "b": [2]}, False),
        ("a = NULL", {"a": None}, True),
        ("a < 5", {"a": 4}, True),
        ("a < 5", {"a": 5}, False),
        ("a <= 5", {"a": 5}, True),
        ("a > 5", {"a": 5.5}, True),
        ("a >= 5", {"a": 4.999}, False),
        ("a > 5", {"a": "6"}, False),
        ("a > 'b'", {"a": "c"}, False),
        ("a > true", {"a": True}, False),
        ("a > 5", {}, False),
        ("5 < a", {"a": 6}, True),
        ("a.b.c = 'deep'", {"a": {"b": {"c": "deep"}}}, True),
        ("a IS NULL", {"a": None}, True),
        ("a IS NULL", {"a": 0}, False),
        ("a IS NULL", {}, False),
        ("a IS NOT NULL", {"a": 0}, True),
        ("a IS NOT NULL", {"a": None}, False),
        ("a IS NOT NULL", {}, False),
        ("NOT a IS NULL", {}, False),
        ("a = 1 AND b = 2", {"a": 1, "b": 2}, True),
        ("a = 1 AND b = 2", {"a": 1, "b": 3}, False),
        ("a = 1 OR b = 2", {"a": 0, "b": 2}, True),
        ("a = 1 OR b = 2", {"a": 0, "b": 0}, False),
        ("NOT a = 1", {"a": 2}, True),
        ("NOT a = 1", {"a": 1}, False),
        ("NOT NOT a = 1", {"a": 1}, True),
        ("NOT a = 1", {}, False),
        ("NOT a = 'x'", {"a": 3}, False),
        # A connective with an Undefined operand is Undefined (the AWS operator tables).
        ("a = 1 OR b = 2", {"b": 2}, False),
        ("a = 1 AND b = 2", {"b": 2}, False),
        # Booleans and "true"/"false" strings are conditions by themselves.
        ("flag", {"flag": True}, True),
        ("flag", {"flag": False}, False),
        ("flag", {"flag": "TRUE"}, True),
        ("flag", {"flag": "yes"}, False),
        ("flag", {"flag": 1}, False),
        ("flag", {}, False),
        ("NOT flag", {"flag": "false"}, True),
        ("flag AND other", {"flag": "true", "other": True}, True),
        ("flag OR other", {"flag": 1, "other": True}, False),
        ("true", None, True),
        ("'false'", None, False),
        ("a = 1", None, False),
        ("a = 1", [1], False),
        # AND binds tighter than OR; parentheses regroup.
        ("a = 1 OR a = 2 AND b = 3", {"a": 1, "b": 0}, True),
        ("(a = 1 OR a = 2) AND b = 3", {"a": 1, "b": 0}, False),
        ("((a = 1))", {"a": 1}, True),
        ("topic(2) = 'a' and clientid() = 'dev-1'", {}, True),
        ("timestamp() > 0", {}, True),
        ("principal() = 'p'", {}, False),
    ],
)
def test_where(where, payload, expected):
    assert fires(where, payload) is expected


def test_where_is_evaluated_before_select_and_cannot_see_aliases():
    rule = parse_rule("SELECT a AS b FROM '#' WHERE b = 1")
    assert rule.evaluate(message(payload={"a": 1})) is None
    assert rule.evaluate(message(payload={"a": 2, "b": 1})) == {"b": 2}


def test_where_tree():
    rule = parse_rule("SELECT * FROM '#' WHERE NOT (a = 1 OR b IS NOT NULL) AND c < 2")
    assert rule.where == And(
        (
            Not(
                Or(
                    (
                        Comparison(Operator.EQUAL, Field(("a",)), Literal(1)),
                        NullTest(Field(("b",)), negated=True),
                    )
                )
            ),
            Comparison(Operator.LESS, Field(("c",)), Literal(2)),
        )
    )


def test_not_equal_spellings_parse_the_same():
    assert parse_rule("SELECT * FROM '#' WHERE a <> 1").where == (
        parse_rule("SELECT * FROM '#' WHERE a != 1").where
    )


def test_deeply_nested_equal_trees_compare_as_undefined_not_a_crash():
    deep: object = 0
    for _ in range(100_000):
        deep = [deep]
    assert not fires("a = b", {"a": deep, "b": deep})


# ---------------------------------------------------------------- topics and payloads


@pytest.mark.parametrize(
    ("topic_filter", "topic", "expected"),
    [
        ("iotbutton/+", "iotbutton/ABC", True),
        ("iotbutton/+", "iotbutton/ABC/x", False),
        ("swan/#", "swan/push/web", True),
        ("#", "$aws/events/x", False),
        ("$aws/events/certificates/registered/+", "$aws/events/certificates/registered/c", True),
    ],
)
def test_matches_topic(topic_filter, topic, expected):
    rule = parse_rule(f"SELECT * FROM '{topic_filter}'")
    assert rule.matches_topic(topic) is expected
    assert (rule.evaluate(message(topic, {})) is not None) is expected


def test_a_rule_that_selects_star_delivers_nothing_for_a_payload_that_is_not_an_object():
    rule = parse_rule(BUTTON_RULE)
    for payload in (None, [1], "text", 3, True):
        assert rule.evaluate(message("iotbutton/ABC", payload)) is None


def test_a_rule_without_star_still_fires_for_a_payload_that_is_not_json():
    rule = parse_rule("SELECT topic(2) AS serial, a FROM 'iotbutton/+'")
    raw = Message.from_bytes("iotbutton/ABC", b"\xff\x00", client_id="c", timestamp_ms=1)
    assert raw.payload is None
    assert rule.evaluate(raw) == {"serial": "ABC"}
    assert not rule.selects_payload


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b'{"a": 1}', {"a": 1}),
        (b"[1, 2]", [1, 2]),
        (b"", None),
        (b"not json", None),
        (b"\xff\xfe", None),
        (b'{"a": NaN}', None),
        (b"[" * 100_000, None),
    ],
)
def test_decode_payload(raw, expected):
    assert decode_payload(raw) == expected


def test_message_from_bytes_keeps_its_metadata():
    built = Message.from_bytes("a/b", b'{"x": 1}', client_id="c", timestamp_ms=5, principal="p")
    assert built == Message("a/b", {"x": 1}, "c", 5, "p")


@pytest.mark.parametrize("topic", ["a/+", "", "a/#"])
def test_a_message_needs_a_valid_topic_name(topic):
    with pytest.raises(InvalidTopicError):
        message(topic)


# ---------------------------------------------------------------- bad SQL


@pytest.mark.parametrize(
    ("sql", "offset", "words"),
    [
        ("", 0, "expected SELECT, found the end"),
        ("SELECT x FROM topic", 14, "expected a topic filter in single quotes, found 'topic'"),
        ('SELECT x FROM "a/b"', 14, "unexpected character '\"'"),
        ("SELECT x FROM 'a/b", 14, "no closing quote"),
        ("SELECT FROM 'a'", 7, "expected a field, a function, a literal or '('"),
        ("SELECT x", 8, "expected FROM, found the end"),
        ("SELECT x, FROM 'a'", 10, "found 'FROM'"),
        ("SELECT x FROM 'a/b+'", 14, "+ must be a whole level"),
        ("SELECT x FROM ''", 14, "must not be empty"),
        ("SELECT x FROM 'a/#/b'", 14, "# must be the whole last level"),
        ("SELECT upper(x) AS y FROM 'a'", 7, "unknown function 'upper'"),
        ("SELECT topic(0) AS y FROM 'a'", 13, "a topic level"),
        ("SELECT topic(1.5) AS y FROM 'a'", 13, "a topic level"),
        ("SELECT topic(-1) AS y FROM 'a'", 13, "a topic level"),
        ("SELECT topic(x) AS y FROM 'a'", 13, "expected ')' to close topic("),
        ("SELECT clientid(1) AS y FROM 'a'", 16, "expected ')' to close clientid("),
        ("SELECT topic(2 FROM 'a'", 15, "expected ')'"),
        ("SELECT topic(2) FROM 'a'", 16, "expected AS and a name"),
        ("SELECT 'lit' FROM 'a'", 13, "expected AS and a name"),
        ("SELECT x AS FROM 'a'", 12, "expected a name after AS"),
        ("SELECT x AS 'y' FROM 'a'", 12, "expected a name after AS"),
        ("SELECT x y FROM 'a'", 9, "expected FROM, found 'y'"),
        ("SELECT a. FROM 'a'", 10, "a field name after '.'"),
        ("SELECT a.1 AS b FROM 'a'", 9, "a field name after '.'"),
        ("SELECT * FROM 'a' WHERE", 23, "found the end"),
        ("SELECT * FROM 'a' WHERE (a = 1", 30, "')' to close the '(' at offset 24"),
        ("SELECT * FROM 'a' WHERE a = 1)", 29, "expected AND, OR or the end, found ')'"),
        ("SELECT * FROM 'a' b", 18, "expected WHERE or the end, found 'b'"),
        ("SELECT * FROM 'a' WHERE a = b = c", 30, "found '='"),
        ("SELECT * FROM 'a' WHERE a IS 1", 29, "expected NULL"),
        ("SELECT * FROM 'a' WHERE a IS NOT", 32, "expected NULL"),
        ("SELECT * FROM 'a' WHERE a + 1", 26, "unexpected character '+'"),
        ("SELECT * FROM 'a' WHERE a = -", 28, "unexpected character '-'"),
        ("SELECT * FROM 'a';", 17, "unexpected character ';'"),
        ("SELECT select FROM 'a'", 7, "found 'select'"),
        ("SELECT *.a FROM 'a'", 8, "found '.'"),
        ("SELECT 1e999 AS big FROM 'a'", 7, "out of range"),
        ("SELECT " + "9" * 5000 + " AS big FROM 'a'", 7, "too long"),
        ("SELECT * FROM 'a' WHERE a = 'x' AND", 35, "found the end"),
        ("UPDATE x", 0, "expected SELECT, found 'UPDATE'"),
    ],
)
def test_bad_sql_names_the_offset_and_what_was_expected(sql, offset, words):
    with pytest.raises(InvalidRuleError) as caught:
        parse_rule(sql)
    assert caught.value.offset == offset
    assert caught.value.sql == sql
    assert words in str(caught.value)
    assert str(caught.value).startswith(f"invalid IoT SQL at offset {offset}: ")


def test_invalid_rule_error_is_a_value_error():
    with pytest.raises(ValueError, match="single quotes"):
        parse_rule("SELECT x FROM topic")


def test_nesting_is_bounded():
    fine = "(" * MAX_NESTING + "a = 1" + ")" * MAX_NESTING
    assert parse_rule(f"SELECT * FROM 'a' WHERE {fine}").where is not None
    too_deep = "(" * (MAX_NESTING + 1) + "a = 1" + ")" * (MAX_NESTING + 1)
    with pytest.raises(InvalidRuleError, match="nesting deeper than"):
        parse_rule(f"SELECT * FROM 'a' WHERE {too_deep}")
    with pytest.raises(InvalidRuleError, match="nesting deeper than"):
        parse_rule("SELECT * FROM 'a' WHERE " + "NOT " * 10_000 + "a")


def test_long_flat_conditions_parse_and_evaluate():
    where = " AND ".join(f"a{i} = {i}" for i in range(5_000))
    rule = parse_rule(f"SELECT * FROM '#' WHERE {where}")
    payload = {f"a{i}": i for i in range(5_000)}
    assert rule.evaluate(message(payload=payload)) == payload


# ---------------------------------------------------------------- properties

SQL_PIECES = st.sampled_from(
    [
        "SELECT ", "FROM ", "WHERE ", "AS ", "AND ", "OR ", "NOT ", "IS ", "NULL ", "*", ",",
        "(", ")", ".", "=", "<>", "!=", "<", ">=", "'a/+'", "'#'", "'", "topic(", "topic(2)",
        "clientid()", "timestamp()", "principal()", "a", "b.c", "1", "-2.5e3", "true ", " ",
    ]
)  # fmt: skip


@given(st.text())
def test_parser_raises_only_invalid_rule_error_on_any_text(text):
    with contextlib.suppress(InvalidRuleError):
        parse_rule(text)


@given(st.lists(SQL_PIECES, max_size=30).map("".join))
def test_parser_raises_only_invalid_rule_error_on_sql_like_text(text):
    try:
        rule = parse_rule(text)
    except InvalidRuleError:
        return
    assert rule.sql == text


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)
json_payloads = json_values | st.dictionaries(st.sampled_from(["a", "b", "c"]), json_values)

RULES = [
    parse_rule(BUTTON_RULE),
    parse_rule(PUSH_RULE),
    parse_rule(JITR_RULE),
    parse_rule(
        "SELECT *, a.b AS ab, c, principal() AS p FROM '#' "
        "WHERE (a = b OR NOT c > 1.5 OR a.b IS NOT NULL) AND (c <> 'x' OR c OR b IS NULL)"
    ),
    parse_rule("SELECT a = b AS same, NOT a AS na, a < c AS lt FROM '#'"),
]


@given(
    st.sampled_from(RULES),
    st.sampled_from(["iotbutton/X", "swan/push/web", "a/b/c", "$aws/events/x"]),
    json_payloads,
    st.none() | st.text(),
)
def test_evaluation_never_raises_and_returns_an_object(rule, topic, payload, client_id):
    output = rule.evaluate(Message(topic, payload, client_id, NOW_MS))
    assert output is None or isinstance(output, dict)
    if output is not None:
        json.dumps(output)  # the output is JSON: no Undefined leaks into it
        if rule.selects_payload:
            assert set(payload) <= set(output)
