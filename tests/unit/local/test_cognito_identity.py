"""The local Cognito Identity's pools, what it keeps, and which browser origins it serves."""

from __future__ import annotations

import sqlite3
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlite_support import plans, traced

from swan.local.cognito_pools import identity_pools
from swan.local.cognito_store import DATABASE, CognitoLimits, CognitoStore, load_pool_ids
from swan.local.core.cognito import unauthenticated_role
from swan.local.httpapi import foreign_request_problem
from swan.local.intrinsics import context_for
from swan.local.sigv4 import SigningKey
from swan.local.template import TemplateError, load_template

TEMPLATE = Path(__file__).parents[3] / "sam" / "template.yaml"
POOL_ID = "us-east-1:4f0e1c55-2d3b-4e6f-9a8b-7c6d5e4f3a2b"
IDENTITY = "us-east-1:0b9a8c7d-6e5f-4a3b-2c1d-0e9f8a7b6c5d"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Federated": "cognito-identity.amazonaws.com"},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {"cognito-identity.amazonaws.com:aud": {"Ref": "Pool"}},
                "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "unauthenticated"},
            },
        }
    ],
}


def template(pool=None, attachment=None, role=None):
    return {
        "Resources": {
            "Pool": {
                "Type": "AWS::Cognito::IdentityPool",
                "Properties": {"AllowUnauthenticatedIdentities": "true", **(pool or {})},
            },
            "Roles": {
                "Type": "AWS::Cognito::IdentityPoolRoleAttachment",
                "Properties": {
                    "IdentityPoolId": {"Ref": "Pool"},
                    "Roles": {"unauthenticated": {"Fn::GetAtt": ["Guest", "Arn"]}},
                    **(attachment or {}),
                },
            },
            "Guest": {
                "Type": "AWS::IAM::Role",
                "Properties": {"AssumeRolePolicyDocument": TRUST, **(role or {})},
            },
        }
    }


def pools_of(document, pool_id=POOL_ID, **attributes):
    context = context_for(document, resources={"Pool": pool_id}, attributes=attributes)
    return identity_pools(document, context)


# ---------------------------------------------------------------- the template's pools


def test_the_templates_web_pool_hands_out_its_web_role_to_unauthenticated_identities():
    document = load_template(TEMPLATE)
    context = context_for(document, resources={"WebIdentityPool": POOL_ID})
    pool = identity_pools(document, context)["WebIdentityPool"]
    assert (pool.pool_id, pool.allow_unauthenticated, pool.login_providers) == (
        POOL_ID,
        True,
        frozenset(),
    )
    role = unauthenticated_role(pool, IDENTITY)  # its trust names this very pool
    assert (role.logical_id, role.arn) == (
        "WebBackendRole",
        "arn:aws:iam::000000000000:role/WebBackendRole",
    )


def test_the_trust_policys_audience_is_the_pools_own_id():
    pool = pools_of(template())["Pool"]
    assert unauthenticated_role(pool, IDENTITY).logical_id == "Guest"
    other = pools_of(template(), "us-east-1:00000000-0000-0000-0000-000000000000")["Pool"]
    assert unauthenticated_role(other, IDENTITY).logical_id == "Guest"


def test_a_pool_that_takes_no_unauthenticated_identities_says_so():
    assert not pools_of(template({"AllowUnauthenticatedIdentities": False}))[
        "Pool"
    ].allow_unauthenticated
    assert not pools_of(template({"AllowUnauthenticatedIdentities": "false"}))[
        "Pool"
    ].allow_unauthenticated


def test_a_pools_login_providers_are_every_kind_it_names():
    properties = {
        "SupportedLoginProviders": {"graph.facebook.com": "123"},
        "CognitoIdentityProviders": [{"ProviderName": "cognito-idp.us-east-1.amazonaws.com/p"}],
        "OpenIdConnectProviderARNs": ["arn:aws:iam::000000000000:oidc-provider/example.com"],
        "SamlProviderARNs": ["arn:aws:iam::000000000000:saml-provider/corp"],
    }
    assert pools_of(template(properties))["Pool"].login_providers == {
        "graph.facebook.com",
        "cognito-idp.us-east-1.amazonaws.com/p",
        "arn:aws:iam::000000000000:oidc-provider/example.com",
        "arn:aws:iam::000000000000:saml-provider/corp",
    }


def test_an_attachment_without_an_unauthenticated_role_leaves_the_pool_without_one():
    attachment = {"Roles": {"authenticated": {"Fn::GetAtt": ["Guest", "Arn"]}}}
    assert pools_of(template(attachment=attachment))["Pool"].unauthenticated_role is None


def test_a_roles_arn_given_by_the_caller_is_the_one_matched():
    arn = "arn:aws:iam::000000000000:role/swan-local-guest"
    role = pools_of(template(), **{"Guest.Arn": arn})["Pool"].unauthenticated_role
    assert role is not None
    assert (role.logical_id, role.arn, role.name) == ("Guest", arn, "swan-local-guest")


@pytest.mark.parametrize(
    ("document", "pool_id", "where"),
    [
        (template(), "Pool", "Resources.Pool"),
        (template(attachment={"IdentityPoolId": "us-east-1:00"}), POOL_ID, "IdentityPoolId"),
        (
            template(attachment={"Roles": {"unauthenticated": "arn:aws:iam::1:role/Else"}}),
            POOL_ID,
            "Roles.unauthenticated",
        ),
        (
            template(role={"AssumeRolePolicyDocument": {**TRUST, "Statement": "x"}}),
            POOL_ID,
            "AssumeRolePolicyDocument",
        ),
    ],
    ids=["no-pool-id", "unknown-pool", "role-not-in-template", "bad-trust-policy"],
)
def test_what_cannot_be_served_stops_the_stack_naming_where(document, pool_id, where):
    with pytest.raises(TemplateError, match=where):
        pools_of(document, pool_id)


# ---------------------------------------------------------------- what is kept


def store(tmp_path, **limits):
    return CognitoStore(tmp_path / DATABASE, CognitoLimits(**limits))


def key(access_key_id, identity_id=IDENTITY, expires=2_000_000_000):
    return SigningKey(
        access_key_id=access_key_id,
        secret_access_key="secret",
        principal_arn="arn:aws:sts::000000000000:assumed-role/Guest/CognitoIdentityCredentials",
        session_token="token",
        expires_at=datetime.fromtimestamp(expires, UTC),
        identity_id=identity_id,
    )


def test_pool_ids_are_made_once_per_state_directory_and_kept(tmp_path):
    document = template()
    first = load_pool_ids(tmp_path, document, "us-east-1")
    assert first["Pool"].startswith("us-east-1:")
    assert load_pool_ids(tmp_path, document, "us-east-1") == first
    assert stat.S_IMODE((tmp_path / DATABASE).stat().st_mode) == 0o600


def test_a_pool_id_of_another_region_is_made_anew(tmp_path):
    first = load_pool_ids(tmp_path, template(), "us-east-1")["Pool"]
    again = load_pool_ids(tmp_path, template(), "eu-west-1")["Pool"]
    assert again.startswith("eu-west-1:")
    assert again.split(":")[1] != first.split(":")[1]


def test_issued_credentials_are_looked_up_with_an_aware_expiry_and_their_identity(tmp_path):
    kept = store(tmp_path)
    kept.add_identity(IDENTITY, POOL_ID, 1000.0)
    kept.add_credentials(key("ASIAONE"), 2_000_000_000, 1000.0)
    found = kept.key("ASIAONE")
    assert found == key("ASIAONE")
    assert found is not None
    assert found.expires_at is not None
    assert found.expires_at.tzinfo is not None
    assert kept.key("ASIAOTHER") is None
    assert kept.identity_pool(IDENTITY) == POOL_ID
    assert kept.identity_pool("us-east-1:00") is None
    kept.close()


def test_an_identity_keeps_only_its_newest_credentials(tmp_path):
    kept = store(tmp_path, credentials_per_identity=2)
    kept.add_identity(IDENTITY, POOL_ID, 0.0)
    for number in range(3):
        kept.add_credentials(key(f"ASIA{number}"), 2_000_000_000, float(number))
    assert [kept.key(f"ASIA{n}") is not None for n in range(3)] == [False, True, True]
    kept.close()


def test_credentials_long_expired_are_forgotten_and_recent_ones_kept(tmp_path):
    kept = store(tmp_path, expired_kept_seconds=100.0)
    kept.add_identity(IDENTITY, POOL_ID, 0.0)
    other = "us-east-1:1b9a8c7d-6e5f-4a3b-2c1d-0e9f8a7b6c5d"
    kept.add_identity(other, POOL_ID, 0.0)
    kept.add_credentials(key("ASIAOLD", expires=1000), 1000, 0.0)
    kept.add_credentials(key("ASIARECENT", expires=1050), 1050, 0.0)
    kept.add_credentials(key("ASIANEW", other, expires=5000), 5000, 1120.0)
    assert kept.key("ASIAOLD") is None  # expired 120 s before the last issue
    assert kept.key("ASIARECENT") is not None  # expired only 70 s before
    kept.close()


def test_making_one_identity_too_many_forgets_the_least_recently_used(tmp_path):
    kept = store(tmp_path, max_identities=2)
    ids = [f"us-east-1:{n:08x}-0000-0000-0000-000000000000" for n in range(3)]
    kept.add_identity(ids[0], POOL_ID, 1.0)
    kept.add_identity(ids[1], POOL_ID, 2.0)
    kept.add_credentials(key("ASIAZERO", ids[0]), 2_000_000_000, 3.0)  # ids[0] used last
    kept.add_credentials(key("ASIAONE", ids[1]), 2_000_000_000, 2.5)
    kept.add_identity(ids[2], POOL_ID, 4.0)
    assert [kept.identity_pool(i) is not None for i in ids] == [True, False, True]
    assert kept.key("ASIAONE") is None
    assert kept.key("ASIAZERO") is not None
    kept.close()


def test_what_a_page_asks_of_the_store_is_searched_for_not_scanned(tmp_path):
    """A page's GetId and GetCredentialsForIdentity, and every signed connection's lookup:
    read by scanning a table, each cost more with every identity and credential kept."""
    kept = store(tmp_path, max_identities=2, credentials_per_identity=1)
    connection = kept.database.connection
    with traced(connection) as statements:
        ids = [f"us-east-1:{n:08x}-0000-0000-0000-000000000000" for n in range(3)]
        for number, identity in enumerate(ids):  # the third forgets the first
            kept.add_identity(identity, POOL_ID, float(number))
            kept.add_credentials(key(f"ASIA{number}", identity), 2_000_000_000, float(number))
            kept.add_credentials(key(f"ASIB{number}", identity), 2_000_000_000, float(number))
        assert kept.key("ASIB2") is not None
        assert kept.identity_pool(ids[2]) == POOL_ID
    reads = {
        sql: steps
        for sql, steps in plans(connection, statements).items()
        # (the identities' count walks the smallest index: SQLite keeps no row count)
        if not sql.startswith("SELECT COUNT(*)")
    }
    assert len(reads) >= 10
    # The least recently used are read in order of use, and only as many as LIMIT asks.
    in_order_of_use = "SCAN identities USING INDEX by_use"
    for sql, steps in reads.items():
        scans = [step for step in steps if step.startswith("SCAN") and step != in_order_of_use]
        assert not scans, (sql, steps)
        assert in_order_of_use not in steps or "ORDER BY used LIMIT" in sql, (sql, steps)
    kept.close()


def test_what_is_kept_survives_reopening_the_database(tmp_path):
    kept = store(tmp_path)
    kept.add_identity(IDENTITY, POOL_ID, 0.0)
    kept.add_credentials(key("ASIAKEPT"), 2_000_000_000, 0.0)
    kept.close()
    again = store(tmp_path)
    assert again.key("ASIAKEPT") == key("ASIAKEPT")
    assert again.identity_pool(IDENTITY) == POOL_ID
    again.close()
    rows = sqlite3.connect(tmp_path / DATABASE).execute("SELECT COUNT(*) FROM identities")
    assert rows.fetchone() == (1,)


# ---------------------------------------------------------------- browsers


LOOPBACK = {"host": "127.0.0.1:9000"}
PAGE = "http://127.0.0.1:3000"


def test_a_page_at_an_allowed_origin_is_served_whatever_its_fetch_site():
    headers = {**LOOPBACK, "origin": PAGE, "sec-fetch-site": "same-site"}
    assert foreign_request_problem(headers, {PAGE}) is None
    cross = {**LOOPBACK, "origin": "http://localhost:3000", "sec-fetch-site": "cross-site"}
    assert foreign_request_problem(cross, {PAGE, "http://localhost:3000"}) is None


@pytest.mark.parametrize(
    "headers",
    [
        {**LOOPBACK, "origin": "http://127.0.0.1:3001"},
        {**LOOPBACK, "origin": "http://127.0.0.1:3000.evil.example"},
        {**LOOPBACK, "origin": "null"},
        {**LOOPBACK, "sec-fetch-site": "cross-site"},
        {"host": "evil.example:9000", "origin": PAGE},
    ],
    ids=["other-port", "lookalike", "null-origin", "no-origin", "foreign-host"],
)
def test_every_other_browser_request_stays_refused(headers):
    assert foreign_request_problem(headers, {PAGE}) is not None


def test_without_allowed_origins_no_page_is_served():
    assert foreign_request_problem({**LOOPBACK, "origin": PAGE}) is not None
