"""The template's Cognito identity pools, as the local Cognito Identity serves them.

`identity_pools` reads each `AWS::Cognito::IdentityPool` with the unauthenticated role its
`AWS::Cognito::IdentityPoolRoleAttachment` names (`Roles.unauthenticated`) and that role's
trust policy (`AssumeRolePolicyDocument`), resolved against the deployment's context: a
`!Ref` of the pool in the trust policy's `aud` condition is the pool's id. Pure: it takes
the template as a mapping and returns values (swan.local.core.cognito.IdentityPool).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, Final

from swan.local.core.cognito import IdentityPool, PoolRole, is_identity_id
from swan.local.core.policy import PolicyDocumentError
from swan.local.core.trust import parse_trust_policy
from swan.local.intrinsics import Context, resolve
from swan.local.template import TemplateError

if TYPE_CHECKING:
    from collections.abc import Mapping

IDENTITY_POOL: Final = "AWS::Cognito::IdentityPool"
ROLE_ATTACHMENT: Final = "AWS::Cognito::IdentityPoolRoleAttachment"
IAM_ROLE: Final = "AWS::IAM::Role"


def pool_logical_ids(template: Mapping[str, Any]) -> list[str]:
    """The logical ids of the template's identity pools."""
    resources = template.get("Resources", {})
    return [key for key, value in resources.items() if value.get("Type") == IDENTITY_POOL]


def identity_pools(template: Mapping[str, Any], context: Context) -> dict[str, IdentityPool]:
    """Each `AWS::Cognito::IdentityPool` of the template, by logical id, with its
    unauthenticated role from its `AWS::Cognito::IdentityPoolRoleAttachment`.

    A pool's id is its Ref value in `context` (`context.resources[logical_id]`, e.g. from
    `load_pool_ids`); a role's ARN is its `Arn` attribute there, else
    `arn:aws:iam::<account>:role/<LogicalId>`. Raises `TemplateError` for a pool without an
    id, a role attachment naming no pool or a role not in the template, or a trust policy
    that cannot be evaluated.
    """
    resources = template.get("Resources", {})
    context = _with_role_arns(resources, context)
    pools = {}
    for logical_id, resource in resources.items():
        if resource.get("Type") == IDENTITY_POOL:
            pools[logical_id] = _pool(logical_id, resource.get("Properties") or {}, context)
    by_id = {pool.pool_id: pool for pool in pools.values()}
    for logical_id, resource in resources.items():
        if resource.get("Type") != ROLE_ATTACHMENT:
            continue
        where = f"Resources.{logical_id}.Properties"
        properties = resource.get("Properties") or {}
        pool_id = resolve(properties.get("IdentityPoolId"), context, f"{where}.IdentityPoolId")
        if pool_id not in by_id:
            raise TemplateError(f"{where}.IdentityPoolId", "names no identity pool of the template")
        roles = properties.get("Roles") or {}
        if "unauthenticated" not in roles:
            continue
        role = _role(resources, roles["unauthenticated"], context, f"{where}.Roles.unauthenticated")
        pool = dataclasses.replace(by_id[pool_id], unauthenticated_role=role)
        by_id[pool_id] = pools[pool.logical_id] = pool
    return pools


def _with_role_arns(resources: Mapping[str, Any], context: Context) -> Context:
    defaults = {
        f"{logical_id}.Arn": f"arn:{context.partition}:iam::{context.account_id}:role/{logical_id}"
        for logical_id, resource in resources.items()
        if resource.get("Type") == IAM_ROLE
    }
    return dataclasses.replace(context, attributes={**defaults, **context.attributes})


def _pool(logical_id: str, properties: Mapping[str, Any], context: Context) -> IdentityPool:
    where = f"Resources.{logical_id}"
    pool_id = context.resources.get(logical_id)
    if not isinstance(pool_id, str) or not is_identity_id(pool_id):
        raise TemplateError(where, f"no local pool id (REGION:GUID) for it, found {pool_id!r}")
    where += ".Properties"
    allow = resolve(properties.get("AllowUnauthenticatedIdentities", False), context, where)
    name = resolve(properties.get("IdentityPoolName", logical_id), context, where)
    providers = set(resolve(properties.get("SupportedLoginProviders") or {}, context, where))
    for entry in resolve(properties.get("CognitoIdentityProviders") or [], context, where):
        providers.add(str(entry.get("ProviderName")))
    for key in ("OpenIdConnectProviderARNs", "SamlProviderARNs"):
        providers.update(resolve(properties.get(key) or [], context, f"{where}.{key}"))
    return IdentityPool(
        logical_id,
        pool_id,
        str(name),
        allow_unauthenticated=allow is True or str(allow).lower() == "true",
        login_providers=frozenset(providers),
    )


def _role(resources: Mapping[str, Any], value: Any, context: Context, where: str) -> PoolRole:
    arn = resolve(value, context, where)
    for logical_id, resource in resources.items():
        if resource.get("Type") == IAM_ROLE and context.attributes[f"{logical_id}.Arn"] == arn:
            path = f"Resources.{logical_id}.Properties.AssumeRolePolicyDocument"
            document = (resource.get("Properties") or {}).get("AssumeRolePolicyDocument")
            try:
                trust = parse_trust_policy(resolve(document, context, path), path)
            except PolicyDocumentError as error:
                raise TemplateError(error.where, error.problem) from None
            return PoolRole(logical_id, str(arn), trust)
    raise TemplateError(where, f"{arn!r} is no role of the template")
