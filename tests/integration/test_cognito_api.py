"""The local Cognito Identity against boto3's `cognito-identity` client (unsigned, as a
browser calls it) and raw HTTP: AWS's shapes, every refusal, what survives a restart,
credentials that expire, and CORS for the page's own origins only."""

from __future__ import annotations

import copy
import http.client
import json
import re
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import boto3
import botocore.session
import pytest
from botocore import UNSIGNED
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from swan.adapters.clock import FakeClock
from swan.local.cognito import CognitoIdentity, RequestQuotas, load_pool_ids
from swan.local.intrinsics import context_for
from swan.local.sigv4 import (
    IncomingRequest,
    RequestRefusedError,
    SigningKey,
    SigV4Verifier,
    iot_api,
)
from swan.local.template import load_template

TEMPLATE = load_template(Path(__file__).parents[2] / "sam" / "template.yaml")
PAGE = "http://127.0.0.1:3000"
OTHER_PAGE = "http://localhost:3000"
NO_POOL = "us-east-1:00000000-0000-0000-0000-000000000000"
ID = re.compile(r"us-east-1:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}")
MODEL = botocore.session.get_session().get_service_model("cognito-identity")
ROLE_SESSION = "arn:aws:sts::000000000000:assumed-role/WebBackendRole/CognitoIdentityCredentials"


@pytest.fixture
def clock():
    return FakeClock(current=float(int(time.time())))


@pytest.fixture
def start(tmp_path, clock):
    started = []

    def start(template=TEMPLATE, **options):
        options.setdefault("allowed_origins", (PAGE, OTHER_PAGE))
        options.setdefault("clock", clock)
        service = CognitoIdentity(tmp_path, template, context_for(template), **options)
        service.start()
        started.append(service)
        return service

    yield start
    for service in started:
        service.stop()


@pytest.fixture
def cognito(start):
    return start()


def client(service, **options):
    return boto3.client(
        "cognito-identity",
        endpoint_url=service.url,
        region_name="us-east-1",
        config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1}),
        **options,
    )


def pool_id(service):
    return service.pool_ids["WebIdentityPool"]


def post(service, target, body, **headers):
    """A raw JSON 1.1 call: (status, headers lower-cased, body)."""
    payload = body if isinstance(body, bytes) else json.dumps(body).encode()
    sent = {"Content-Type": "application/x-amz-json-1.1", **headers}
    if target is not None:
        sent["X-Amz-Target"] = target
    return request(service, "POST", payload, sent)


def request(service, method, body=b"", headers=None):
    connection = http.client.HTTPConnection("127.0.0.1", service.port, timeout=10)
    try:
        connection.request(method, "/", body=body, headers=headers or {})
        response = connection.getresponse()
        data = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, data
    finally:
        connection.close()


def error_of(raised):
    return raised.value.response["Error"]["Code"], raised.value.response["Error"]["Message"]


def members(operation):
    return set(MODEL.operation_model(operation).output_shape.members)


# ---------------------------------------------------------------- GetId


def test_get_id_makes_a_new_identity_each_call_in_the_models_shape(cognito):
    identities = client(cognito)
    first = identities.get_id(IdentityPoolId=pool_id(cognito))
    second = identities.get_id(IdentityPoolId=pool_id(cognito), AccountId="000000000000")
    assert set(first) - {"ResponseMetadata"} == members("GetId")
    assert ID.fullmatch(first["IdentityId"])
    assert ID.fullmatch(second["IdentityId"])
    assert first["IdentityId"] != second["IdentityId"]


def test_the_pool_id_is_the_region_and_a_uuid_as_aws_makes_them(cognito):
    assert ID.fullmatch(pool_id(cognito))
    assert cognito.pools["WebIdentityPool"].pool_id == pool_id(cognito)


def test_a_signed_call_is_served_as_well(cognito):
    signed = boto3.client(
        "cognito-identity",
        endpoint_url=cognito.url,
        region_name="us-east-1",
        aws_access_key_id="AKIAEXAMPLE",
        aws_secret_access_key="secret",
    )
    assert ID.fullmatch(signed.get_id(IdentityPoolId=pool_id(cognito))["IdentityId"])


# ---------------------------------------------------------------- GetCredentialsForIdentity


def test_credentials_are_temporary_for_an_hour_and_carry_the_unauthenticated_role(cognito, clock):
    identities = client(cognito)
    identity_id = identities.get_id(IdentityPoolId=pool_id(cognito))["IdentityId"]
    answer = identities.get_credentials_for_identity(IdentityId=identity_id)
    assert set(answer) - {"ResponseMetadata"} == members("GetCredentialsForIdentity")
    issued = answer["Credentials"]
    assert set(issued) == set(MODEL.shape_for("Credentials").members)
    assert answer["IdentityId"] == identity_id
    assert re.fullmatch(r"ASIA[A-Z2-7]{16}", issued["AccessKeyId"])
    assert issued["Expiration"] == datetime.fromtimestamp(clock.now() + 3600, UTC)
    key = cognito.lookup(issued["AccessKeyId"])
    assert key is not None
    assert (key.secret_access_key, key.session_token) == (
        issued["SecretKey"],
        issued["SessionToken"],
    )
    assert (key.principal_arn, key.identity_id) == (ROLE_SESSION, identity_id)
    assert key.expires_at == issued["Expiration"]


def test_expiration_is_a_json_number_of_epoch_seconds_as_the_js_sdk_reads_it(cognito, clock):
    status, _, body = post(
        cognito, "AWSCognitoIdentityService.GetId", {"IdentityPoolId": pool_id(cognito)}
    )
    identity_id = json.loads(body)["IdentityId"]
    status, headers, body = post(
        cognito, "AWSCognitoIdentityService.GetCredentialsForIdentity", {"IdentityId": identity_id}
    )
    assert status == 200
    assert headers["content-type"] == "application/x-amz-json-1.1"
    expiration = json.loads(body)["Credentials"]["Expiration"]
    assert isinstance(expiration, int)
    assert expiration == int(clock.now()) + 3600


def test_each_call_issues_new_credentials(cognito):
    identities = client(cognito)
    identity_id = identities.get_id(IdentityPoolId=pool_id(cognito))["IdentityId"]
    first = identities.get_credentials_for_identity(IdentityId=identity_id)["Credentials"]
    second = identities.get_credentials_for_identity(IdentityId=identity_id)["Credentials"]
    assert first["AccessKeyId"] != second["AccessKeyId"]
    assert cognito.lookup(first["AccessKeyId"]) is not None
    assert cognito.lookup("ASIANOTISSUEDHERE000") is None


def signed_request(credentials):
    """A request to the iot API signed with `credentials` by botocore's own signer."""
    made = AWSRequest(method="GET", url="http://127.0.0.1:9/things", headers={})
    made.headers["host"] = "127.0.0.1:9"
    keys = Credentials(
        credentials["AccessKeyId"], credentials["SecretKey"], credentials["SessionToken"]
    )
    SigV4Auth(keys, "iot", "us-east-1").add_auth(made)
    return IncomingRequest("GET", "/things", "", dict(made.headers.items()))


def test_credentials_sign_until_they_expire_then_the_verifier_says_expired(start, clock):
    cognito = start(credentials_seconds=60)
    identities = client(cognito)
    identity_id = identities.get_id(IdentityPoolId=pool_id(cognito))["IdentityId"]
    issued = identities.get_credentials_for_identity(IdentityId=identity_id)["Credentials"]
    assert issued["Expiration"] == datetime.fromtimestamp(clock.now() + 60, UTC)
    verifier = SigV4Verifier(iot_api("us-east-1"), cognito.lookup)
    sent = signed_request(issued)
    now = datetime.fromtimestamp(clock.now(), UTC)
    assert verifier.verify(sent, now).identity_id == identity_id
    clock.advance(60)
    with pytest.raises(RequestRefusedError) as refused:
        verifier.verify(sent, now + timedelta(seconds=60))
    assert refused.value.error_type == "ExpiredTokenException"


# ---------------------------------------------------------------- what survives a restart


def test_pool_ids_identities_and_credentials_survive_a_restart(tmp_path, start):
    first = start()
    identities = client(first)
    identity_id = identities.get_id(IdentityPoolId=pool_id(first))["IdentityId"]
    issued = identities.get_credentials_for_identity(IdentityId=identity_id)["Credentials"]
    first.stop()
    again = start()
    assert pool_id(again) == pool_id(first)
    assert load_pool_ids(tmp_path, TEMPLATE, "us-east-1") == again.pool_ids
    assert again.lookup(issued["AccessKeyId"]) == first_key(issued, identity_id)
    renewed = client(again).get_credentials_for_identity(IdentityId=identity_id)
    assert renewed["IdentityId"] == identity_id


def first_key(issued, identity_id):
    return SigningKey(
        issued["AccessKeyId"],
        issued["SecretKey"],
        ROLE_SESSION,
        issued["SessionToken"],
        issued["Expiration"],
        identity_id,
    )


# ---------------------------------------------------------------- refusals


def test_getid_beyond_the_accounts_quota_is_throttled_as_aws_throttles_it(cognito, clock):
    """Cognito's default quota: 25 GetId a second per account (the clock stands still)."""
    identities = client(cognito)
    for _ in range(25):
        identities.get_id(IdentityPoolId=pool_id(cognito))
    with pytest.raises(identities.exceptions.TooManyRequestsException) as raised:
        identities.get_id(IdentityPoolId=pool_id(cognito))
    assert error_of(raised) == ("TooManyRequestsException", "Rate exceeded")
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    clock.advance(0.1)  # two requests' worth come back
    assert identities.get_id(IdentityPoolId=pool_id(cognito))["IdentityId"]


def test_credentials_beyond_their_quota_are_throttled_too(start):
    service = start(quotas=RequestQuotas(get_credentials_for_identity=2))
    identities = client(service)
    identity = identities.get_id(IdentityPoolId=pool_id(service))["IdentityId"]
    for _ in range(2):
        identities.get_credentials_for_identity(IdentityId=identity)
    with pytest.raises(identities.exceptions.TooManyRequestsException):
        identities.get_credentials_for_identity(IdentityId=identity)
    assert identities.get_id(IdentityPoolId=pool_id(service))  # each operation its own quota


def test_an_unknown_pool_is_not_found(cognito):
    missing = "us-east-1:00000000-0000-0000-0000-000000000000"
    identities = client(cognito)
    with pytest.raises(identities.exceptions.ResourceNotFoundException) as raised:
        identities.get_id(IdentityPoolId=missing)
    assert error_of(raised) == ("ResourceNotFoundException", f"IdentityPool '{missing}' not found.")
    with pytest.raises(identities.exceptions.ResourceNotFoundException):
        identities.get_id(IdentityPoolId=pool_id(cognito), AccountId="123456789012")


def test_an_unknown_identity_is_not_found(cognito):
    missing = "us-east-1:00000000-0000-0000-0000-000000000000"
    identities = client(cognito)
    with pytest.raises(identities.exceptions.ResourceNotFoundException) as raised:
        identities.get_credentials_for_identity(IdentityId=missing)
    assert error_of(raised) == ("ResourceNotFoundException", f"Identity '{missing}' not found.")


@pytest.mark.parametrize(
    ("target", "body", "text"),
    [
        (
            "GetId",
            {"IdentityPoolId": "us-east-1_userpool"},
            "1 validation error detected: Value 'us-east-1_userpool' at 'identityPoolId'",
        ),
        (
            "GetId",
            {"IdentityPoolId": ""},
            (
                "2 validation errors detected: Value '' at 'identityPoolId' failed to satisfy"
                " constraint: Member must have length greater than or equal to 1; "
            ),
        ),
        ("GetId", {}, "1 validation error detected: Value null at 'identityPoolId'"),
        (
            "GetCredentialsForIdentity",
            {"IdentityId": "us-east-1:" + "a" * 46},
            "1 validation error detected: Value 'us-east-1:aaaa",
        ),
    ],
)
def test_parameters_off_the_model_are_a_validation_error(cognito, target, body, text):
    status, headers, data = post(cognito, f"AWSCognitoIdentityService.{target}", body)
    assert status == 400
    assert headers["x-amzn-errortype"] == "ValidationException:"
    document = json.loads(data)
    assert document["__type"] == "ValidationException"
    assert document["message"].startswith(text)
    assert headers["x-amzn-errormessage"] == document["message"]


def test_boto3_sees_the_pattern_refusal_as_aws_answers_it(cognito):
    identities = client(cognito)
    with pytest.raises(identities.exceptions.ClientError) as raised:
        identities.get_id(IdentityPoolId="us-east-1_userpool")
    code, message = error_of(raised)
    assert code == "ValidationException"
    assert message.endswith(r"Member must satisfy regular expression pattern: [\w-]+:[0-9a-f-]+")


@pytest.mark.parametrize("body", [b"{not json", b"[]", json.dumps({"IdentityPoolId": 7}).encode()])
def test_a_body_that_is_not_the_operations_json_is_a_serialization_error(cognito, body):
    status, headers, data = post(cognito, "AWSCognitoIdentityService.GetId", body)
    assert status == 400
    assert json.loads(data)["__type"] == "SerializationException"
    assert headers["x-amzn-errortype"] == "SerializationException:"


def test_a_login_for_a_provider_the_pool_does_not_have_is_not_authorized(cognito):
    identities = client(cognito)
    logins = {"graph.facebook.com": "token"}
    with pytest.raises(identities.exceptions.NotAuthorizedException) as raised:
        identities.get_id(IdentityPoolId=pool_id(cognito), Logins=logins)
    assert error_of(raised)[1] == "Token is not from a supported provider of this identity pool."
    identity_id = identities.get_id(IdentityPoolId=pool_id(cognito))["IdentityId"]
    with pytest.raises(identities.exceptions.NotAuthorizedException):
        identities.get_credentials_for_identity(IdentityId=identity_id, Logins=logins)


def changed(pool=None, trust=None, attachment=None):
    template = copy.deepcopy(TEMPLATE)
    resources = template["Resources"]
    resources["WebIdentityPool"]["Properties"].update(pool or {})
    resources["WebIdentityPoolRoles"]["Properties"].update(attachment or {})
    if trust is not None:
        statement = resources["WebBackendRole"]["Properties"]["AssumeRolePolicyDocument"]
        statement["Statement"][0]["Condition"] = trust
    return template


def test_a_pool_without_unauthenticated_access_refuses_both_calls(start):
    open_pool = start()
    identity_id = client(open_pool).get_id(IdentityPoolId=pool_id(open_pool))["IdentityId"]
    open_pool.stop()
    closed = start(changed(pool={"AllowUnauthenticatedIdentities": False}))
    identities = client(closed)
    message = "Unauthenticated access is not supported for this identity pool."
    with pytest.raises(identities.exceptions.NotAuthorizedException) as raised:
        identities.get_id(IdentityPoolId=pool_id(closed))
    assert error_of(raised)[1] == message
    with pytest.raises(identities.exceptions.NotAuthorizedException) as raised:
        identities.get_credentials_for_identity(IdentityId=identity_id)
    assert error_of(raised)[1] == message


@pytest.mark.parametrize(
    "template",
    [
        changed(
            trust={
                "StringEquals": {"cognito-identity.amazonaws.com:aud": NO_POOL},
                "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "unauthenticated"},
            }
        ),
        changed(
            trust={
                "StringEquals": {"cognito-identity.amazonaws.com:aud": {"Ref": "WebIdentityPool"}},
                "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "authenticated"},
            }
        ),
        changed(attachment={"Roles": {"authenticated": {"Fn::GetAtt": ["WebBackendRole", "Arn"]}}}),
    ],
    ids=["another-pools-role", "authenticated-role", "no-unauthenticated-role"],
)
def test_a_role_the_pool_cannot_hand_out_is_an_invalid_configuration(start, template):
    cognito = start(template)
    identities = client(cognito)
    identity_id = identities.get_id(IdentityPoolId=pool_id(cognito))["IdentityId"]
    with pytest.raises(identities.exceptions.InvalidIdentityPoolConfigurationException) as raised:
        identities.get_credentials_for_identity(IdentityId=identity_id)
    assert error_of(raised)[1] == (
        "Invalid identity pool configuration. Check assigned IAM roles for this pool."
    )


@pytest.mark.parametrize(
    ("method", "target"),
    [
        ("POST", "AWSCognitoIdentityService.DescribeIdentityPool"),
        ("POST", "DynamoDB_20120810.ListTables"),
        ("POST", None),
        ("GET", None),
    ],
)
def test_an_operation_not_served_is_an_unknown_operation(cognito, method, target):
    headers = {} if target is None else {"X-Amz-Target": target}
    status, answered, data = request(cognito, method, b"{}" if method == "POST" else b"", headers)
    assert status == 400
    assert answered["x-amzn-errortype"] == "UnknownOperationException:"
    assert json.loads(data)["__type"].endswith("#UnknownOperationException")


# ---------------------------------------------------------------- browsers


PREFLIGHT = {
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": (
        "amz-sdk-invocation-id,amz-sdk-request,content-type,x-amz-target,x-amz-user-agent"
    ),
    "Sec-Fetch-Mode": "cors",
    "Sec-Fetch-Site": "cross-site",
}


@pytest.mark.parametrize("origin", [PAGE, OTHER_PAGE])
def test_a_preflight_from_the_pages_origin_allows_what_the_sdk_sends(cognito, origin):
    status, headers, body = request(cognito, "OPTIONS", headers={"Origin": origin, **PREFLIGHT})
    assert (status, body) == (200, b"")
    assert headers["access-control-allow-origin"] == origin
    assert "POST" in headers["access-control-allow-methods"]
    allowed = {h.strip() for h in headers["access-control-allow-headers"].split(",")}
    assert set(PREFLIGHT["Access-Control-Request-Headers"].split(",")) <= allowed
    assert int(headers["access-control-max-age"]) > 0


def test_answers_to_the_page_name_its_origin_and_expose_what_the_sdk_reads(cognito):
    browser = {"Origin": PAGE, "Sec-Fetch-Site": "same-site", "X-Amz-User-Agent": "aws-sdk-js/3"}
    for body in ({"IdentityPoolId": pool_id(cognito)}, {"IdentityPoolId": "bad"}):
        status, headers, _ = post(cognito, "AWSCognitoIdentityService.GetId", body, **browser)
        assert status in (200, 400)
        assert headers["access-control-allow-origin"] == PAGE
        exposed = {h.strip().lower() for h in headers["access-control-expose-headers"].split(",")}
        assert {"x-amzn-requestid", "x-amzn-errortype"} <= exposed
        assert "origin" in headers["vary"].lower()


def test_another_origin_is_refused_before_any_call_and_gets_no_cors(cognito):
    stranger = {"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}
    status, headers, _ = request(cognito, "OPTIONS", headers={**stranger, **PREFLIGHT})
    assert status == 403
    assert "access-control-allow-origin" not in headers
    body = {"IdentityPoolId": pool_id(cognito)}
    status, headers, _ = post(cognito, "AWSCognitoIdentityService.GetId", body, **stranger)
    assert status == 403
    assert "access-control-allow-origin" not in headers


def test_a_server_without_allowed_origins_serves_no_page(start):
    cognito = start(allowed_origins=())
    status, _, _ = request(cognito, "OPTIONS", headers={"Origin": PAGE, **PREFLIGHT})
    assert status == 403
    assert urlsplit(cognito.url).hostname == "127.0.0.1"


def test_credentials_issued_from_many_threads_are_each_looked_up_at_once(cognito):
    identities = client(cognito)
    made = [identities.get_id(IdentityPoolId=pool_id(cognito)) for _ in range(4)]
    identity_ids = [answer["IdentityId"] for answer in made]

    def issue_and_look_up(identity_id):
        # Each worker looks its keys up while the others are still issuing theirs.
        own = client(cognito)
        found = []
        for _ in range(3):
            answer = own.get_credentials_for_identity(IdentityId=identity_id)
            found.append(cognito.lookup(answer["Credentials"]["AccessKeyId"]))
        return found

    with ThreadPoolExecutor(max_workers=4) as workers:
        found = [key for keys in workers.map(issue_and_look_up, identity_ids) for key in keys]
    assert all(key is not None and key.principal_arn == ROLE_SESSION for key in found)
    assert len({key.access_key_id for key in found if key is not None}) == 12
    assert {key.identity_id for key in found if key is not None} == set(identity_ids)
