"""The subset of AWS IoT SQL that The Swan's topic rules use: parse once, evaluate per message.

    SELECT <item>, ... FROM '<topic filter>' [WHERE <condition>]

An item is `*` (the payload object), or an expression with `AS name`; a bare field needs no
alias (its last segment names it, as in AWS). Expressions are fields (`a`, `a.b.c`), the
functions `topic()`, `topic(n)`, `clientid()`, `timestamp()` and `principal()`, string
literals in single quotes (no escapes), numbers, `true`, `false`, `NULL`, the comparisons
`= <> != < > <= >=`, `IS [NOT] NULL`, `AND`, `OR`, `NOT` and parentheses. Keywords and
function names are case-insensitive. Anything else raises `InvalidRuleError`.

Evaluation follows the AWS IoT SQL reference (iot-sql-data-types, iot-sql-operators):

- A missing field is *Undefined*, not NULL. An Undefined output value is left out of the
  output object, as AWS does when it serializes the result.
- A comparison with an Undefined operand, or between different types (a number and a
  string, say), is Undefined. Ordering (`<` ...) is defined for numbers only. Numbers compare
  by value (`1 = 1.0`); `true` is not `1`. `x IS NULL` holds for a JSON null only; for an
  Undefined `x` it is Undefined too.
- `AND`, `OR` and `NOT` take booleans or the strings "true"/"false" (any case); any other
  operand, Undefined included, makes the result Undefined, as the operator tables say. So
  `NOT (a = 'x')` does not hold when `a` is missing or a number.
- WHERE is evaluated first; the rule fires only when it is true. Undefined is not true.

A payload that is not a JSON object has no fields. With `*` AWS passes such a payload through
raw, and a Lambda action cannot take a raw (binary) payload (AWS: "Working with binary
payloads"; the rule should `encode(*, 'base64')` instead). A rule that selects `*` therefore
delivers nothing for a payload that is not a JSON object: `evaluate` returns None.
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import TYPE_CHECKING, Any, Final

from swan.core.errors import InvalidTopicError, SwanError
from swan.core.jsondoc import JsonDecodeFailedError, decode_json, json_equal
from swan.core.topics import SEPARATOR, matches, validate_filter, validate_topic

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

MAX_NESTING: Final = 32
"""Parentheses and NOTs deeper than this are refused, so parsing never recurses unboundedly."""

CLIENT_ID_UNKNOWN: Final = "n/a"
"""What `clientid()` returns for a message that did not come over MQTT (AWS's words)."""


class InvalidRuleError(SwanError, ValueError):
    """IoT SQL outside the supported subset. `offset` is the 0-based index into `sql`."""

    def __init__(self, sql: str, offset: int, problem: str) -> None:
        self.sql = sql
        self.offset = offset
        self.problem = problem
        super().__init__(f"invalid IoT SQL at offset {offset}: {problem}")


# ---------------------------------------------------------------- values


class _Undefined(Enum):
    """AWS IoT SQL's Undefined: not a value, never serialized."""

    UNDEFINED = "Undefined"


UNDEFINED: Final = _Undefined.UNDEFINED


def _kind(value: Any) -> str:
    # bool before int: in JSON `true` is not a number.
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if value is None:
        return "null"
    return type(value).__name__


def _boolean(value: Any) -> bool | _Undefined:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return UNDEFINED


# ---------------------------------------------------------------- the syntax tree


class Function(StrEnum):
    TOPIC = "topic"
    CLIENT_ID = "clientid"
    TIMESTAMP = "timestamp"
    PRINCIPAL = "principal"


class Operator(StrEnum):
    EQUAL = "="
    NOT_EQUAL = "<>"
    LESS = "<"
    GREATER = ">"
    LESS_OR_EQUAL = "<="
    GREATER_OR_EQUAL = ">="


_ORDERINGS: Final[dict[Operator, Callable[[Any, Any], bool]]] = {
    Operator.LESS: operator.lt,
    Operator.GREATER: operator.gt,
    Operator.LESS_OR_EQUAL: operator.le,
    Operator.GREATER_OR_EQUAL: operator.ge,
}


@dataclass(frozen=True)
class Field:
    """A payload field; `path` has one name per level (`a.b.c`)."""

    path: tuple[str, ...]


@dataclass(frozen=True)
class Literal:
    value: str | int | float | bool | None


@dataclass(frozen=True)
class Call:
    """A function call; `level` is topic(n)'s 1-based level, None for every other call."""

    function: Function
    level: int | None = None


@dataclass(frozen=True)
class Comparison:
    operator: Operator
    left: Expression
    right: Expression


@dataclass(frozen=True)
class NullTest:
    operand: Expression
    negated: bool = False


@dataclass(frozen=True)
class Not:
    operand: Expression


@dataclass(frozen=True)
class And:
    operands: tuple[Expression, ...]


@dataclass(frozen=True)
class Or:
    operands: tuple[Expression, ...]


Expression = Field | Literal | Call | Comparison | NullTest | Not | And | Or


@dataclass(frozen=True)
class AllFields:
    """`*`: every member of the payload object."""


@dataclass(frozen=True)
class Column:
    """One selected expression and the output key it is stored under."""

    expression: Expression
    name: str


SelectItem = AllFields | Column


# ---------------------------------------------------------------- messages


def decode_payload(raw: bytes) -> Any:
    """The JSON value of a message payload, or None when the payload is not JSON.

    A string escape that spells half of a surrogate pair (`"\\ud800"`) is read as JSON here,
    not refused. AWS documents nothing about it; the stand-in's choice (docs/reliability.md)
    is to hand such a payload to the action, whose handler refuses it as invalid input and
    still answers (swan.core.fields), where dropping it would leave a push unanswered.
    """
    try:
        return decode_json(raw, lone_surrogates=True)
    except (JsonDecodeFailedError, RecursionError):
        return None


@dataclass(frozen=True)
class Message:
    """One MQTT message as a rule sees it.

    `payload` is the decoded JSON, or None when the payload is not JSON (a JSON `null`
    payload has nothing to select either). `client_id` is None when the message did not come
    over MQTT; `principal` is the authenticated principal (the certificate id), if known.
    """

    topic: str
    payload: Any
    client_id: str | None
    timestamp_ms: int
    principal: str | None = None

    def __post_init__(self) -> None:
        validate_topic(self.topic)

    @classmethod
    def from_bytes(
        cls,
        topic: str,
        raw: bytes,
        *,
        client_id: str | None,
        timestamp_ms: int,
        principal: str | None = None,
    ) -> Message:
        return cls(topic, decode_payload(raw), client_id, timestamp_ms, principal)


# ---------------------------------------------------------------- evaluation


def _field(path: tuple[str, ...], payload: Any) -> Any:
    value = payload
    for name in path:
        if not isinstance(value, dict) or name not in value:
            return UNDEFINED
        value = value[name]
    return value


def _call(call: Call, message: Message) -> Any:
    if call.function is Function.TOPIC:
        if call.level is None:
            return message.topic
        levels = message.topic.split(SEPARATOR)
        return levels[call.level - 1] if call.level <= len(levels) else UNDEFINED
    if call.function is Function.CLIENT_ID:
        return CLIENT_ID_UNKNOWN if message.client_id is None else message.client_id
    if call.function is Function.TIMESTAMP:
        return message.timestamp_ms
    return UNDEFINED if message.principal is None else message.principal


def _compare(comparison: Comparison, message: Message) -> Any:
    left = _value(comparison.left, message)
    right = _value(comparison.right, message)
    if left is UNDEFINED or right is UNDEFINED or _kind(left) != _kind(right):
        return UNDEFINED
    if comparison.operator in (Operator.EQUAL, Operator.NOT_EQUAL):
        try:
            equal = json_equal(left, right)
        except RecursionError:  # two absurdly deep trees: no answer rather than a crash
            return UNDEFINED
        return equal if comparison.operator is Operator.EQUAL else not equal
    if _kind(left) != "number":
        return UNDEFINED
    return _ORDERINGS[comparison.operator](left, right)


def _connective(
    operands: tuple[Expression, ...], message: Message, combine: Callable[[Iterable[object]], bool]
) -> Any:
    values = [_boolean(_value(operand, message)) for operand in operands]
    if any(value is UNDEFINED for value in values):
        return UNDEFINED
    return combine(values)


def _value(expression: Expression, message: Message) -> Any:  # noqa: PLR0911 - one per node type
    match expression:
        case Field(path):
            return _field(path, message.payload)
        case Literal(value):
            return value
        case Call():
            return _call(expression, message)
        case Comparison():
            return _compare(expression, message)
        case NullTest(operand, negated):
            tested = _value(operand, message)
            return UNDEFINED if tested is UNDEFINED else (tested is None) != negated
        case Not(operand):
            truth = _boolean(_value(operand, message))
            return UNDEFINED if truth is UNDEFINED else not truth
        case And(operands):
            return _connective(operands, message, all)
        case Or(operands):
            return _connective(operands, message, any)
    raise AssertionError(expression)


@dataclass(frozen=True)
class Rule:
    """A parsed topic rule statement. Build it with `parse_rule`."""

    sql: str
    items: tuple[SelectItem, ...]
    topic_filter: str
    where: Expression | None = None

    @property
    def selects_payload(self) -> bool:
        """True when the rule selects `*`, so it delivers nothing for non-object payloads."""
        return any(isinstance(item, AllFields) for item in self.items)

    def matches_topic(self, topic: str) -> bool:
        """Whether a message on `topic` reaches this rule (raises InvalidTopicError if invalid)."""
        return matches(self.topic_filter, topic)

    def evaluate(self, message: Message) -> dict[str, Any] | None:
        """The object AWS hands the rule's actions, or None when the rule does not fire.

        Items are applied in order, so a later one overrides a key of an earlier one (`*`
        first, then `topic(2) AS serial`). The result shares nested values with the payload.
        """
        if not self.matches_topic(message.topic):
            return None
        if self.where is not None and _boolean(_value(self.where, message)) is not True:
            return None
        output: dict[str, Any] = {}
        for item in self.items:
            if isinstance(item, AllFields):
                if not isinstance(message.payload, dict):
                    return None
                output.update(message.payload)
                continue
            value = _value(item.expression, message)
            if value is not UNDEFINED:
                output[item.name] = value
        return output


# ---------------------------------------------------------------- tokens


class _Kind(Enum):
    NAME = "name"
    NUMBER = "number"
    STRING = "string"
    SYMBOL = "symbol"
    END = "end"


@dataclass(frozen=True)
class _Token:
    kind: _Kind
    text: str
    offset: int

    def is_keyword(self, *keywords: str) -> bool:
        return self.kind is _Kind.NAME and self.text.upper() in keywords

    def is_symbol(self, *symbols: str) -> bool:
        return self.kind is _Kind.SYMBOL and self.text in symbols

    def describe(self) -> str:
        return "the end of the statement" if self.kind is _Kind.END else repr(self.text)


_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER: Final = re.compile(r"-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
# Two-character symbols first, so `<=` is not read as `<` then `=`.
_SYMBOLS: Final = ("<>", "!=", "<=", ">=", "(", ")", ",", ".", "*", "=", "<", ">")
_SPACE: Final = frozenset(" \t\r\n")
_QUOTE: Final = "'"

_RESERVED: Final = frozenset(
    ("SELECT", "FROM", "WHERE", "AS", "AND", "OR", "NOT", "IS", "NULL", "TRUE", "FALSE")
)
_COMPARISONS: Final = {
    "=": Operator.EQUAL,
    "<>": Operator.NOT_EQUAL,
    "!=": Operator.NOT_EQUAL,
    "<": Operator.LESS,
    ">": Operator.GREATER,
    "<=": Operator.LESS_OR_EQUAL,
    ">=": Operator.GREATER_OR_EQUAL,
}
_KEYWORD_LITERALS: Final = {"TRUE": True, "FALSE": False, "NULL": None}


def _tokenize(sql: str) -> list[_Token]:
    tokens: list[_Token] = []
    offset = 0
    while offset < len(sql):
        char = sql[offset]
        if char in _SPACE:
            offset += 1
            continue
        if char == _QUOTE:
            end = sql.find(_QUOTE, offset + 1)
            if end < 0:
                raise InvalidRuleError(sql, offset, "this string literal has no closing quote")
            tokens.append(_Token(_Kind.STRING, sql[offset + 1 : end], offset))
            offset = end + 1
            continue
        for kind, pattern in ((_Kind.NAME, _NAME), (_Kind.NUMBER, _NUMBER)):
            found = pattern.match(sql, offset)
            if found is not None:
                tokens.append(_Token(kind, found.group(), offset))
                offset = found.end()
                break
        else:
            symbol = next((s for s in _SYMBOLS if sql.startswith(s, offset)), None)
            if symbol is None:
                raise InvalidRuleError(sql, offset, f"unexpected character {char!r}")
            tokens.append(_Token(_Kind.SYMBOL, symbol, offset))
            offset += len(symbol)
    tokens.append(_Token(_Kind.END, "", len(sql)))
    return tokens


# ---------------------------------------------------------------- parsing


class _Parser:
    """Recursive descent over the token list; nesting is bounded by MAX_NESTING."""

    def __init__(self, sql: str) -> None:
        self.sql = sql
        self.tokens = _tokenize(sql)
        self.index = 0
        self.depth = 0

    @property
    def token(self) -> _Token:
        return self.tokens[self.index]

    def advance(self) -> _Token:
        token = self.token
        if token.kind is not _Kind.END:
            self.index += 1
        return token

    def fail(self, expected: str, token: _Token | None = None) -> InvalidRuleError:
        token = self.token if token is None else token
        return InvalidRuleError(
            self.sql, token.offset, f"expected {expected}, found {token.describe()}"
        )

    def keyword(self, keyword: str) -> _Token:
        if not self.token.is_keyword(keyword):
            raise self.fail(keyword)
        return self.advance()

    def symbol(self, symbol: str, expected: str) -> None:
        if not self.token.is_symbol(symbol):
            raise self.fail(expected)
        self.advance()

    def nest(self, token: _Token) -> None:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise InvalidRuleError(
                self.sql, token.offset, f"nesting deeper than {MAX_NESTING} levels"
            )

    # statement := SELECT items FROM 'filter' [WHERE condition]
    def statement(self) -> Rule:
        self.keyword("SELECT")
        items = [self.item()]
        while self.token.is_symbol(","):
            self.advance()
            items.append(self.item())
        self.keyword("FROM")
        topic_filter = self.topic_filter()
        where = None
        if self.token.is_keyword("WHERE"):
            self.advance()
            where = self.condition()
        if self.token.kind is not _Kind.END:
            raise self.fail("WHERE or the end" if where is None else "AND, OR or the end")
        return Rule(self.sql, tuple(items), topic_filter, where)

    def item(self) -> SelectItem:
        if self.token.is_symbol("*"):
            self.advance()
            return AllFields()
        start = self.token
        expression = self.condition()
        if self.token.is_keyword("AS"):
            self.advance()
            return Column(expression, self.name("a name after AS"))
        if isinstance(expression, Field):
            return Column(expression, expression.path[-1])
        raise self.fail(f"AS and a name for the expression at offset {start.offset}")

    def topic_filter(self) -> str:
        token = self.token
        if token.kind is not _Kind.STRING:
            raise self.fail("a topic filter in single quotes")
        try:
            validate_filter(token.text)
        except InvalidTopicError as error:
            raise InvalidRuleError(self.sql, token.offset, str(error)) from None
        self.advance()
        return token.text

    def name(self, expected: str) -> str:
        token = self.token
        if token.kind is not _Kind.NAME or token.text.upper() in _RESERVED:
            raise self.fail(expected)
        self.advance()
        return token.text

    # condition := conjunction (OR conjunction)*
    def condition(self) -> Expression:
        operands = [self.conjunction()]
        while self.token.is_keyword("OR"):
            self.advance()
            operands.append(self.conjunction())
        return operands[0] if len(operands) == 1 else Or(tuple(operands))

    # conjunction := negation (AND negation)*
    def conjunction(self) -> Expression:
        operands = [self.negation()]
        while self.token.is_keyword("AND"):
            self.advance()
            operands.append(self.negation())
        return operands[0] if len(operands) == 1 else And(tuple(operands))

    # negation := NOT negation | comparison
    def negation(self) -> Expression:
        if not self.token.is_keyword("NOT"):
            return self.comparison()
        self.nest(self.advance())
        operand = self.negation()
        self.depth -= 1
        return Not(operand)

    # comparison := operand [op operand | IS [NOT] NULL]
    def comparison(self) -> Expression:
        left = self.operand()
        token = self.token
        if token.kind is _Kind.SYMBOL and token.text in _COMPARISONS:
            self.advance()
            return Comparison(_COMPARISONS[token.text], left, self.operand())
        if token.is_keyword("IS"):
            self.advance()
            negated = self.token.is_keyword("NOT")
            if negated:
                self.advance()
            self.keyword("NULL")
            return NullTest(left, negated)
        return left

    # operand := '(' condition ')' | literal | name '(' args ')' | name ('.' name)*
    def operand(self) -> Expression:
        token = self.advance()
        if token.is_symbol("("):
            self.nest(token)
            inner = self.condition()
            self.symbol(")", "')' to close the '(' at offset " + str(token.offset))
            self.depth -= 1
            return inner
        if token.kind is _Kind.STRING:
            return Literal(token.text)
        if token.kind is _Kind.NUMBER:
            return Literal(self.number(token))
        if token.kind is _Kind.NAME and token.text.upper() in _KEYWORD_LITERALS:
            return Literal(_KEYWORD_LITERALS[token.text.upper()])
        if token.kind is not _Kind.NAME or token.text.upper() in _RESERVED:
            raise self.fail("a field, a function, a literal or '('", token)
        if self.token.is_symbol("("):
            return self.call(token)
        path = [token.text]
        while self.token.is_symbol("."):
            self.advance()
            path.append(self.name("a field name after '.'"))
        return Field(tuple(path))

    def number(self, token: _Token) -> int | float:
        try:
            if token.text.lstrip("-").isdigit():
                return int(token.text)
            value = float(token.text)
        except ValueError:  # more digits than int() converts
            raise InvalidRuleError(self.sql, token.offset, "this number is too long") from None
        if value in (float("inf"), float("-inf")):
            raise InvalidRuleError(self.sql, token.offset, "this number is out of range")
        return value

    def call(self, name: _Token) -> Call:
        try:
            function = Function(name.text.lower())
        except ValueError:
            known = ", ".join(f"{f}()" for f in Function)
            raise InvalidRuleError(
                self.sql, name.offset, f"unknown function {name.text!r}: this subset has {known}"
            ) from None
        self.advance()  # the '('
        level = None
        if function is Function.TOPIC and self.token.kind is _Kind.NUMBER:
            level = self.level()
        self.symbol(")", f"')' to close {name.text}(")
        return Call(function, level)

    def level(self) -> int:
        token = self.advance()
        value = self.number(token)
        if not isinstance(value, int) or value < 1:
            raise self.fail("a topic level: a whole number from 1", token)
        return value

    # expression := condition, alone (the inside of a substitution template's ${...})
    def expression(self) -> Expression:
        found = self.condition()
        if self.token.kind is not _Kind.END:
            raise self.fail("the end of the expression")
        return found


def parse_rule(sql: str) -> Rule:
    """Parse an IoT SQL statement; raises `InvalidRuleError` for anything outside the subset."""
    return _Parser(sql).statement()


def parse_expression(text: str) -> Expression:
    """Parse one expression of the subset (`topic(3)`, `a.b`, ...); `InvalidRuleError` if not."""
    return _Parser(text).expression()


def evaluate(expression: Expression, message: Message) -> Any:
    """The value of `expression` for `message`; `UNDEFINED` when it has none."""
    return _value(expression, message)
