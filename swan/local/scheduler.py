"""The local stand-in for EventBridge Scheduler: one-time `at()` schedules that invoke a
function of the template when they come due.

It serves the part of the Scheduler API the handlers use (Create/Update/Get/DeleteSchedule)
so that `boto3.client("scheduler")` works unchanged, keeps schedules in SQLite so they
survive a restart, and fires them from one timer thread.

A schedule fires as EventBridge Scheduler fires it: with its target's execution role
(`Target.RoleArn`), which must trust `scheduler.amazonaws.com` and allow
`lambda:InvokeFunction` on the target function ("Set up the execution role":
https://docs.aws.amazon.com/scheduler/latest/UserGuide/setting-up.html).
Otherwise the invocation fails. On AWS a failed invocation is retried under the target's
RetryPolicy (at most 185 attempts within at most 24 hours:
https://docs.aws.amazon.com/scheduler/latest/APIReference/API_RetryPolicy.html), then
handed to its dead-letter queue if it has one, else dropped
(https://docs.aws.amazon.com/scheduler/latest/UserGuide/configuring-schedule-dlq.html).
Locally the roles are read once from the template and cannot change while the stack runs,
so a retry would be refused the same way: the refusal is logged once, as an error, and
the event dropped (the template's schedules name no dead-letter queue).
"""

from __future__ import annotations

import json
import logging
import re
import threading
from calendar import timegm
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from swan.adapters.sqlite import Database, DatabaseError, Schema
from swan.local.authorization import (
    NO_SERVICE_ROLES,
    SCHEDULER_SERVICE,
    Check,
    ServiceRoleError,
    ServiceRoles,
)
from swan.local.httpapi import (
    SCHEDULER_ERRORS,
    ApiError,
    JsonApi,
    Request,
    Response,
    ServerLimits,
)

if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Callable
    from pathlib import Path

    from swan.adapters.clock import Clock

log = logging.getLogger(__name__)

_AT = re.compile(r"at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)")
_NAME = r"[0-9a-zA-Z-_.]{1,64}"
DEFAULT_GROUP = "default"

SCHEMA: Final = Schema(
    version=1,
    create=(
        """CREATE TABLE IF NOT EXISTS schedules (
            grp TEXT, name TEXT, definition TEXT, due REAL, fired INTEGER,
            PRIMARY KEY (grp, name))""",
    ),
)


class SchedulerDatabaseError(DatabaseError):
    """The schedules' database cannot be opened, read or written: it names the file."""

    what = "scheduler database"


def parse_at(expression: str, timezone: str = "UTC") -> float:
    """Epoch seconds of a one-time `at(yyyy-mm-ddThh:mm:ss)` expression."""
    found = _AT.fullmatch(expression)
    if found is None:
        raise ApiError(
            400,
            "ValidationException",
            f"Invalid Schedule Expression {expression!r}: only one-time at() schedules run locally",
        )
    if timezone != "UTC":
        raise ApiError(400, "ValidationException", "only the UTC timezone runs locally")
    moment = datetime.strptime(found.group(1), "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    return float(timegm(moment.timetuple()))


@dataclass(frozen=True)
class Schedule:
    group: str
    name: str
    definition: dict[str, Any]
    due: float
    fired: bool = False

    @property
    def target_arn(self) -> str:
        return str(self.definition["Target"]["Arn"])

    @property
    def role_arn(self) -> str:
        return str(self.definition["Target"].get("RoleArn", ""))

    @property
    def event(self) -> Any:
        raw = self.definition["Target"].get("Input")
        return json.loads(raw) if raw else {}


class LocalScheduler:
    """Schedules in SQLite, fired by a timer thread through `invoke(target_arn, event)`
    when the target's role (one of `roles`; none: every firing is refused) allows it."""

    def __init__(
        self,
        path: Path,
        clock: Clock,
        invoke: Callable[[str, Any], None],
        *,
        port: int = 0,
        limits: ServerLimits | None = None,
        roles: ServiceRoles = NO_SERVICE_ROLES,
    ) -> None:
        self._clock = clock
        self._invoke = invoke
        self._roles = roles
        self._lock = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._database = Database(path, SCHEMA, error=SchedulerDatabaseError)
        self.api = JsonApi("scheduler", port=port, errors=SCHEDULER_ERRORS, limits=limits)
        pattern = rf"/schedules/(?P<name>{_NAME})"
        self.api.route("POST", pattern, self._create)
        self.api.route("PUT", pattern, self._update)
        self.api.route("GET", pattern, self._get)
        self.api.route("DELETE", pattern, self._delete)

    @property
    def url(self) -> str:
        return self.api.url

    def start(self) -> None:
        self.api.start()
        self._thread = threading.Thread(target=self._run, name="scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._lock:
            self._stopping = True
            self._lock.notify_all()
        self.api.stop()
        if self._thread is not None:
            self._thread.join(5)
        with self._lock:
            self._database.close()

    def schedules(self) -> list[Schedule]:
        with self._lock, self._database.errors() as db:
            rows = db.execute(
                "SELECT grp, name, definition, due, fired FROM schedules ORDER BY due"
            ).fetchall()
        return [Schedule(g, n, json.loads(d), due, bool(f)) for g, n, d, due, f in rows]

    # ------------------------------------------------------------ the API

    def _create(self, request: Request) -> Response:
        return self._put(request, exists_ok=False)

    def _update(self, request: Request) -> Response:
        return self._put(request, exists_ok=True)

    def _put(self, request: Request, *, exists_ok: bool) -> Response:
        name = request.params["name"]
        definition = request.json()
        group = str(definition.get("GroupName") or DEFAULT_GROUP)
        target = definition.get("Target")
        if not isinstance(target, dict) or not target.get("Arn") or not target.get("RoleArn"):
            raise ApiError(400, "ValidationException", "Target needs an Arn and a RoleArn")
        due = parse_at(
            str(definition.get("ScheduleExpression", "")),
            str(definition.get("ScheduleExpressionTimezone") or "UTC"),
        )
        with self._lock:
            exists = self._find(group, name) is not None
            if exists and not exists_ok:
                raise ApiError(409, "ConflictException", f"Schedule {name} already exists.")
            if not exists and exists_ok:
                raise ApiError(404, "ResourceNotFoundException", f"Schedule {name} does not exist.")
            stored = {**definition, "Name": name, "GroupName": group}
            self._execute(
                "INSERT OR REPLACE INTO schedules VALUES (?, ?, ?, ?, 0)",
                (group, name, json.dumps(stored), due),
            )
            self._lock.notify_all()
        log.info("schedule %s/%s due at %s", group, name, _iso(due))
        return Response(200, {"ScheduleArn": self._arn(group, name)})

    def _get(self, request: Request) -> Response:
        name = request.params["name"]
        group = request.query.get("groupName", DEFAULT_GROUP)
        with self._lock:
            schedule = self._find(group, name)
        if schedule is None:
            raise ApiError(404, "ResourceNotFoundException", f"Schedule {name} does not exist.")
        body = {**schedule.definition, "Arn": self._arn(group, name), "State": "ENABLED"}
        return Response(200, body)

    def _delete(self, request: Request) -> Response:
        name = request.params["name"]
        group = request.query.get("groupName", DEFAULT_GROUP)
        with self._lock:
            if self._find(group, name) is None:
                raise ApiError(404, "ResourceNotFoundException", f"Schedule {name} does not exist.")
            self._execute("DELETE FROM schedules WHERE grp = ? AND name = ?", (group, name))
        return Response(200, {})

    # ------------------------------------------------------------ firing

    def _run(self) -> None:
        while True:
            with self._lock:
                if self._stopping:
                    return
                due = self._next_due()
                wait = 1.0 if due is None else due.due - self._clock.now()
                if due is None or wait > 0:
                    # Woken early by a new schedule; at least once a second regardless.
                    self._lock.wait(timeout=min(wait, 1.0))
                    continue
                self._mark_fired(due)
            self._fire(due)

    def _next_due(self) -> Schedule | None:
        row = self._execute(
            "SELECT grp, name, definition, due, fired FROM schedules WHERE fired = 0"
            " ORDER BY due LIMIT 1"
        ).fetchone()
        if row is None:
            return None
        return Schedule(row[0], row[1], json.loads(row[2]), row[3], bool(row[4]))

    def _mark_fired(self, schedule: Schedule) -> None:
        if schedule.definition.get("ActionAfterCompletion") == "DELETE":
            self._execute(
                "DELETE FROM schedules WHERE grp = ? AND name = ?", (schedule.group, schedule.name)
            )
        else:
            self._execute(
                "UPDATE schedules SET fired = 1 WHERE grp = ? AND name = ? AND due = ?",
                (schedule.group, schedule.name, schedule.due),
            )

    def _fire(self, schedule: Schedule) -> None:
        log.info("schedule %s/%s fires", schedule.group, schedule.name)
        group_arn = self._roles.arns.scheduler(f"schedule-group/{schedule.group}")
        invoke = Check("lambda:InvokeFunction", schedule.target_arn)
        try:
            self._roles.authorize(SCHEDULER_SERVICE, schedule.role_arn, group_arn, invoke)
        except ServiceRoleError as refused:  # a failed invocation, not a bug: no traceback
            log.error(  # noqa: TRY400
                "schedule %s/%s: the target %s was not invoked: %s",
                schedule.group,
                schedule.name,
                schedule.target_arn,
                refused,
            )
            return
        try:
            self._invoke(schedule.target_arn, schedule.event)
        except Exception:
            log.exception("schedule %s/%s: the target failed", schedule.group, schedule.name)

    def _find(self, group: str, name: str) -> Schedule | None:
        row = self._execute(
            "SELECT grp, name, definition, due, fired FROM schedules WHERE grp = ? AND name = ?",
            (group, name),
        ).fetchone()
        if row is None:
            return None
        return Schedule(row[0], row[1], json.loads(row[2]), row[3], bool(row[4]))

    def _execute(self, statement: str, parameters: tuple[object, ...] = ()) -> sqlite3.Cursor:
        """One statement (under the lock), its errors the scheduler's naming the file."""
        with self._database.errors() as db:
            return db.execute(statement, parameters)

    @staticmethod
    def _arn(group: str, name: str) -> str:
        return f"arn:aws:scheduler:us-east-1:000000000000:schedule/{group}/{name}"


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")
