"""AWS IoT substitution templates, as a Republish action's topic uses them."""

import pytest

from swan.local.core.iotsql import InvalidRuleError, Message, parse_expression
from swan.local.core.substitution import SubstitutionError, parse_template


def message(topic="swan/status/pi-kitchen", payload=None):
    return Message(topic, payload or {}, client_id="pi-kitchen", timestamp_ms=1700000000123)


def test_a_reserved_topic_with_the_thing_from_the_topic():
    template = parse_template("$$aws/things/${topic(3)}/shadow/update")
    assert template.render(message()) == "$aws/things/pi-kitchen/shadow/update"


@pytest.mark.parametrize(
    ("text", "rendered"),
    [
        ("plain/topic", "plain/topic"),
        ("${topic()}/copy", "swan/status/pi-kitchen/copy"),
        ("at/${timestamp()}", "at/1700000000123"),
        ("by/${clientid()}", "by/pi-kitchen"),
        ("level/${state.reported.level}", "level/3"),
        ("ok/${state.reported.online}", "ok/false"),
        ("name/${state.reported.name}", "name/kitchen"),
        ("a $ sign/${topic(1)}", "a $ sign/swan"),
        ("ends with $", "ends with $"),
        ("${topic(1)}${topic(2)}", "swanstatus"),
        ("", ""),
    ],
)
def test_each_expression_becomes_its_text(text, rendered):
    payload = {"state": {"reported": {"level": 3, "online": False, "name": "kitchen"}}}
    assert parse_template(text).render(message(payload=payload)) == rendered


@pytest.mark.parametrize(
    "text",
    ["x/${topic(9)}", "x/${missing}", "x/${state}", "x/${list}", "x/${nothing}"],
)
def test_an_expression_with_no_text_value_stops_the_action(text):
    payload = {"state": {"a": 1}, "list": [1], "nothing": None}
    with pytest.raises(SubstitutionError, match="no text value for 'swan/status/pi-kitchen'"):
        parse_template(text).render(message(payload=payload))


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("x/${topic(3)", "never closed"),
        ("x/${nosuch()}", "unknown function"),
        ("x/${topic(3) topic(2)}", "the end of the expression"),
    ],
)
def test_a_bad_template_is_refused_when_parsed(text, complaint):
    with pytest.raises(SubstitutionError, match=complaint):
        parse_template(text)


def test_an_expression_alone_parses_and_must_end():
    assert parse_expression("topic(3)") == parse_expression("TOPIC(3)")
    with pytest.raises(InvalidRuleError, match="expected the end of the expression"):
        parse_expression("a b")
