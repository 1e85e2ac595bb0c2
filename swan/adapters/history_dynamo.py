"""Push history in DynamoDB (the `HistoryTable` of sam/template.yaml): the `History` port on AWS.

Same behaviour as `SqliteHistory`: numbers 1, 2, 3... with no gaps, the per-principal rate
limit decided atomically with the recording, and a redelivered request (same principal and
clientToken) recognised as the push it was. One table, two string keys (`pk`, `sk`):

| item | pk | sk | attributes |
|---|---|---|---|
| push number n | `push` | n, 20 digits | `number`, `at`, `by`, `source`, `clickType`, |
| | | | `principal`, `clientToken` (if any) |
| the last number given | `sequence` | `push` | `last` |
| a principal's last push | `principal#<principal>` | `last-push` | `at` |
| a request seen | `principal#<principal>` | `token#<clientToken>` | `number` |
| a counter | `counter` | its name | `value` |
| the shadow's writer | `writer` | `shadow` | `written`, `holder`, `until` |

Recording is optimistic: read the sequence, the principal's last push and the token in one
consistent `TransactGetItems`, decide with the same core rules as SQLite, then write the
push, the next sequence number, the principal's last push and the token in one
`TransactWriteItems` whose conditions say that none of what was read has changed. A writer
that lost the race re-reads and decides again, so a number is given only when its push is
stored, and two pushes from one principal can never both pass the rate limit. Each write
attempt carries its own `ClientRequestToken`, so the SDK's own retry of that attempt (after
an answer lost on the way back) is the same write to DynamoDB, not a second one that fails.
Every push is in one partition (`push`), which is what makes `since` and `recent` single
queries; that partition takes about a thousand writes a second, far more than the button's
shadow (20 a second) ever shows.
"""

from __future__ import annotations

import contextlib
import random
import time
import uuid
from typing import TYPE_CHECKING, Any, Final

from swan.adapters.history import Duplicate, Entry, Recorded
from swan.core.countdown import Push, Refused
from swan.core.errors import SwanError
from swan.core.ratelimit import check_rate

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

PUSH_PARTITION: Final = "push"
SEQUENCE_KEY: Final = ("sequence", "push")
WRITER_KEY: Final = ("writer", "shadow")
COUNTER_PARTITION: Final = "counter"
NUMBER_DIGITS: Final = 20
# Enough for a burst of concurrent handlers: each attempt loses only to a push that won.
MAX_ATTEMPTS: Final = 60
MAX_BACKOFF_SECONDS: Final = 0.05


class HistoryContendedError(SwanError, RuntimeError):
    """Other writers won every attempt; Lambda retries the whole invocation."""

    def __init__(self, table: str, attempts: int) -> None:
        self.table = table
        self.attempts = attempts
        super().__init__(f"history table {table}: no push recorded after {attempts} attempts")


def sort_key(number: int) -> str:
    """A push number as the sort key: zero-padded, so text order is number order."""
    return f"{number:0{NUMBER_DIGITS}d}"


def _key(pk: str, sk: str) -> dict[str, dict[str, str]]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def _principal_partition(principal: str) -> str:
    return f"principal#{principal}"


def _number(value: float) -> dict[str, str]:
    # repr() of a float is the shortest text that reads back as the same float.
    return {"N": repr(value) if isinstance(value, float) else str(value)}


class DynamoHistory:
    """`History` over boto3's low-level `dynamodb` client and one table."""

    def __init__(
        self,
        client: Any,
        table: str,
        *,
        page_size: int | None = None,
        max_attempts: int = MAX_ATTEMPTS,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self.table = table
        self._page_size = page_size
        self._max_attempts = max_attempts
        self._sleep = sleep

    # ------------------------------------------------------------ recording

    def record(
        self, push: Push, *, principal: str, client_token: str | None, min_interval: float
    ) -> Recorded | Duplicate | Refused:
        for attempt in range(self._max_attempts):
            outcome = self._try_record(push, principal, client_token, min_interval)
            if outcome is not None:
                return outcome
            self._sleep(random.uniform(0, min(MAX_BACKOFF_SECONDS, 0.002 * 2**attempt)))  # noqa: S311
        raise HistoryContendedError(self.table, self._max_attempts)

    def screen(
        self, at: float, *, principal: str, client_token: str | None, min_interval: float
    ) -> Duplicate | Refused | None:
        read = self._read(principal, client_token)
        if read is None:  # a write on these items was in flight: let `record` decide
            return None
        return self._decided(read, at, min_interval)[2]

    def _read(self, principal: str, client_token: str | None) -> list[Any] | None:
        """The sequence, the principal's last push and its token, in one consistent read;
        None when a write transaction on them was in flight."""
        partition = _principal_partition(principal)
        keys = [SEQUENCE_KEY, (partition, "last-push")]
        if client_token is not None:
            keys.append((partition, f"token#{client_token}"))
        try:
            response = self._client.transact_get_items(
                TransactItems=[{"Get": {"TableName": self.table, "Key": _key(*k)}} for k in keys]
            )
        except self._client.exceptions.TransactionCanceledException:
            return None
        return [r.get("Item") for r in response["Responses"]]

    @staticmethod
    def _decided(
        read: list[Any], at: float, min_interval: float
    ) -> tuple[Any, float | None, Duplicate | Refused | None]:
        sequence, last_push, *token = read
        last_at = float(last_push["at"]["N"]) if last_push else None
        if token and token[0] is not None:
            return sequence, last_at, Duplicate(int(token[0]["number"]["N"]))
        return sequence, last_at, check_rate(last_at, at, min_interval)

    def _try_record(
        self, push: Push, principal: str, client_token: str | None, min_interval: float
    ) -> Recorded | Duplicate | Refused | None:
        """One optimistic attempt; None when another writer got in between."""
        partition = _principal_partition(principal)
        read = self._read(principal, client_token)
        if read is None:
            return None
        sequence, last_at, decided = self._decided(read, push.at, min_interval)
        if decided is not None:
            return decided
        last = int(sequence["last"]["N"]) if sequence else 0
        number = last + 1
        writes = [
            self._advance_sequence(last, number),
            self._put_push(push, number, principal, client_token),
            self._move_last_push(partition, last_at, push.at),
        ]
        if client_token is not None:
            writes.append(self._put_token(partition, client_token, number))
        try:
            # One token per attempt: if the SDK resends this call after a lost answer,
            # DynamoDB recognises it (for 10 minutes) instead of failing its conditions on
            # what the first send already wrote, which would read as rate-limited.
            self._client.transact_write_items(
                TransactItems=writes, ClientRequestToken=str(uuid.uuid4())
            )
        except self._client.exceptions.TransactionCanceledException:
            return None
        return Recorded(number)

    def _advance_sequence(self, last: int, number: int) -> dict[str, Any]:
        update: dict[str, Any] = {
            "TableName": self.table,
            "Key": _key(*SEQUENCE_KEY),
            "UpdateExpression": "SET #last = :number",
            "ExpressionAttributeNames": {"#last": "last"},
            "ExpressionAttributeValues": {":number": _number(number)},
        }
        if last == 0:
            update["ConditionExpression"] = "attribute_not_exists(#last)"
        else:
            update["ConditionExpression"] = "#last = :last"
            update["ExpressionAttributeValues"][":last"] = _number(last)
        return {"Update": update}

    def _put_push(
        self, push: Push, number: int, principal: str, client_token: str | None
    ) -> dict[str, Any]:
        item = {
            **_key(PUSH_PARTITION, sort_key(number)),
            "number": _number(number),
            "at": _number(push.at),
            "by": {"S": push.by},
            "source": {"S": push.source},
            "clickType": {"S": push.click_type},
            "principal": {"S": principal},
        }
        if client_token is not None:
            item["clientToken"] = {"S": client_token}
        return {
            "Put": {
                "TableName": self.table,
                "Item": item,
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }

    def _move_last_push(self, partition: str, last_at: float | None, at: float) -> dict[str, Any]:
        update: dict[str, Any] = {
            "TableName": self.table,
            "Key": _key(partition, "last-push"),
            "UpdateExpression": "SET #at = :at",
            "ExpressionAttributeNames": {"#at": "at"},
            # A push stamped earlier than the last one (clocks differ between handlers)
            # leaves the later time: the limit counts from the latest push, as in SQLite.
            "ExpressionAttributeValues": {
                ":at": _number(at if last_at is None else max(at, last_at))
            },
        }
        if last_at is None:
            update["ConditionExpression"] = "attribute_not_exists(#at)"
        else:
            update["ConditionExpression"] = "#at = :seen"
            update["ExpressionAttributeValues"][":seen"] = _number(last_at)
        return {"Update": update}

    def _put_token(self, partition: str, client_token: str, number: int) -> dict[str, Any]:
        return {
            "Put": {
                "TableName": self.table,
                "Item": {**_key(partition, f"token#{client_token}"), "number": _number(number)},
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }

    # ------------------------------------------------------------ reading

    def since(self, number: int) -> list[tuple[int, Push]]:
        items = self._query(
            "pk = :pk AND sk > :after",
            {":pk": {"S": PUSH_PARTITION}, ":after": {"S": sort_key(max(0, number))}},
        )
        return [(int(item["number"]["N"]), _push(item)) for item in items]

    def recent(self, limit: int) -> list[Entry]:
        if limit <= 0:
            return []
        response = self._client.query(
            TableName=self.table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": PUSH_PARTITION}},
            ScanIndexForward=False,
            ConsistentRead=True,
            Limit=limit,
        )
        return [
            Entry(int(item["number"]["N"]), _push(item), item["principal"]["S"])
            for item in response["Items"]
        ]

    # ------------------------------------------------------------ counters

    def count(self, counter: str) -> None:
        self._client.update_item(
            TableName=self.table,
            Key=_key(COUNTER_PARTITION, counter),
            UpdateExpression="ADD #value :one",
            ExpressionAttributeNames={"#value": "value"},
            ExpressionAttributeValues={":one": {"N": "1"}},
        )

    def counters(self) -> dict[str, int]:
        items = self._query("pk = :pk", {":pk": {"S": COUNTER_PARTITION}})
        return {item["sk"]["S"]: int(item["value"]["N"]) for item in items}

    # ------------------------------------------------------------ the shadow's writer

    def written(self) -> int:
        item = self._client.get_item(
            TableName=self.table, Key=_key(*WRITER_KEY), ConsistentRead=True
        ).get("Item", {})
        return int(item["written"]["N"]) if "written" in item else 0

    def mark_written(self, number: int) -> None:
        self._unless_outdone(
            UpdateExpression="SET #written = :number",
            ConditionExpression="attribute_not_exists(#written) OR #written < :number",
            ExpressionAttributeNames={"#written": "written"},
            ExpressionAttributeValues={":number": _number(number)},
        )

    def claim_writer(self, owner: str, *, now: float, hold: float) -> float | None:
        try:
            self._client.update_item(
                TableName=self.table,
                Key=_key(*WRITER_KEY),
                UpdateExpression="SET #holder = :owner, #until = :until",
                ConditionExpression="attribute_not_exists(#until) OR #until <= :now",
                ExpressionAttributeNames={"#holder": "holder", "#until": "until"},
                ExpressionAttributeValues={
                    ":owner": {"S": owner},
                    ":until": _number(now + hold),
                    ":now": _number(now),
                },
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except self._client.exceptions.ConditionalCheckFailedException as error:
            item = error.response.get("Item") or self._client.get_item(
                TableName=self.table, Key=_key(*WRITER_KEY), ConsistentRead=True
            ).get("Item", {})
            return float(item["until"]["N"]) if "until" in item else now
        return None

    def release_writer(self, owner: str, *, not_before: float) -> None:
        self._unless_outdone(
            UpdateExpression="SET #until = :until REMOVE #holder",
            ConditionExpression="#holder = :owner",
            ExpressionAttributeNames={"#holder": "holder", "#until": "until"},
            ExpressionAttributeValues={":owner": {"S": owner}, ":until": _number(not_before)},
        )

    def _unless_outdone(self, **update: Any) -> None:
        """An update of the writer's item that is moot when its condition fails (a later
        write was already marked; the claim had lapsed and another handler took it)."""
        with contextlib.suppress(self._client.exceptions.ConditionalCheckFailedException):
            self._client.update_item(TableName=self.table, Key=_key(*WRITER_KEY), **update)

    def _query(self, condition: str, values: dict[str, Any]) -> Iterator[dict[str, Any]]:
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
            "ConsistentRead": True,
        }
        if self._page_size is not None:
            request["Limit"] = self._page_size
        while True:
            response = self._client.query(**request)
            yield from response["Items"]
            if "LastEvaluatedKey" not in response:
                return
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def _push(item: dict[str, Any]) -> Push:
    return Push(
        float(item["at"]["N"]), item["by"]["S"], item["source"]["S"], item["clickType"]["S"]
    )
