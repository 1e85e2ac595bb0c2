"""The button shadow held in memory with the stand-in's shadow semantics, for tests.

A `ButtonShadow` (swan.adapters.iotdata) without a service: the handlers' unit tests run
against it. It lives beside the stand-in, whose pure half (swan.local.core.shadow) it runs,
so that the adapters the Lambda layer carries import nothing of the stand-in.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from swan.adapters.iotdata import VERSION_CONFLICT_CODE, Snapshot, VersionConflictError
from swan.core.button_shadow import from_shadow_state, to_update
from swan.local.core.shadow import (
    Rejection,
    ShadowKey,
    ShadowRejectedError,
    apply_update,
    get_document,
)

if TYPE_CHECKING:
    from swan.core.countdown import Countdown
    from swan.local.core.shadow import StoredShadow


class MemoryShadow:
    """A `ButtonShadow` held in memory with the real shadow semantics (swan.local.core.shadow).

    `conflict_next` makes the next write fail as if someone else had written first.
    """

    def __init__(self, thing: str = "button") -> None:
        self.key = ShadowKey(thing)
        self.stored: StoredShadow | None = None
        self.writes: list[Countdown] = []
        self.reads = 0
        self.conflict_next = 0

    def read(self) -> Snapshot:
        self.reads += 1
        document = get_document(self.stored, key=self.key, now=0)
        if not isinstance(document, dict):
            return Snapshot(None, None)
        return Snapshot(from_shadow_state(document["state"]), document["version"])

    def write(self, countdown: Countdown, version: int | None) -> int:
        if self.conflict_next:
            self.conflict_next -= 1
            raise VersionConflictError(self.key.thing, version)
        request = json.dumps(to_update(countdown, version=version)).encode()
        result = apply_update(self.stored, request, now=countdown.updated_at)
        if isinstance(result, Rejection):
            if result.code == VERSION_CONFLICT_CODE:
                raise VersionConflictError(self.key.thing, version)
            raise ShadowRejectedError(result)
        self.stored = result.shadow
        self.writes.append(countdown)
        return result.shadow.version
