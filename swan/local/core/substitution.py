"""AWS IoT substitution templates: `${expression}` in a rule action's settings. Pure.

A Republish action's topic may hold `${topic(3)}` and the like: each `${...}` is replaced by
the value of the IoT SQL expression inside it (swan.local.core.iotsql's subset), evaluated for the
message the rule fired on. `$$` stands for one `$`, so a rule can republish to a reserved
topic: `$$aws/things/${topic(3)}/shadow/update` (AWS IoT's Republish action reference).
A `$` followed by anything else is itself.

An expression with no value (a missing field, a topic level the topic does not have) or
whose value is not a string, a number or a boolean has nothing to put in a topic:
`render` raises `SubstitutionError`, and the action does not run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from swan.core.errors import SwanError
from swan.local.core.iotsql import UNDEFINED, evaluate, parse_expression

if TYPE_CHECKING:
    from swan.local.core.iotsql import Expression, Message

OPEN: Final = "${"
CLOSE: Final = "}"
ESCAPED_DOLLAR: Final = "$$"


class SubstitutionError(SwanError, ValueError):
    """A template that cannot be parsed, or cannot be rendered for one message."""


@dataclass(frozen=True)
class Template:
    """A parsed template: literal text and expressions, in order."""

    text: str
    parts: tuple[str | Expression, ...]

    def render(self, message: Message) -> str:
        rendered = []
        for part in self.parts:
            if isinstance(part, str):
                rendered.append(part)
                continue
            value = evaluate(part, message)
            if value is UNDEFINED or value is None or isinstance(value, dict | list):
                raise SubstitutionError(
                    f"{self.text!r}: an expression has no text value for {message.topic!r}"
                )
            rendered.append(value if isinstance(value, str) else json.dumps(value))
        return "".join(rendered)


def parse_template(text: str) -> Template:
    """Split `text` into literal parts and `${...}` expressions; `SubstitutionError` if an
    expression is not closed or not one of the IoT SQL subset."""
    parts: list[str | Expression] = []
    literal: list[str] = []
    index = 0
    while index < len(text):
        if text.startswith(ESCAPED_DOLLAR, index):
            literal.append("$")
            index += len(ESCAPED_DOLLAR)
        elif text.startswith(OPEN, index):
            end = text.find(CLOSE, index)
            if end < 0:
                raise SubstitutionError(f"{text!r}: '${{' at {index} is never closed")
            try:
                expression = parse_expression(text[index + len(OPEN) : end])
            except ValueError as error:
                raise SubstitutionError(f"{text!r}: {error}") from None
            if literal:
                parts.append("".join(literal))
                literal = []
            parts.append(expression)
            index = end + len(CLOSE)
        else:
            literal.append(text[index])
            index += 1
    if literal:
        parts.append("".join(literal))
    return Template(text, tuple(parts))
