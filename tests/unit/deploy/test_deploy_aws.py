"""`swan deploy` against moto: the CA's registration for just-in-time registration (once),
the IoT endpoint, the stack's outputs, the site's upload and the invalidation; then a whole
deployment, with `sam` and `reflex` recorded instead of run (their steps are checked through
the plan and the dry run)."""

from __future__ import annotations

import json
import zipfile
from datetime import UTC, datetime

import boto3
import pytest
from aws_support import REGION, fake_credentials
from botocore.stub import Stubber
from cryptography import x509
from cryptography.x509.oid import NameOID
from moto import mock_aws

from swan.certs.files import CertificateStore
from swan.deploy import aws
from swan.deploy.plan import DeployConfig, Tools, plan_deploy
from swan.deploy.runner import Deployment
from swan.deploy.tools import REPO

NOW = datetime.now(UTC)


@pytest.fixture
def account(monkeypatch):
    fake_credentials(monkeypatch)
    with mock_aws():
        yield boto3.Session(region_name=REGION)


@pytest.fixture
def store(tmp_path):
    return CertificateStore(tmp_path / "certs")


def common_name(certificate):
    return certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value


def test_the_ca_is_registered_with_a_verification_certificate_and_auto_registration(account, store):
    iot = account.client("iot")
    codes = []  # moto makes a new code each time (AWS keeps one per account): note it
    iot.meta.events.register(
        "after-call.iot.GetRegistrationCode",
        lambda parsed, **_: codes.append(parsed["registrationCode"]),
    )
    registered = aws.register_ca(iot, store, now=NOW)
    assert registered.reused is False
    description = iot.describe_ca_certificate(certificateId=registered.certificate_id)
    assert description["certificateDescription"]["status"] == "ACTIVE"
    pem = store.ca_files.certificate.read_text()
    assert description["certificateDescription"]["certificatePem"].strip() == pem.strip()
    verification = x509.load_pem_x509_certificate(store.verification_files.certificate.read_bytes())
    assert [common_name(verification)] == codes
    assert verification.issuer == x509.load_pem_x509_certificate(pem.encode()).subject


# moto gives a CA an id of its own (not the SHA-256 of its DER, as AWS does), so these find
# it under the id the first deployment recorded.


def test_a_ca_the_account_has_already_is_reused(account, store):
    iot = account.client("iot")
    first = aws.register_ca(iot, store, now=NOW)
    again = aws.register_ca(iot, store, now=NOW, known=[first.certificate_id])
    assert again == aws.RegisteredCa(first.certificate_id, reused=True)


def test_a_ca_left_inactive_is_switched_back_on(account, store):
    iot = account.client("iot")
    first = aws.register_ca(iot, store, now=NOW)
    iot.update_ca_certificate(certificateId=first.certificate_id, newStatus="INACTIVE")
    aws.register_ca(iot, store, now=NOW, known=[first.certificate_id])
    description = iot.describe_ca_certificate(certificateId=first.certificate_id)
    assert description["certificateDescription"]["status"] == "ACTIVE"


def test_another_ca_in_the_account_is_left_alone(account, store, tmp_path):
    iot = account.client("iot")
    other = CertificateStore(tmp_path / "other" / "certs")
    theirs = aws.register_ca(iot, other, now=NOW)
    ours = aws.register_ca(iot, store, now=NOW, known=[theirs.certificate_id])
    assert ours.certificate_id != theirs.certificate_id
    assert ours.reused is False


def test_the_endpoint_is_the_ats_data_endpoint(account):
    assert aws.iot_endpoint(account.client("iot")).endswith(f"-ats.iot.{REGION}.amazonaws.com")


def site_stack(session):
    """What sam deploy leaves: the site's bucket and distribution, and the outputs the
    template declares, for a stubbed CloudFormation to answer with."""
    s3 = session.client("s3")
    s3.create_bucket(Bucket="swan-sitebucket-1")
    distribution = session.client("cloudfront").create_distribution(
        DistributionConfig={
            "CallerReference": "swan",
            "Comment": "",
            "Enabled": True,
            "Origins": {
                "Quantity": 1,
                "Items": [
                    {
                        "Id": "site",
                        "DomainName": "swan-sitebucket-1.s3.amazonaws.com",
                        "S3OriginConfig": {"OriginAccessIdentity": ""},
                    }
                ],
            },
            "DefaultCacheBehavior": {
                "TargetOriginId": "site",
                "ViewerProtocolPolicy": "redirect-to-https",
                "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6",
            },
        }
    )["Distribution"]
    return {
        "SiteUrl": f"https://{distribution['DomainName']}",
        "SiteBucketName": "swan-sitebucket-1",
        "SiteDistributionId": distribution["Id"],
        "WebIdentityPoolId": f"{REGION}:00000000-pool",
    }


def cloudformation(outputs, stack="swan"):
    """CloudFormation through botocore's Stubber (moto's needs extras this project does
    not install): DescribeStacks answers with `outputs`, then with no such stack."""
    client = boto3.client("cloudformation", region_name=REGION)
    stubber = Stubber(client)
    stubber.add_response(
        "describe_stacks",
        {
            "Stacks": [
                {
                    "StackName": stack,
                    "CreationTime": NOW,
                    "StackStatus": "CREATE_COMPLETE",
                    "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in outputs.items()],
                }
            ]
        },
        {"StackName": stack},
    )
    stubber.add_client_error(
        "describe_stacks", "ValidationError", "Stack with id swan-missing does not exist"
    )
    stubber.activate()
    return client


def test_the_stacks_outputs_are_read_by_name(account):
    outputs = site_stack(account)
    assert aws.stack_outputs(cloudformation(outputs), "swan") == outputs


def test_a_stack_that_is_not_there_is_named(monkeypatch):
    fake_credentials(monkeypatch)
    client = cloudformation({})
    client.describe_stacks(StackName="swan")
    with pytest.raises(aws.StackNotDeployedError, match="swan-missing"):
        aws.stack_outputs(client, "swan-missing")


def test_the_upload_replaces_the_site_and_never_caches_its_pages(account, tmp_path):
    site_stack(account)
    s3 = account.client("s3")
    s3.put_object(Bucket="swan-sitebucket-1", Key="assets/old-1234.js", Body=b"old")
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<html>The Swan</html>")
    (tmp_path / "assets" / "app-abcd.js").write_text("console.log(4815162342)")
    assert aws.upload_site(s3, "swan-sitebucket-1", tmp_path) == (2, 1)
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket="swan-sitebucket-1")["Contents"]]
    assert sorted(keys) == ["assets/app-abcd.js", "index.html"]
    page = s3.get_object(Bucket="swan-sitebucket-1", Key="index.html")
    assert (page["ContentType"], page["CacheControl"]) == ("text/html", "no-cache")
    script = s3.get_object(Bucket="swan-sitebucket-1", Key="assets/app-abcd.js")
    assert script["ContentType"] == "text/javascript"
    assert "immutable" in script["CacheControl"]


def test_an_archive_that_reaches_outside_the_site_is_refused(tmp_path):
    archive = tmp_path / "frontend.zip"
    with zipfile.ZipFile(archive, "w") as site:
        site.writestr("../evil.html", "x")
    with pytest.raises(aws.UnsafeArchiveError, match="evil"):
        aws.unpack_site(archive, tmp_path / "out")


def test_the_whole_site_is_invalidated(account):
    outputs = site_stack(account)
    cloudfront = account.client("cloudfront")
    invalidation = aws.invalidate(cloudfront, outputs["SiteDistributionId"])
    found = cloudfront.get_invalidation(
        DistributionId=outputs["SiteDistributionId"], Id=invalidation
    )["Invalidation"]
    assert found["InvalidationBatch"]["Paths"]["Items"] == ["/*"]


# ---------------------------------------------------------------- a whole deployment


class Account:
    """A boto3 session on moto, but for CloudFormation, stubbed once sam deploy has run."""

    def __init__(self, session):
        self.session = session
        self.outputs = None

    def client(self, service, **kwargs):
        if service == "cloudformation":
            return cloudformation(self.outputs)
        return self.session.client(service, **kwargs)


class RecordedPrograms:
    """sam and reflex, recorded; `sam deploy` leaves the stack, `reflex export` a site."""

    def __init__(self, account):
        self.account = account
        self.ran = []

    def run(self, command, *, env, cwd):
        self.ran.append((tuple(command), dict(env)))
        if command[1] == "deploy":
            self.account.outputs = site_stack(self.account.session)
        if "export" in command:
            destination = command[command.index("--zip-dest-dir") + 1]
            with zipfile.ZipFile(f"{destination}/frontend.zip", "w") as site:
                site.writestr("index.html", "<html>the page</html>")
        assert cwd == REPO


def test_a_deployment_from_an_empty_account(account, tmp_path):
    config = DeployConfig(
        region=REGION,
        state_dir=tmp_path,
        certs_dir=tmp_path / "certs",
        repository=REPO,
        interactive=False,
    )
    tools = Tools(sam=tmp_path / "sam", python=tmp_path / "python", lambda_python_dir=None)
    programs = RecordedPrograms(Account(account))
    said = []
    facts = Deployment(
        config,
        plan_deploy(config, tools, first_deploy=True),
        programs.account,
        programs,
        {"PATH": "/usr/bin"},
        say=said.append,
    ).run()

    ca_id = facts["ca_id"]
    deploy, env = next((c, e) for c, e in programs.ran if c[1] == "deploy")
    assert f"DeviceCaCertificateId={ca_id}" in deploy
    assert env["SAM_CLI_TELEMETRY"] == "0"
    assert env["AWS_REGION"] == REGION
    _, export_env = next((c, e) for c, e in programs.ran if "export" in c)
    assert "REFLEX_API_URL" not in export_env  # the page needs no backend
    assert export_env["REFLEX_TELEMETRY_ENABLED"] == "false"
    s3 = account.client("s3")
    assert s3.get_object(Bucket="swan-sitebucket-1", Key="index.html")["Body"].read()
    # One build for every deployment: this one's settings are in a file beside the page.
    config = s3.get_object(Bucket="swan-sitebucket-1", Key="swan-config.json")
    assert config["CacheControl"] == "no-cache"
    assert json.loads(config["Body"].read()) == {
        "region": REGION,
        "identityPoolId": facts["identity_pool"],
        "iotEndpoint": f"wss://{facts['endpoint']}/mqtt",
    }
    assert facts["endpoint"].endswith("amazonaws.com")
    assert any(facts["site_url"] in line for line in said)
    saved = json.loads((tmp_path / "aws" / "swan" / "deployment.json").read_text())
    assert saved["ca_id"] == ca_id
    assert saved["identity_pool"] == f"{REGION}:00000000-pool"


# ---------------------------------------------------------------- one Swan per region


def owner_of_button(stack, physical_id):
    """CloudFormation's answer for the ButtonThing of `stack` (None: no such stack)."""
    client = boto3.client("cloudformation", region_name=REGION)
    stubber = Stubber(client)
    expected = {"StackName": stack, "LogicalResourceId": "ButtonThing"}
    if physical_id is None:
        stubber.add_client_error(
            "describe_stack_resource",
            "ValidationError",
            f"Stack '{stack}' does not exist",
            expected_params=expected,
        )
    else:
        detail = {
            "LogicalResourceId": "ButtonThing",
            "PhysicalResourceId": physical_id,
            "ResourceType": "AWS::IoT::Thing",
            "LastUpdatedTimestamp": NOW,
            "ResourceStatus": "CREATE_COMPLETE",
        }
        stubber.add_response("describe_stack_resource", {"StackResourceDetail": detail}, expected)
    stubber.activate()
    return client


def test_a_region_without_the_button_thing_takes_any_stack(account):
    def never():
        raise AssertionError("no thing, no question to CloudFormation")

    aws.check_one_swan(account.client("iot"), never, "swan-prod", "button")


def test_the_stack_that_owns_the_button_thing_deploys_again(account):
    account.client("iot").create_thing(thingName="button")
    aws.check_one_swan(
        account.client("iot"), lambda: owner_of_button("swan", "button"), "swan", "button"
    )


@pytest.mark.parametrize("owner", [None, "other-button"])
def test_a_second_swan_in_the_same_region_is_refused(account, owner):
    account.client("iot").create_thing(thingName="button")
    with pytest.raises(aws.AnotherSwanError, match="another --region") as refused:
        aws.check_one_swan(
            account.client("iot"), lambda: owner_of_button("swan2", owner), "swan2", "button"
        )
    assert isinstance(refused.value, ValueError)  # the CLI's exit code 2
    assert "\n" not in str(refused.value)
