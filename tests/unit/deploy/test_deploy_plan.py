"""The deployment plan: every step, decided from the settings alone (no AWS, no programs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from swan.core.errors import InvalidSettingError
from swan.deploy.plan import DeployConfig, DeployPaths, Tools, fill, plan_deploy, site_config

STATE = Path("/state")
CERTS = Path("/certs")
REPO = Path("/repo")
TOOLS = Tools(sam=Path("/sam"), python=Path("/py"), lambda_python_dir=Path("/py312/bin"))


def config(**changes):
    return DeployConfig(
        **{
            "region": "eu-west-1",
            "state_dir": STATE,
            "certs_dir": CERTS,
            "repository": REPO,
            **changes,
        }
    )


def kinds(steps):
    return [step.kind for step in steps]


def command_of(steps, kind):
    (step,) = [s for s in steps if s.kind == kind]
    return step.command


def test_a_deployment_does_everything_from_the_ca_to_the_invalidation():
    assert kinds(plan_deploy(config(), TOOLS, first_deploy=True)) == [
        "account",
        "ca",
        "register-ca",
        "endpoint",
        "sam-build",
        "sam-deploy",
        "outputs",
        "export",
        "upload",
        "invalidate",
        "next-steps",
    ]


def test_without_the_site_the_stack_is_all():
    steps = plan_deploy(config(site=False), TOOLS, first_deploy=False)
    assert "export" not in kinds(steps)
    assert "upload" not in kinds(steps)
    assert kinds(steps)[-2:] == ["outputs", "next-steps"]


def test_the_build_uses_the_lambda_python_and_the_state_directory():
    (step,) = [s for s in plan_deploy(config(), TOOLS, first_deploy=True) if s.kind == "sam-build"]
    assert step.command == (
        "/sam",
        "build",
        "--template-file",
        "/repo/sam/template.yaml",
        "--build-dir",
        "/state/aws/swan/build",
        "--cache-dir",
        "/state/aws/swan/build-cache",
    )
    assert step.env == {"PATH": "/py312/bin:$PATH"}


def test_without_python_3_12_the_build_step_says_so():
    tools = Tools(sam=Path("/sam"), python=Path("/py"), lambda_python_dir=None)
    (step,) = [s for s in plan_deploy(config(), tools, first_deploy=True) if s.kind == "sam-build"]
    assert "python3.12" in step.notes[0]


def test_the_first_deploy_is_guided_and_saves_its_answers_in_the_state_directory():
    deploy = command_of(plan_deploy(config(), TOOLS, first_deploy=True), "sam-deploy")
    assert "--guided" in deploy
    assert deploy[deploy.index("--config-file") + 1] == "/state/aws/swan/samconfig.toml"
    assert deploy[deploy.index("--template-file") + 1] == "/state/aws/swan/build/template.yaml"
    assert deploy[deploy.index("--parameter-overrides") + 1] == "DeviceCaCertificateId={ca_id}"
    assert deploy[deploy.index("--capabilities") + 1] == "CAPABILITY_IAM"


def test_later_deploys_use_the_saved_answers():
    deploy = command_of(plan_deploy(config(), TOOLS, first_deploy=False), "sam-deploy")
    assert "--guided" not in deploy
    assert "--resolve-s3" not in deploy  # the saved answers name the bucket
    assert "--no-fail-on-empty-changeset" in deploy
    assert "--no-confirm-changeset" not in deploy


def test_a_first_deploy_that_may_not_ask_makes_its_own_bucket_and_confirms_nothing():
    deploy = command_of(
        plan_deploy(config(interactive=False), TOOLS, first_deploy=True), "sam-deploy"
    )
    assert "--guided" not in deploy
    assert {"--resolve-s3", "--no-confirm-changeset", "--save-params"} <= set(deploy)


def test_the_stack_takes_no_backend_the_page_needs_none():
    deploy = command_of(plan_deploy(config(), TOOLS, first_deploy=False), "sam-deploy")
    assert not [part for part in deploy if part.startswith("Backend")]
    steps = plan_deploy(config(), TOOLS, first_deploy=False)
    (export,) = [step for step in steps if step.kind == "export"]
    assert "REFLEX_API_URL" not in export.env


def test_the_page_finds_the_deployment_in_a_config_file_beside_it():
    assert site_config("eu-west-1", "eu-west-1:pool", "abc-ats.iot.eu-west-1.amazonaws.com") == {
        "region": "eu-west-1",
        "identityPoolId": "eu-west-1:pool",
        "iotEndpoint": "wss://abc-ats.iot.eu-west-1.amazonaws.com/mqtt",
    }


def test_a_profile_goes_to_sam():
    deploy = command_of(
        plan_deploy(config(profile="swan"), TOOLS, first_deploy=False), "sam-deploy"
    )
    assert deploy[deploy.index("--profile") + 1] == "swan"


def test_the_export_is_one_static_build():
    (step,) = [s for s in plan_deploy(config(), TOOLS, first_deploy=False) if s.kind == "export"]
    assert step.command == (
        "/py",
        "-m",
        "reflex",
        "export",
        "--frontend-only",
        "--zip-dest-dir",
        "/state/aws/swan/site",
    )
    assert step.env == {}  # one build for every deployment: nothing baked in


def test_what_is_not_known_yet_shows_as_a_placeholder():
    assert fill("s3://{bucket}/{key}", {"bucket": "b"}) == "s3://b/<key>"
    steps = plan_deploy(config(region=None), TOOLS, first_deploy=True)
    lines = [line for step in steps for line in step.render({}).describe()]
    assert any("'DeviceCaCertificateId=<ca_id>'" in line for line in lines)
    assert any("--region '<region>'" in line for line in lines)


def test_each_stack_keeps_its_own_state():
    assert DeployPaths.of(config(stack_name="swan-test")).samconfig == Path(
        "/state/aws/swan-test/samconfig.toml"
    )


@pytest.mark.parametrize(
    ("changes", "flag"),
    [
        ({"stack_name": "1swan"}, "--stack-name"),
        ({"stack_name": "swan_x"}, "--stack-name"),
        ({"region": "Europe"}, "--region"),
    ],
)
def test_bad_settings_are_refused_by_name(changes, flag):
    with pytest.raises(InvalidSettingError, match=flag):
        config(**changes)
