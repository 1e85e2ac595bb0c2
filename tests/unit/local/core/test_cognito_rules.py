"""Cognito Identity's rules: requests checked as the model declares them, unauthenticated
identities let in only as the pool and its role's trust policy allow."""

from __future__ import annotations

import pytest

from swan.local.core.cognito import (
    GET_CREDENTIALS_FOR_IDENTITY,
    GET_ID,
    INVALID_CONFIGURATION,
    INVALID_CONFIGURATION_MESSAGE,
    NOT_AUTHORIZED,
    SERIALIZATION,
    UNAUTHENTICATED_NOT_SUPPORTED,
    UNSUPPORTED_PROVIDER,
    VALIDATION,
    Budget,
    CognitoError,
    IdentityPool,
    PoolRole,
    RequestQuotas,
    check_logins,
    credentials_answer,
    get_credentials_request,
    get_id_request,
    identity_not_found,
    is_identity_id,
    pool_not_found,
    spend,
    unauthenticated_role,
)
from swan.local.core.policy import Decision, PolicyDocumentError, UnsupportedPolicyError
from swan.local.core.trust import parse_trust_policy, trust_decision

POOL_ID = "us-east-1:4f0e1c55-2d3b-4e6f-9a8b-7c6d5e4f3a2b"
IDENTITY = "us-east-1:0b9a8c7d-6e5f-4a3b-2c1d-0e9f8a7b6c5d"
ROLE_ARN = "arn:aws:iam::000000000000:role/WebBackendRole"
COGNITO = "Federated:cognito-identity.amazonaws.com"


def trust(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


def cognito_statement(pool_id=POOL_ID, amr="unauthenticated", effect="Allow", **extra):
    return {
        "Effect": effect,
        "Principal": {"Federated": "cognito-identity.amazonaws.com"},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {
            "StringEquals": {"cognito-identity.amazonaws.com:aud": pool_id},
            "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": amr},
        },
        **extra,
    }


def pool(document=None, *, allow=True, providers=(), role=True):
    found = None
    if role:
        found = PoolRole(
            "WebBackendRole", ROLE_ARN, parse_trust_policy(document or trust(cognito_statement()))
        )
    return IdentityPool(
        "WebIdentityPool", POOL_ID, "swan-local web", allow, frozenset(providers), found
    )


def refusal(call, *args):
    with pytest.raises(CognitoError) as raised:
        call(*args)
    return raised.value.error_type, raised.value.message


# ---------------------------------------------------------------- the role and its trust


def test_the_templates_trust_policy_lets_cognito_hand_out_the_role_for_its_own_pool():
    role = unauthenticated_role(pool(), IDENTITY)
    assert role.logical_id == "WebBackendRole"
    assert role.name == "WebBackendRole"


def test_credentials_sign_as_the_roles_cognito_session():
    role = unauthenticated_role(pool(), IDENTITY)
    assert role.session_arn == (
        "arn:aws:sts::000000000000:assumed-role/WebBackendRole/CognitoIdentityCredentials"
    )


@pytest.mark.parametrize(
    "document",
    [
        trust(cognito_statement(pool_id="us-east-1:00000000-0000-0000-0000-000000000000")),
        trust(cognito_statement(amr="authenticated")),
        trust({**cognito_statement(), "Principal": {"Service": "lambda.amazonaws.com"}}),
        trust({**cognito_statement(), "Action": "sts:AssumeRole"}),
        trust(cognito_statement(), cognito_statement(effect="Deny")),
    ],
    ids=["another-pool", "authenticated-only", "another-principal", "another-action", "deny"],
)
def test_a_role_whose_trust_does_not_fit_the_pool_is_an_invalid_configuration(document):
    assert refusal(unauthenticated_role, pool(document), IDENTITY) == (
        INVALID_CONFIGURATION,
        INVALID_CONFIGURATION_MESSAGE,
    )


def test_a_pool_without_an_unauthenticated_role_is_an_invalid_configuration():
    assert refusal(unauthenticated_role, pool(role=False), IDENTITY)[0] == INVALID_CONFIGURATION


def test_a_pool_without_unauthenticated_access_refuses_it_before_any_role():
    assert refusal(unauthenticated_role, pool(allow=False), IDENTITY) == (
        NOT_AUTHORIZED,
        UNAUTHENTICATED_NOT_SUPPORTED,
    )


@pytest.mark.parametrize(
    "principal", ["*", {"AWS": "*"}, {"Federated": ["x", "cognito-identity.amazonaws.com"]}]
)
def test_a_principal_of_everyone_or_a_list_naming_cognito_trusts_it(principal):
    document = trust({**cognito_statement(), "Principal": principal})
    assert unauthenticated_role(pool(document), IDENTITY).arn == ROLE_ARN


def test_the_trust_decision_sees_the_identity_as_the_tokens_subject():
    condition = {"StringEquals": {"cognito-identity.amazonaws.com:sub": IDENTITY}}
    document = trust({**cognito_statement(), "Condition": condition})
    statements = parse_trust_policy(document)
    context = {"cognito-identity.amazonaws.com:sub": IDENTITY}
    assert trust_decision(statements, COGNITO, "sts:AssumeRoleWithWebIdentity", context) is (
        Decision.ALLOW
    )
    assert unauthenticated_role(pool(document), IDENTITY).arn == ROLE_ARN
    assert refusal(unauthenticated_role, pool(document), IDENTITY.replace("0b", "1b"))[0] == (
        INVALID_CONFIGURATION
    )


def test_a_single_statement_object_is_a_trust_policy():
    statements = parse_trust_policy({"Version": "2012-10-17", "Statement": cognito_statement()})
    assert len(statements) == 1


@pytest.mark.parametrize(
    "document",
    [
        [],
        {"Version": "2012-10-17", "Statement": "x"},
        trust("x"),
        trust(),
        trust({**cognito_statement(), "Principal": None}),
        trust({**cognito_statement(), "Principal": {}}),
        trust({**cognito_statement(), "Principal": {"Federated": [1]}}),
        {"Version": "2008-10-17", "Statement": [cognito_statement()]},
    ],
)
def test_trust_policies_iam_refuses_are_refused(document):
    with pytest.raises(PolicyDocumentError):
        parse_trust_policy(document)


def test_not_principal_is_not_evaluated_here():
    statement = {**cognito_statement(), "NotPrincipal": {"AWS": "x"}}
    with pytest.raises(UnsupportedPolicyError):
        parse_trust_policy(trust(statement))


# ---------------------------------------------------------------- logins


def test_no_logins_is_an_unauthenticated_caller():
    check_logins(pool(), {})


def test_a_login_for_a_provider_the_pool_does_not_name_is_refused_as_aws_refuses_it():
    assert refusal(check_logins, pool(), {"graph.facebook.com": "token"}) == (
        NOT_AUTHORIZED,
        UNSUPPORTED_PROVIDER,
    )


def test_a_login_for_one_of_the_pools_providers_cannot_be_checked_locally_and_is_refused():
    error_type, message = refusal(
        check_logins, pool(providers={"accounts.google.com"}), {"accounts.google.com": "t"}
    )
    assert error_type == NOT_AUTHORIZED
    assert "not served locally" in message


# ---------------------------------------------------------------- requests


def test_a_get_id_request_carries_its_pool_account_and_logins():
    request = get_id_request({"IdentityPoolId": POOL_ID, "AccountId": "123456789012", "Logins": {}})
    assert (request.pool_id, request.account_id, request.logins) == (POOL_ID, "123456789012", {})


def test_unknown_members_and_nulls_are_ignored_as_coral_ignores_them():
    request = get_id_request({"IdentityPoolId": POOL_ID, "AccountId": None, "Other": 1})
    assert (request.account_id, request.logins) == (None, None)


def test_a_missing_required_member_is_a_validation_error():
    assert refusal(get_id_request, {}) == (
        VALIDATION,
        (
            "1 validation error detected: Value null at 'identityPoolId' failed to satisfy"
            " constraint: Member must not be null"
        ),
    )


def test_a_pool_id_off_the_pattern_is_refused_with_the_models_pattern():
    assert refusal(get_id_request, {"IdentityPoolId": "us-east-1_abc"}) == (
        VALIDATION,
        (
            "1 validation error detected: Value 'us-east-1_abc' at 'identityPoolId' failed"
            " to satisfy constraint: Member must satisfy regular expression pattern:"
            r" [\w-]+:[0-9a-f-]+"
        ),
    )


def test_every_failed_constraint_is_named_once_in_one_message():
    message = refusal(get_id_request, {"IdentityPoolId": "", "AccountId": "12a"})[1]
    assert message.startswith("3 validation errors detected: ")
    assert message.count("; ") == 2
    assert (
        "Value '' at 'identityPoolId' failed to satisfy constraint: Member must have length"
        " greater than or equal to 1" in message
    )
    assert (
        r"Value '12a' at 'accountId' failed to satisfy constraint: Member must satisfy"
        r" regular expression pattern: \d+" in message
    )


def test_the_pattern_is_ascii_as_javas_and_the_length_at_most_55():
    assert refusal(get_credentials_request, {"IdentityId": "ü:00"})[0] == VALIDATION
    long_id = "us-east-1:" + "a" * 46
    message = refusal(get_credentials_request, {"IdentityId": long_id})[1]
    assert "Member must have length less than or equal to 55" in message
    assert is_identity_id(IDENTITY)
    assert not is_identity_id(long_id)
    assert not is_identity_id("us-east-1:XYZ")


def test_a_get_credentials_request_carries_its_identity_logins_and_custom_role():
    arn = "arn:aws:iam::000000000000:role/Other"
    request = get_credentials_request({"IdentityId": IDENTITY, "CustomRoleArn": arn})
    assert (request.identity_id, request.logins, request.custom_role_arn) == (IDENTITY, None, arn)
    message = refusal(get_credentials_request, {"IdentityId": IDENTITY, "CustomRoleArn": "x"})[1]
    assert (
        "at 'customRoleArn' failed to satisfy constraint: Member must have length greater"
        " than or equal to 20" in message
    )


@pytest.mark.parametrize(
    ("logins", "constraint"),
    [
        ({f"p{n}": "t" for n in range(11)}, "Member must have length less than or equal to 10"),
        ({"": "t"}, "Map keys must satisfy constraint: [Member must have length less than"),
        ({"p" * 129: "t"}, "Map keys must satisfy constraint"),
        ({"p": ""}, "Map value must satisfy constraint: [Member must have length less than"),
        ({"p": "t" * 50001}, "Map value must satisfy constraint"),
    ],
)
def test_logins_are_held_to_the_models_sizes_without_repeating_the_tokens(logins, constraint):
    error_type, message = refusal(get_id_request, {"IdentityPoolId": POOL_ID, "Logins": logins})
    assert error_type == VALIDATION
    assert f"Value at 'logins' failed to satisfy constraint: {constraint}" in message
    assert "'t'" not in message


@pytest.mark.parametrize(
    ("body", "found"),
    [
        ({"IdentityPoolId": 5}, "a number"),
        ({"IdentityPoolId": True}, "a boolean"),
        ({"IdentityPoolId": []}, "an array"),
        ({"IdentityPoolId": {}}, "an object"),
        ({"IdentityPoolId": POOL_ID, "Logins": "x"}, "a string"),
        ({"IdentityPoolId": POOL_ID, "Logins": {"p": 1}}, "expected a string"),
    ],
)
def test_a_member_of_the_wrong_json_type_is_a_serialization_error(body, found):
    error_type, message = refusal(get_id_request, body)
    assert error_type == SERIALIZATION
    assert found in message


# ---------------------------------------------------------------- answers


def test_not_found_messages_are_aws_own():
    assert pool_not_found(POOL_ID).message == f"IdentityPool '{POOL_ID}' not found."
    assert identity_not_found(IDENTITY).message == f"Identity '{IDENTITY}' not found."
    assert pool_not_found(POOL_ID).status == 400


def test_the_credentials_answer_has_the_models_shape_with_an_epoch_number():
    answer = credentials_answer(IDENTITY, "ASIAX", "secret", "token", 1_764_003_600)
    assert answer == {
        "IdentityId": IDENTITY,
        "Credentials": {
            "AccessKeyId": "ASIAX",
            "SecretKey": "secret",
            "SessionToken": "token",
            "Expiration": 1_764_003_600,
        },
    }


def test_a_pool_knows_its_region_from_its_id():
    assert pool().region == "us-east-1"


# ---------------------------------------------------------------- request rate quotas


def test_the_quotas_are_cognitos_per_account_defaults():
    quotas = RequestQuotas()
    assert quotas.per_second(GET_ID) == 25
    assert quotas.per_second(GET_CREDENTIALS_FOR_IDENTITY) == 200


def test_a_seconds_worth_of_requests_may_come_at_once_and_no_more():
    budget = None
    for _ in range(25):
        budget = spend(budget, 25, now=100.0)
    with pytest.raises(CognitoError) as refused:
        spend(budget, 25, now=100.0)
    assert (refused.value.error_type, refused.value.message) == (
        "TooManyRequestsException",
        "Rate exceeded",
    )
    assert refused.value.status == 400


def test_the_quota_comes_back_at_its_rate():
    budget = spend(None, 2, now=100.0)
    budget = spend(budget, 2, now=100.0)
    with pytest.raises(CognitoError):
        spend(budget, 2, now=100.4)  # 0.8 of a request back
    assert spend(budget, 2, now=100.5) == Budget(0.0, 100.5)
    assert spend(budget, 2, now=200.0) == Budget(1.0, 200.0)  # never more than a second's
