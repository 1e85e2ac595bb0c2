"""The expiry alarm clock: one EventBridge Scheduler schedule, moved to each new deadline.

On AWS this is EventBridge Scheduler; locally the stand-in serves the same API, chosen only
by `AWS_ENDPOINT_URL_SCHEDULER`.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any, Protocol


class ExpiryScheduler(Protocol):
    def schedule(self, at: float) -> None:
        """Make sure the expiry handler runs at `at` (epoch seconds), or soon after."""
        ...


def at_expression(at: float) -> str:
    """EventBridge's one-time schedule expression, rounded up to a whole second."""
    moment = datetime.fromtimestamp(math.ceil(at), UTC)
    return f"at({moment:%Y-%m-%dT%H:%M:%S})"


class EventBridgeExpiry:
    """`ExpiryScheduler` over boto3's `scheduler` client: one named schedule, updated."""

    def __init__(
        self,
        client: Any,
        *,
        name: str,
        group: str,
        target_arn: str,
        role_arn: str,
        event: dict[str, Any],
    ) -> None:
        self._client = client
        self._definition = {
            "Name": name,
            "GroupName": group,
            "ScheduleExpressionTimezone": "UTC",
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "Target": {"Arn": target_arn, "RoleArn": role_arn, "Input": json.dumps(event)},
            # Keep the schedule after it fires, so the next run only moves it.
            "ActionAfterCompletion": "NONE",
        }

    def schedule(self, at: float) -> None:
        request = {**self._definition, "ScheduleExpression": at_expression(at)}
        try:
            self._client.update_schedule(**request)
        except self._client.exceptions.ResourceNotFoundException:
            try:
                self._client.create_schedule(**request)
            except self._client.exceptions.ConflictException:
                # Another handler created it between our two calls: move it instead.
                self._client.update_schedule(**request)


class RecordingScheduler:
    """An `ExpiryScheduler` that keeps the times it was asked for."""

    def __init__(self) -> None:
        self.times: list[float] = []

    def schedule(self, at: float) -> None:
        self.times.append(at)
