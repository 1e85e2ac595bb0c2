"""Reading fields out of JSON payloads, with errors that name the bad field."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, NoReturn, TypeVar

from swan.core.errors import InvalidPayloadError
from swan.core.jsondoc import JsonDecodeFailedError, decode_json, is_unicode_text

T = TypeVar("T", bound=str)

Payload = bytes | bytearray | str | Mapping[str, Any]


class PayloadReader:
    """Typed access to one JSON object; `kind` names the message in error texts."""

    def __init__(self, kind: str, data: Mapping[str, Any], path: str = "") -> None:
        self.kind = kind
        self.data = data
        self.path = path

    @classmethod
    def decode(cls, kind: str, payload: Payload) -> PayloadReader:
        """Decode raw bytes or text as a JSON object (a mapping is taken as is)."""
        if isinstance(payload, Mapping):
            return cls(kind, payload)
        try:
            data = decode_json(payload)
        except (JsonDecodeFailedError, RecursionError) as error:
            raise InvalidPayloadError(kind, "payload", f"not JSON ({error})") from None
        if not isinstance(data, dict):
            raise InvalidPayloadError(kind, "payload", "must be a JSON object")
        return cls(kind, data)

    def fail(self, name: str, problem: str) -> NoReturn:
        raise InvalidPayloadError(self.kind, self._where(name), problem)

    def has(self, name: str) -> bool:
        return self.data.get(name) is not None

    def string(self, name: str, *, max_bytes: int = 256) -> str:
        value = self._required(name)
        if not isinstance(value, str) or not value:
            self.fail(name, "must be a non-empty string")
        if not is_unicode_text(value):
            self.fail(name, "is not Unicode text (a lone surrogate is not JSON)")
        if len(value.encode()) > max_bytes:
            self.fail(name, f"must be at most {max_bytes} bytes")
        return value

    def optional_string(self, name: str, *, max_bytes: int = 256) -> str | None:
        return self.string(name, max_bytes=max_bytes) if self.has(name) else None

    def choice(self, name: str, choices: tuple[T, ...]) -> T:
        value = self._required(name)
        matching = [choice for choice in choices if value == choice]
        if not matching:
            self.fail(name, f"must be one of {', '.join(choices)}")
        return matching[0]

    def number(self, name: str) -> float:
        value = self._required(name)
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            self.fail(name, "must be a number")
        return float(value)

    def optional_number(self, name: str) -> float | None:
        return self.number(name) if self.has(name) else None

    def count(self, name: str) -> int:
        value = self._required(name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            self.fail(name, "must be a whole number, 0 or more")
        return value

    def mapping(self, name: str) -> PayloadReader:
        value = self._required(name)
        if not isinstance(value, Mapping):
            self.fail(name, "must be an object")
        return PayloadReader(self.kind, value, self._where(name))

    def optional_mapping(self, name: str) -> PayloadReader | None:
        return self.mapping(name) if self.has(name) else None

    def _required(self, name: str) -> Any:
        value = self.data.get(name)
        if value is None:
            self.fail(name, "is required")
        return value

    def _where(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name
