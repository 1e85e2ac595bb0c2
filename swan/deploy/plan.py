"""What `swan deploy` does, decided from its settings and the state directory: pure.

A plan is a list of `Step`s, each with what it runs or calls. Values that only exist once an
earlier step has run (the CA's id, the stack's outputs) appear in a step as `{name}`; the
runner fills them in as it goes, and `--dry-run` shows them as `<name>`.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, Literal

from swan.core.errors import InvalidSettingError

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

StepKind = Literal[
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

DEFAULT_STACK: Final = "swan"
STACK_NAME: Final = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,100}")
SITE_CONFIG: Final = "swan-config.json"
REGION_NAME: Final = re.compile(r"[a-z]{2}(-[a-z]+)+-\d")
_FACT: Final = re.compile(r"\{([a-z_]+)\}")


@dataclass(frozen=True)
class DeployConfig:
    """What the user asked for."""

    region: str | None  # None: not known yet (a dry run without one)
    state_dir: Path
    certs_dir: Path  # the CA registered with AWS IoT lives here
    repository: Path
    stack_name: str = DEFAULT_STACK
    profile: str | None = None
    site: bool = True  # export the web app and upload it
    interactive: bool = True  # the first `sam deploy` is guided

    def __post_init__(self) -> None:
        if not STACK_NAME.fullmatch(self.stack_name):
            raise InvalidSettingError(
                "--stack-name", self.stack_name, "must be a CloudFormation stack name"
            )
        if self.region is not None and not REGION_NAME.fullmatch(self.region):
            raise InvalidSettingError("--region", self.region, "must be an AWS region name")


@dataclass(frozen=True)
class DeployPaths:
    """Where a deployment keeps what it makes: the state directory, never committed."""

    aws: Path
    samconfig: Path
    build: Path
    build_cache: Path
    site: Path
    ca_certificate: Path

    @classmethod
    def of(cls, config: DeployConfig) -> DeployPaths:
        aws = config.state_dir / "aws" / config.stack_name
        return cls(
            aws=aws,
            samconfig=aws / "samconfig.toml",
            build=aws / "build",
            build_cache=aws / "build-cache",
            site=aws / "site",
            ca_certificate=config.certs_dir / "ca.pem",
        )


@dataclass(frozen=True)
class Tools:
    """The programs the plan runs, as found on this machine."""

    sam: Path
    python: Path  # runs `-m reflex`
    lambda_python_dir: Path | None  # a directory with python3.12, for `sam build`


@dataclass(frozen=True)
class Step:
    kind: StepKind
    title: str
    command: tuple[str, ...] = ()  # a program to run, if any
    env: Mapping[str, str] = field(default_factory=dict)  # what the program gets besides ours
    calls: tuple[str, ...] = ()  # the AWS API calls the step makes, if any
    notes: tuple[str, ...] = ()

    def render(self, facts: Mapping[str, str]) -> Step:
        """The step with the facts known so far filled in; the others as `<name>`."""
        return Step(
            self.kind,
            fill(self.title, facts),
            tuple(fill(part, facts) for part in self.command),
            {name: fill(value, facts) for name, value in self.env.items()},
            tuple(fill(call, facts) for call in self.calls),
            tuple(fill(note, facts) for note in self.notes),
        )

    def describe(self) -> list[str]:
        """The step as lines for a person to read (the dry run prints these)."""
        lines = [self.title]
        lines += [f"    API: {call}" for call in self.calls]
        if self.command:
            settings = " ".join(f"{name}={shlex.quote(value)}" for name, value in self.env.items())
            run = shlex.join(self.command)
            lines.append(f"    run: {settings + ' ' if settings else ''}{run}")
        lines += [f"    {note}" for note in self.notes]
        return lines


def fill(text: str, facts: Mapping[str, str]) -> str:
    return _FACT.sub(lambda found: facts.get(found.group(1), f"<{found.group(1)}>"), text)


def plan_deploy(config: DeployConfig, tools: Tools, *, first_deploy: bool) -> tuple[Step, ...]:
    """Every step of a deployment, in order.

    `first_deploy`: no sam deploy configuration yet in the state directory, so the first
    `sam deploy` is guided (when interactive) and saves one.
    """
    paths = DeployPaths.of(config)
    region = config.region or "{region}"
    steps = [
        Step(
            "account",
            f"Find the AWS account of these credentials (region {region}), and check that no"
            " other stack has The Swan there (thing names and topic rules are per region)",
            calls=(
                "sts:GetCallerIdentity",
                "iot:DescribeThing thingName=button",
                (
                    f"cloudformation:DescribeStackResource StackName={config.stack_name}"
                    " LogicalResourceId=ButtonThing (if the thing exists: is it this stack's?)"
                ),
            ),
        ),
        Step(
            "ca",
            f"Use the device CA in {paths.ca_certificate} (made now if there is none); device"
            " certificates it signs register themselves on their first connect",
        ),
        Step(
            "register-ca",
            "Register the CA with AWS IoT for just-in-time registration, or reuse it if this"
            " account already has it",
            calls=(
                (
                    "iot:DescribeCACertificate (under the id the last deployment recorded, or"
                    " AWS's id for it: the SHA-256 of its DER; registered already?)"
                ),
                (
                    "iot:GetRegistrationCode (a verification certificate with it as common name,"
                    " signed by the CA: swan.certs)"
                ),
                "iot:RegisterCACertificate setAsActive allowAutoRegistration",
                "iot:UpdateCACertificate ACTIVE, auto-registration ENABLE (if it was off)",
            ),
        ),
        Step(
            "endpoint",
            "Look up the account's IoT endpoint (CloudFormation has no attribute for it)",
            calls=("iot:DescribeEndpoint endpointType=iot:Data-ATS",),
        ),
        _sam_build(config, tools, paths),
        _sam_deploy(config, tools, paths, first_deploy=first_deploy),
        Step(
            "outputs",
            f"Read the outputs of stack {config.stack_name}",
            calls=(f"cloudformation:DescribeStacks StackName={config.stack_name}",),
        ),
    ]
    if config.site:
        steps += _site_steps(config, tools, paths)
    steps.append(
        Step(
            "next-steps",
            "Print the web app's URL, the IoT endpoint and what to do for devices",
        )
    )
    return tuple(steps)


def _sam_build(config: DeployConfig, tools: Tools, paths: DeployPaths) -> Step:
    env = {}
    notes: tuple[str, ...] = ()
    if tools.lambda_python_dir is not None:
        env["PATH"] = f"{tools.lambda_python_dir}:$PATH"
    else:
        notes = (
            (
                "no python3.12 found: sam build will fail (pyenv install 3.12, or set"
                " SWAN_LAMBDA_PYTHON to one)"
            ),
        )
    return Step(
        "sam-build",
        "Build the functions and the SwanLayer (the swan package, powertools, cryptography)",
        command=(
            str(tools.sam),
            "build",
            "--template-file",
            str(config.repository / "sam" / "template.yaml"),
            "--build-dir",
            str(paths.build),
            "--cache-dir",
            str(paths.build_cache),
        ),
        env=env,
        notes=notes,
    )


def _sam_deploy(
    config: DeployConfig, tools: Tools, paths: DeployPaths, *, first_deploy: bool
) -> Step:
    command = [
        str(tools.sam),
        "deploy",
        "--template-file",
        str(paths.build / "template.yaml"),
        "--config-file",
        str(paths.samconfig),
        "--stack-name",
        config.stack_name,
        "--region",
        config.region or "{region}",
        "--capabilities",
        "CAPABILITY_IAM",
        "--parameter-overrides",
        "DeviceCaCertificateId={ca_id}",
    ]
    if config.profile:
        command += ["--profile", config.profile]
    guided = first_deploy and config.interactive
    if guided:
        command.append("--guided")
        title = "Deploy the stack, guided this first time (answers saved for the next runs)"
    else:
        command += ["--no-fail-on-empty-changeset", "--save-params"]
        if first_deploy:
            command.append("--resolve-s3")  # guided would have asked for a bucket
        if not config.interactive:
            command.append("--no-confirm-changeset")
        title = (
            f"Deploy the stack, asking nothing; the answers are saved in {paths.samconfig}"
            if first_deploy
            else f"Deploy the stack with the saved answers ({paths.samconfig})"
        )
    return Step("sam-deploy", title, command=tuple(command))


def site_config(region: str, identity_pool: str, endpoint: str) -> dict[str, str]:
    """`/swan-config.json`, beside the page: what one static build needs to find this
    deployment (the page asks the identity pool for credentials, then speaks MQTT over a
    SigV4-signed WebSocket to the account's IoT endpoint, as AWS IoT serves it)."""
    return {
        "region": region,
        "identityPoolId": identity_pool,
        "iotEndpoint": f"wss://{endpoint}/mqtt",
    }


def _site_steps(_config: DeployConfig, tools: Tools, paths: DeployPaths) -> list[Step]:
    return [
        Step(
            "export",
            "Export the web page: static, it needs no server (it talks to AWS IoT itself)",
            command=(
                str(tools.python),
                "-m",
                "reflex",
                "export",
                "--frontend-only",
                "--zip-dest-dir",
                str(paths.site),
            ),
        ),
        Step(
            "upload",
            f"Upload the site to s3://{{bucket}} with /{SITE_CONFIG} beside it (region"
            " {region}, identity pool {identity_pool}, wss://{endpoint}/mqtt), removing files"
            " the export no longer has",
            calls=(
                "s3:ListObjectsV2",
                "s3:PutObject (each file, with its type; pages and the config never cached)",
                "s3:DeleteObjects (what is left over)",
            ),
        ),
        Step(
            "invalidate",
            "Make CloudFront fetch the new site: invalidate /* on {distribution_id}",
            calls=("cloudfront:CreateInvalidation Paths=/*",),
        ),
    ]


def next_steps(facts: Mapping[str, str], config: DeployConfig) -> list[str]:
    """What to tell the user at the end."""
    region = config.region or "<region>"
    return [
        (
            f"The Swan is deployed (stack {config.stack_name}, {region}, account"
            f" {facts.get('account', '<account>')})."
        ),
        f"  web app                 {facts.get('site_url', '<site_url>')}",
        f"  IoT endpoint (devices)  {facts.get('endpoint', '<endpoint>')}, port 8883",
        (
            f"  device CA               {facts.get('ca_id', '<ca_id>')}"
            f" ({DeployPaths.of(config).ca_certificate})"
        ),
        f"  web identity pool       {facts.get('identity_pool', '<identity_pool>')}",
        "Next:",
        (
            "  - a device: swan certs device NAME, then give the device the endpoint, its .pem and"
            " .key and Amazon Root CA 1; its first connect is refused while it registers (JITR),"
            " it retries and gets in"
        ),
        "  - an AWS IoT Button, the Raspberry Pi, certificate rotation: docs/aws.md",
    ]
