"""The local broker's ACLs, from the IoT policies of the template (no I/O).

The template's `DevicePolicy` and `WebPolicy` are what AWS IoT Core enforces; the broker's
device and web listeners get ACLs derived from the same documents by `swan.local.core.acl`, in
the template's account and region, so the two cannot drift apart.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from swan.local.core.acl import listener_context, mosquitto_acl
from swan.local.template import TemplateError

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from swan.local.deployment import Deployment, Policy

DEVICE_POLICY: Final = "DevicePolicy"
WEB_POLICY: Final = "WebPolicy"


def device_acl(deployment: Deployment) -> str:
    """The device listener's ACL: every client is a thing whose client id is its name."""
    return _acl(deployment, DEVICE_POLICY, things=True)


def web_acl(deployment: Deployment) -> str:
    """The web listener's ACL: the web backend is no thing, so thing variables match nothing."""
    return _acl(deployment, WEB_POLICY, things=False)


def identity_acl(deployment: Deployment, role_documents: Sequence[Mapping[str, Any]]) -> str:
    """The identity listener's ACL: from the identity pool's unauthenticated role, every
    client a Cognito identity connected with its identity id as client id (its role allows
    no other), so `${cognito-identity.amazonaws.com:sub}` is the client id."""
    context = deployment.context
    return mosquitto_acl(
        role_documents,
        listener_context(
            context.region, context.account_id, context.partition, things=False, identities=True
        ),
    )


def _acl(deployment: Deployment, logical_id: str, *, things: bool) -> str:
    context = deployment.context
    return mosquitto_acl(
        [_policy(deployment, logical_id).document],
        listener_context(context.region, context.account_id, context.partition, things=things),
    )


def _policy(deployment: Deployment, logical_id: str) -> Policy:
    try:
        return deployment.policies[logical_id]
    except KeyError:
        raise TemplateError(
            f"Resources.{logical_id}", "the template needs this AWS::IoT::Policy"
        ) from None
