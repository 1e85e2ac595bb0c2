"""Reading a JSON object field by field, each of the kind expected, or a clear error.

Pure. Errors name where in the document the problem is, as a dotted path (`job.load.seconds`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from swan.core.errors import SwanError

if TYPE_CHECKING:
    from collections.abc import Mapping


class InvalidJsonError(SwanError, ValueError):
    """A JSON document between the bench and a load process is not what the other expects."""

    def __init__(self, where: str, problem: str) -> None:
        self.where = where
        self.problem = problem
        super().__init__(f"invalid {where}: {problem}")


@dataclass(frozen=True)
class Fields:
    """The fields of one JSON object found at `where`."""

    values: Mapping[str, Any]
    where: str

    @classmethod
    def of(cls, value: object, where: str) -> Fields:
        if not isinstance(value, dict):
            raise InvalidJsonError(where, f"not an object but {_kind(value)}")
        return cls(value, where)

    def object(self, key: str) -> Fields:
        return Fields.of(self._get(key), self._at(key))

    def objects(self, key: str) -> list[Fields]:
        return [Fields.of(item, f"{self._at(key)}[{i}]") for i, item in enumerate(self._list(key))]

    def text(self, key: str) -> str:
        value = self._get(key)
        if not isinstance(value, str):
            raise InvalidJsonError(self._at(key), f"not a string but {_kind(value)}")
        return value

    def optional_text(self, key: str) -> str | None:
        return None if self._get(key) is None else self.text(key)

    def flag(self, key: str) -> bool:
        value = self._get(key)
        if not isinstance(value, bool):
            raise InvalidJsonError(self._at(key), f"not true or false but {_kind(value)}")
        return value

    def number(self, key: str) -> float:
        return _number(self._get(key), self._at(key))

    def positive(self, key: str) -> float:
        value = self.number(key)
        if value <= 0:
            raise InvalidJsonError(self._at(key), f"must be positive, not {value:g}")
        return value

    def count(self, key: str) -> int:
        value = self._get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InvalidJsonError(self._at(key), f"not a count but {_kind(value)}")
        return value

    def numbers(self, key: str) -> tuple[float, ...]:
        where = self._at(key)
        return tuple(_number(item, f"{where}[{i}]") for i, item in enumerate(self._list(key)))

    def _list(self, key: str) -> list[Any]:
        value = self._get(key)
        if not isinstance(value, list):
            raise InvalidJsonError(self._at(key), f"not a list but {_kind(value)}")
        return value

    def _get(self, key: str) -> Any:
        if key not in self.values:
            raise InvalidJsonError(self._at(key), "missing")
        return self.values[key]

    def _at(self, key: str) -> str:
        return f"{self.where}.{key}"


def _number(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidJsonError(where, f"not a number but {_kind(value)}")
    if not math.isfinite(value):
        raise InvalidJsonError(where, f"not a finite number: {value!r}")
    return float(value)


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f"the string {value!r}"[:60]
    if isinstance(value, int | float):
        return f"{value!r}"
    if isinstance(value, dict):
        return "an object"
    return "a list" if isinstance(value, list) else type(value).__name__
