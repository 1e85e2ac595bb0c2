"""Helpers for the tests of the AWS side: moto accounts, and resources made as the template
makes them (so a test against moto also checks that the template fits the code)."""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

from swan.local.template import load_template

TEMPLATE = Path(__file__).parents[1] / "sam" / "template.yaml"
REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account


def fake_credentials(monkeypatch) -> None:
    """Credentials and a region for boto3, never real ones (moto accepts anything)."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SECURITY_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_IOT_DATA_PLANE"):
        monkeypatch.delenv(name, raising=False)
    for name in ("AWS_ENDPOINT_URL_SCHEDULER", "AWS_ENDPOINT_URL_IOT", "SWAN_HISTORY_DB"):
        monkeypatch.delenv(name, raising=False)


@functools.cache
def _template() -> dict[str, Any]:
    return load_template(TEMPLATE)


def template() -> dict[str, Any]:
    """sam/template.yaml, parsed (once per test run; each caller gets its own copy)."""
    return copy.deepcopy(_template())


def template_resource(logical_id: str) -> dict[str, Any]:
    return template()["Resources"][logical_id]


def create_history_table(dynamodb: Any, name: str = "swan-history") -> str:
    """The table as `HistoryTable` in the template declares it (keys, billing)."""
    properties = template_resource("HistoryTable")["Properties"]
    dynamodb.create_table(
        TableName=name,
        AttributeDefinitions=properties["AttributeDefinitions"],
        KeySchema=properties["KeySchema"],
        BillingMode=properties["BillingMode"],
    )
    return name
