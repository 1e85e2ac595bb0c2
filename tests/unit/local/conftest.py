"""Fixtures shared by the local stand-in's unit tests."""

from __future__ import annotations

import pytest

from swan.local.authorization import role_statements
from swan.local.stack import local_deployment

DEVICE_CA_ID = "ab" * 32


@pytest.fixture(scope="module")
def stack():
    """sam/template.yaml and the context it resolves in as a local stack."""
    template, deployment = local_deployment(parameters={"DeviceCaCertificateId": DEVICE_CA_ID})
    return template, deployment.context


@pytest.fixture(scope="module")
def roles(stack):
    """Each role's statements, by the role's logical id."""
    return role_statements(*stack)
