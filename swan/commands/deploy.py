"""`swan deploy`: The Swan on AWS, from an empty account, in one command."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from swan.commands import Command, certs_dir
from swan.core.errors import InvalidSettingError
from swan.settings import Settings

if TYPE_CHECKING:
    import argparse

DESCRIPTION = """\
Deploy The Swan to the AWS account of your credentials (AWS_PROFILE or --profile, and a
region): register the device CA of the state directory with AWS IoT for just-in-time
registration (once), build and deploy the SAM stack (sam/template.yaml; the first time
guided, then with the answers saved in the state directory), export the web app's static
frontend, upload it to the stack's bucket, invalidate CloudFront, and print the URL, the IoT
endpoint and what to do for devices. Run it again after a change: every step is idempotent.

--dry-run prints every step, with the commands it would run and the AWS calls it would make,
and touches nothing (no credentials needed). docs/aws.md walks through a first deployment.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dry-run", action="store_true", help="print every step without doing anything"
    )
    parser.add_argument(
        "--region",
        help="the AWS region (default: AWS_REGION, AWS_DEFAULT_REGION or the profile's)",
    )
    parser.add_argument("--profile", help="the AWS profile (default: AWS_PROFILE or default)")
    parser.add_argument("--stack-name", default="swan", help="the stack (default: swan)")
    parser.add_argument(
        "--no-site", action="store_true", help="deploy the stack only: no export, no upload"
    )
    parser.add_argument(
        "--yes",
        action="store_true",
        help="never ask: the first sam deploy is not guided, change sets are not confirmed",
    )


def run(args: argparse.Namespace) -> int:
    from swan.deploy.limits import check_stack_name  # noqa: PLC0415
    from swan.deploy.plan import DeployConfig, DeployPaths, Tools, plan_deploy  # noqa: PLC0415
    from swan.deploy.runner import (  # noqa: PLC0415
        Deployment,
        SubprocessPrograms,
        print_plan,
    )
    from swan.deploy.tools import (  # noqa: PLC0415
        REPO,
        SAM_VENV,
        TEMPLATE,
        find_lambda_python,
        sam_executable,
    )
    from swan.local.template import load_template  # noqa: PLC0415

    settings = Settings.from_env()
    region = (
        args.region
        or os.environ.get("AWS_REGION")
        or os.environ.get("AWS_DEFAULT_REGION")
        or (None if args.dry_run else profile_region(args.profile))
    )
    if not region and not args.dry_run:
        print(
            "swan deploy: give --region, set AWS_REGION or a region in the profile", file=sys.stderr
        )
        return 2
    config = DeployConfig(
        region=region,
        state_dir=Path(args.state_dir or settings.state_dir).resolve(),
        certs_dir=certs_dir(args),
        repository=REPO,
        stack_name=args.stack_name,
        profile=args.profile,
        site=not args.no_site,
        interactive=not args.yes and sys.stdin.isatty(),
    )
    # A name CloudFormation would fail on halfway (a Lambda function name over 64, say).
    check_stack_name(load_template(TEMPLATE), config.stack_name)
    sam = SAM_VENV / "bin" / "sam" if args.dry_run else sam_executable()
    tools = Tools(sam=sam, python=Path(sys.executable), lambda_python_dir=find_lambda_python())
    first_deploy = not DeployPaths.of(config).samconfig.exists()
    steps = plan_deploy(config, tools, first_deploy=first_deploy)
    if args.dry_run:
        print(f"swan deploy --dry-run: {len(steps)} steps, nothing is done.")
        print_plan(steps)
        return 0
    import boto3  # noqa: PLC0415  (only a real deployment needs it)

    session = boto3.Session(profile_name=config.profile, region_name=config.region)
    Deployment(config, steps, session, SubprocessPrograms(), os.environ).run()
    return 0


def profile_region(profile: str | None) -> str | None:
    """The region of `profile` (None: AWS_PROFILE or default) in the AWS config file, as
    boto3 and the AWS CLI find it; None if it has none."""
    import boto3  # noqa: PLC0415  (only a real deployment needs it)
    from botocore.exceptions import ProfileNotFound  # noqa: PLC0415

    try:
        region = boto3.Session(profile_name=profile).region_name
    except ProfileNotFound as error:
        raise InvalidSettingError("--profile", profile, str(error)) from None
    return str(region) if region else None


COMMAND = Command(
    name="deploy",
    help="deploy to AWS: IoT CA, SAM stack, web app on S3 + CloudFront",
    description=DESCRIPTION,
    add_arguments=add_arguments,
    run=run,
)
