"""The local stack's credentials: an administrator identity and one identity per function role.

They live in `credentials.json` in the state directory, a file only its owner can read or
write (0600, whatever the umask), created on first use and kept across restarts: a key,
once issued, signs for as long as the state directory lives. The administrator's is a
long-term key (`AKIA...`), as an IAM user's is; each function role's is temporary
(`ASIA...` with a session token), as the credentials Lambda hands a function are. The
`lookup` method is what `swan.local.sigv4.SigV4Verifier` asks.

Pointing boto3 and the AWS CLI at the local endpoints with the administrator's keys, either
with the standard variables::

    export AWS_ACCESS_KEY_ID=<admin accessKeyId> AWS_SECRET_ACCESS_KEY=<admin secretAccessKey>
    export AWS_REGION=us-east-1
    export AWS_ENDPOINT_URL_IOT=http://127.0.0.1:<port>
    export AWS_ENDPOINT_URL_IOT_DATA_PLANE=http://127.0.0.1:<port>
    export AWS_ENDPOINT_URL_SCHEDULER=http://127.0.0.1:<port>

or with a named profile that `write_profile` puts in two files of the state directory (never
in `~/.aws`): the keys in `aws-credentials` (0600), the region and the per-service
`endpoint_url`s in `aws-config`, then::

    export AWS_CONFIG_FILE=<state>/aws-config AWS_SHARED_CREDENTIALS_FILE=<state>/aws-credentials
    aws --profile swan-local iot list-things     # boto3.Session(profile_name="swan-local")

Service-specific endpoints in the environment and the config file: "Service-specific
endpoints" in the AWS SDKs and Tools Reference Guide,
https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html
"""

from __future__ import annotations

import base64
import configparser
import io
import json
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from swan.adapters.private_files import PRIVATE_FILE, write_private
from swan.core.errors import SwanError
from swan.local.sigv4 import SigningKey

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from pathlib import Path

CREDENTIALS_FILE: Final = "credentials.json"
PROFILE: Final = "swan-local"
ACCOUNT_ID: Final = "000000000000"
ADMIN_USER: Final = "swan-admin"
_KEY_ALPHABET: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


class CredentialsFileError(SwanError, ValueError):
    """The credentials file exists but is not one this module wrote."""

    def __init__(self, path: Path, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}")


@dataclass(frozen=True)
class StackCredentials:
    """The administrator's key and each function role's, as issued."""

    admin: SigningKey
    roles: Mapping[str, SigningKey]

    def lookup(self, access_key_id: str) -> SigningKey | None:
        """The key with this id, if the stack issued it."""
        for key in (self.admin, *self.roles.values()):
            if key.access_key_id == access_key_id:
                return key
        return None

    def role(self, name: str) -> SigningKey:
        return self.roles[name]

    def environment(self, name: str | None = None) -> dict[str, str]:
        """The standard variables that make boto3 sign as the admin or as role `name`."""
        key = self.admin if name is None else self.roles[name]
        variables = {
            "AWS_ACCESS_KEY_ID": key.access_key_id,
            "AWS_SECRET_ACCESS_KEY": key.secret_access_key,
        }
        if key.session_token is not None:
            variables["AWS_SESSION_TOKEN"] = key.session_token
        return variables


def function_roles(template: Mapping[str, Any]) -> dict[str, str]:
    """Each function's role, by the function's logical id: its `Role` (a name or
    `!GetAtt X.Arn`), else the role SAM creates for it, `<FunctionLogicalId>Role`."""
    roles = {}
    for logical_id, resource in template.get("Resources", {}).items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        role = (resource.get("Properties") or {}).get("Role")
        if isinstance(role, dict) and "Fn::GetAtt" in role:
            attribute = role["Fn::GetAtt"]
            role = attribute[0] if isinstance(attribute, list) else attribute.split(".")[0]
        roles[logical_id] = role if isinstance(role, str) else f"{logical_id}Role"
    return roles


def load_or_create(state_dir: Path, roles: Iterable[str]) -> StackCredentials:
    """The stack's credentials, issuing (and recording) those not yet issued."""
    path = state_dir / CREDENTIALS_FILE
    document = _read(path)
    changed = not document
    admin = document.get("admin") or _issue(temporary=False)
    issued = dict(document.get("roles") or {})
    for role in roles:
        if role not in issued:
            issued[role] = _issue(temporary=True)
            changed = True
    if changed:
        state_dir.mkdir(parents=True, exist_ok=True)
        write_private(path, json.dumps({"admin": admin, "roles": issued}, indent=2) + "\n")
    return StackCredentials(
        admin=_key(admin, f"arn:aws:iam::{ACCOUNT_ID}:user/{ADMIN_USER}", path),
        roles={
            name: _key(entry, f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{name}/{name}", path)
            for name, entry in issued.items()
        },
    )


def write_profile(
    state_dir: Path,
    credentials: StackCredentials,
    endpoints: Mapping[str, str],
    *,
    region: str = "us-east-1",
    profile: str = PROFILE,
) -> tuple[Path, Path]:
    """Write the admin's keys as `profile` in `<state>/aws-credentials` (0600) and its
    region and endpoints in `<state>/aws-config`; return (config, credentials) paths.

    `endpoints` maps a service's config key (its service id in snake case: `iot`,
    `iot_data_plane`, `scheduler`) to the local endpoint URL."""
    keys = configparser.ConfigParser()
    keys[profile] = {
        "aws_access_key_id": credentials.admin.access_key_id,
        "aws_secret_access_key": credentials.admin.secret_access_key,
    }
    config = configparser.ConfigParser()
    config[f"profile {profile}"] = {"region": region, "services": profile}
    config[f"services {profile}"] = {
        service: f"\nendpoint_url = {url}" for service, url in sorted(endpoints.items())
    }
    state_dir.mkdir(parents=True, exist_ok=True)
    config_path, keys_path = state_dir / "aws-config", state_dir / "aws-credentials"
    write_private(keys_path, _text(keys))
    write_private(config_path, _text(config))
    return config_path, keys_path


def _issue(*, temporary: bool) -> dict[str, str]:
    prefix = "ASIA" if temporary else "AKIA"
    entry = {
        "accessKeyId": prefix + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(16)),
        "secretAccessKey": base64.b64encode(secrets.token_bytes(30)).decode(),
    }
    if temporary:
        entry["sessionToken"] = base64.b64encode(secrets.token_bytes(96)).decode()
    return entry


def _key(entry: Any, principal_arn: str, path: Path) -> SigningKey:
    try:
        return SigningKey(
            access_key_id=str(entry["accessKeyId"]),
            secret_access_key=str(entry["secretAccessKey"]),
            principal_arn=principal_arn,
            session_token=entry.get("sessionToken"),
        )
    except (KeyError, TypeError, AttributeError):
        raise CredentialsFileError(path, "an entry lacks accessKeyId or secretAccessKey") from None


def _read(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    path.chmod(PRIVATE_FILE)  # a copy restored with wider modes is made private again
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise CredentialsFileError(path, f"not JSON: {error}") from None
    if not isinstance(document, dict):
        raise CredentialsFileError(path, "not a JSON object")
    return document


def _text(parser: configparser.ConfigParser) -> str:
    buffer = io.StringIO()
    parser.write(buffer)
    return buffer.getvalue()
