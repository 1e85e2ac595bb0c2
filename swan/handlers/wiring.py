"""The composition root of the Lambda functions: ports built from the environment.

The same code runs on AWS and in the local stand-in; only the environment differs:
- `AWS_ENDPOINT_URL_IOT_DATA_PLANE` / `AWS_ENDPOINT_URL_SCHEDULER` point boto3 at the local
  stand-in (unset on AWS);
- `SWAN_HISTORY_DB` (a SQLite file, local) or `HISTORY_TABLE` (DynamoDB, AWS) holds history;
- `AWS_ENDPOINT_URL_IOT` points the register handler's boto3 `iot` at the local control plane.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from swan.adapters.clock import SystemClock
from swan.adapters.history import SqliteHistory
from swan.adapters.history_dynamo import DynamoHistory
from swan.adapters.iot import IotDeviceRegistry
from swan.adapters.iotdata import IotDataPublisher, IotDataShadow
from swan.adapters.scheduler import EventBridgeExpiry
from swan.core.errors import InvalidSettingError
from swan.core.topics import BUTTON_THING
from swan.handlers.ports import Ports
from swan.handlers.register import RegistrationPorts
from swan.settings import Settings

if TYPE_CHECKING:
    from collections.abc import Mapping

    from swan.adapters.history import History


def ports_from_env(env: Mapping[str, str]) -> Ports:
    import boto3  # noqa: PLC0415  (only the functions need it)

    thing = env.get("BUTTON_THING", BUTTON_THING)
    iot_data = boto3.client("iot-data")
    expiry = EventBridgeExpiry(
        boto3.client("scheduler"),
        name=f"{thing}-expiry",
        group=_required(env, "EXPIRY_SCHEDULE_GROUP"),
        target_arn=_required(env, "EXPIRY_FUNCTION_ARN"),
        role_arn=_required(env, "EXPIRY_ROLE_ARN"),
        event={"thing": thing},
    )
    return Ports(
        shadow=IotDataShadow(iot_data, thing),
        history=history_from_env(env),
        scheduler=expiry,
        publisher=IotDataPublisher(iot_data),
        clock=SystemClock(),
        rules=Settings.from_env(env).rules,
    )


def registration_ports_from_env(env: Mapping[str, str]) -> RegistrationPorts:
    """The register handler's ports: boto3 `iot`, the clock, the device policy's name."""
    import boto3  # noqa: PLC0415  (only the functions need it)

    return RegistrationPorts(
        registry=IotDeviceRegistry(boto3.client("iot")),
        clock=SystemClock(),
        policy_name=_required(env, "DEVICE_POLICY_NAME"),
    )


def history_from_env(env: Mapping[str, str]) -> History:
    """SQLite when `SWAN_HISTORY_DB` names a file (local), else the DynamoDB `HISTORY_TABLE`."""
    database = env.get("SWAN_HISTORY_DB")
    if database:
        return SqliteHistory(Path(database))
    table = env.get("HISTORY_TABLE")
    if table:
        import boto3  # noqa: PLC0415  (only the functions need it)

        return DynamoHistory(boto3.client("dynamodb"), table)
    raise InvalidSettingError(
        "HISTORY_TABLE", None, "is required (or SWAN_HISTORY_DB for a local SQLite history)"
    )


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name)
    if not value:
        raise InvalidSettingError(name, value, "is required")
    return value
