"""Carrying a deployment plan out, step by step, or only printing it (`--dry-run`).

The AWS calls go through `swan.deploy.aws` with clients from one boto3 session; programs
(sam, reflex) through a `Programs` port, so tests can record them instead.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from swan.certs.files import CertificateStore
from swan.core.topics import BUTTON_THING
from swan.deploy import aws
from swan.deploy.plan import SITE_CONFIG, DeployConfig, DeployPaths, Step, next_steps, site_config
from swan.deploy.tools import run as run_program
from swan.deploy.tools import sam_environment
from swan.local.webapp import reflex_environment

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from pathlib import Path


class Programs(Protocol):
    def run(self, command: Sequence[str], *, env: Mapping[str, str], cwd: Path) -> None: ...


class SubprocessPrograms:
    def run(self, command: Sequence[str], *, env: Mapping[str, str], cwd: Path) -> None:
        run_program(command, env=env, cwd=cwd)


@dataclass
class Deployment:
    """One run: its settings, its plan, and the facts learnt so far."""

    config: DeployConfig
    steps: tuple[Step, ...]
    session: Any  # a boto3 Session
    programs: Programs
    environ: Mapping[str, str]
    say: Callable[[str], None] = print
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    facts: dict[str, str] = field(default_factory=dict)

    @property
    def paths(self) -> DeployPaths:
        return DeployPaths.of(self.config)

    @property
    def previous(self) -> dict[str, str]:
        """The facts the last deployment of this stack recorded, if any."""
        recorded = self.paths.aws / "deployment.json"
        if not recorded.is_file():
            return {}
        facts = json.loads(recorded.read_text())
        return facts if facts.get("region") == self.config.region else {}

    def run(self) -> dict[str, str]:
        self.paths.aws.mkdir(parents=True, exist_ok=True)
        for number, step in enumerate(self.steps, 1):
            rendered = step.render(self.facts)
            self.say(f"[{number}/{len(self.steps)}] {rendered.title}")
            getattr(self, f"_{step.kind.replace('-', '_')}")(rendered)
        self._save_facts()
        return self.facts

    # ------------------------------------------------------------ AWS

    def _client(self, service: str) -> Any:
        return self.session.client(service, region_name=self.config.region)

    def _account(self, _step: Step) -> None:
        self.facts["account"] = aws.account_id(self._client("sts"))
        self.facts["region"] = self.config.region or ""
        stack = self.config.stack_name
        aws.check_one_swan(
            self._client("iot"), lambda: self._client("cloudformation"), stack, BUTTON_THING
        )
        self.say(f"    account {self.facts['account']}")

    def _ca(self, _step: Step) -> None:
        store = CertificateStore(self.config.certs_dir)
        stored = store.ensure_ca(now=self.now())
        self.say(f"    {'made' if stored.created else 'using'} {stored.files.certificate}")

    def _register_ca(self, _step: Step) -> None:
        store = CertificateStore(self.config.certs_dir)
        known = [self.previous["ca_id"]] if self.previous.get("ca_id") else []
        registered = aws.register_ca(self._client("iot"), store, now=self.now(), known=known)
        self.facts["ca_id"] = registered.certificate_id
        how = "already registered" if registered.reused else "registered"
        self.say(f"    CA {registered.certificate_id} {how}, auto-registration on")

    def _endpoint(self, _step: Step) -> None:
        self.facts["endpoint"] = aws.iot_endpoint(self._client("iot"))
        self.say(f"    {self.facts['endpoint']}")

    def _outputs(self, _step: Step) -> None:
        outputs = aws.stack_outputs(self._client("cloudformation"), self.config.stack_name)
        self.facts["site_url"] = outputs.get("SiteUrl", "")
        self.facts["bucket"] = outputs.get("SiteBucketName", "")
        self.facts["distribution_id"] = outputs.get("SiteDistributionId", "")
        self.facts["identity_pool"] = outputs.get("WebIdentityPoolId", "")

    def _upload(self, _step: Step) -> None:
        site = self.paths.site
        unpacked = site / "frontend"
        shutil.rmtree(unpacked, ignore_errors=True)
        unpacked.mkdir(parents=True)
        aws.unpack_site(site / "frontend.zip", unpacked)
        config = site_config(
            self.facts["region"], self.facts["identity_pool"], self.facts["endpoint"]
        )
        (unpacked / SITE_CONFIG).write_text(json.dumps(config, indent=2) + "\n")
        uploaded, removed = aws.upload_site(self._client("s3"), self.facts["bucket"], unpacked)
        self.say(f"    {uploaded} files uploaded, {removed} old ones removed")

    def _invalidate(self, _step: Step) -> None:
        invalidation = aws.invalidate(self._client("cloudfront"), self.facts["distribution_id"])
        self.say(f"    invalidation {invalidation} (a few minutes)")

    # ------------------------------------------------------------ programs

    def _sam_build(self, step: Step) -> None:
        self._program(step)

    def _sam_deploy(self, step: Step) -> None:
        self._program(step)

    def _export(self, step: Step) -> None:
        site = self.paths.site
        shutil.rmtree(site, ignore_errors=True)
        site.mkdir(parents=True)
        self._program(step, reflex_environment(self.environ, self.paths.aws / "reflex"))

    def _program(self, step: Step, base: Mapping[str, str] | None = None) -> None:
        env = sam_environment(base or self.environ, None, self.config.region)
        if self.config.profile:
            env["AWS_PROFILE"] = self.config.profile
        for name, value in step.env.items():
            env[name] = value.replace("$PATH", env.get("PATH", ""))
        self.programs.run(step.command, env=env, cwd=self.config.repository)

    # ------------------------------------------------------------ the end

    def _next_steps(self, _step: Step) -> None:
        for line in next_steps(self.facts, self.config):
            self.say(line)

    def _save_facts(self) -> None:
        facts = self.paths.aws / "deployment.json"
        facts.write_text(json.dumps(self.facts, indent=2, sort_keys=True) + "\n")


def print_plan(steps: Sequence[Step], say: Callable[[str], None] = print) -> None:
    """The dry run: every step, what it runs or calls, with placeholders for what only the
    earlier steps will know."""
    for number, step in enumerate(steps, 1):
        lines = step.render({}).describe()
        say(f"[{number}/{len(steps)}] {lines[0]}")
        for line in lines[1:]:
            say(line)
