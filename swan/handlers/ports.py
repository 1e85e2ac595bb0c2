"""The ports a push or expiry handler works through, built once per process."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from swan.adapters.clock import Clock
    from swan.adapters.history import History
    from swan.adapters.iotdata import ButtonShadow, Publisher
    from swan.adapters.scheduler import ExpiryScheduler
    from swan.core.countdown import Rules


@dataclass(frozen=True)
class Ports:
    shadow: ButtonShadow
    history: History
    scheduler: ExpiryScheduler
    publisher: Publisher
    clock: Clock
    rules: Rules
