"""The local broker's ACLs, from the IoT policies of the template (no I/O).

The template's `DevicePolicy` is what AWS IoT Core enforces on a device; the broker's device
listener gets an ACL derived from the same document by `swan.local.core.acl`, in the
template's account and region, so the two cannot drift apart. The identity listener's comes
the same way from the identity pool's role.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from swan.local.core.acl import listener_context, mosquitto_acl
from swan.local.template import TemplateError

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from swan.local.deployment import Deployment, Policy

DEVICE_POLICY: Final = "DevicePolicy"


def device_acl(deployment: Deployment) -> str:
    """The device listener's ACL: every client is a thing whose client id is its name."""
    context = deployment.context
    return mosquitto_acl(
        [_policy(deployment, DEVICE_POLICY).document],
        listener_context(context.region, context.account_id, context.partition, things=True),
    )


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


def _policy(deployment: Deployment, logical_id: str) -> Policy:
    try:
        return deployment.policies[logical_id]
    except KeyError:
        raise TemplateError(
            f"Resources.{logical_id}", "the template needs this AWS::IoT::Policy"
        ) from None
