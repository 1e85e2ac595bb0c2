"""The template's Lambda functions, hosted in this process like warm Lambda containers.

Each function's module is imported once from its CodeUri (under a unique module name, as
every function calls its module `app`), after the environment the template gives it is in
place; invocations run on a thread pool, as concurrent Lambda invocations would.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import sys
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from swan.core.errors import SwanError
from swan.local.intrinsics import resolve

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping
    from pathlib import Path

    from swan.local.deployment import Deployment, Function

log = logging.getLogger(__name__)

MAX_CONCURRENCY = 32


class FunctionError(SwanError, RuntimeError):
    pass


@dataclass(frozen=True)
class LambdaContext:
    """What a handler (and powertools' `inject_lambda_context`) reads from the context."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    aws_request_id: str
    deadline: float
    function_version: str = "$LATEST"
    log_group_name: str = "local"
    log_stream_name: str = "local"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


@dataclass(frozen=True)
class Hosted:
    function: Function
    name: str
    arn: str
    handler: Callable[[Any, Any], Any]


class FunctionHost:
    """Imports the functions of `deployment` and invokes them by logical id or ARN."""

    def __init__(
        self,
        deployment: Deployment,
        template: Mapping[str, Any],
        template_dir: Path,
        *,
        environment: Mapping[str, str],
        identities: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        """`identities` gives a function (by logical id) the AWS_* variables of its role's
        keys while it loads: its clients, made at cold start, sign as that role."""
        self.deployment = deployment
        self._pool = ThreadPoolExecutor(MAX_CONCURRENCY, thread_name_prefix="lambda")
        self._apply_environment(environment)
        self.functions: dict[str, Hosted] = {}
        for logical_id, function in deployment.functions.items():
            name = _function_name(template, logical_id, deployment)
            arn = deployment.context.function_arn(name)
            with _signing_as((identities or {}).get(logical_id, {})):
                handler = _import_handler(function, template_dir)
            self.functions[logical_id] = Hosted(function, name, arn, handler)
        self._by_arn = {hosted.arn: hosted for hosted in self.functions.values()}

    def invoke(self, target: str, event: Any) -> Future[Any]:
        """Run the function (logical id or ARN) with `event`, asynchronously."""
        hosted = self.functions.get(target) or self._by_arn.get(target)
        if hosted is None:
            raise FunctionError(f"no function {target!r} in the template")
        return self._pool.submit(self._run, hosted, event)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        # Give the process its environment back (tests start several stacks in one).
        for name, value in self._saved_environment.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    def _run(self, hosted: Hosted, event: Any) -> Any:
        context = LambdaContext(
            function_name=hosted.name,
            invoked_function_arn=hosted.arn,
            memory_limit_in_mb=256,
            aws_request_id=str(uuid.uuid4()),
            deadline=time.monotonic() + hosted.function.timeout,
        )
        try:
            return hosted.handler(event, context)
        except Exception:
            # As Lambda does: the error and the event go to the log; the caller goes on.
            log.exception("function %s failed on event %r", hosted.name, event)
            raise

    def _apply_environment(self, overrides: Mapping[str, str]) -> None:
        # One process hosts every function, so their environments must agree.
        merged: dict[str, str] = {}
        for function in self.deployment.functions.values():
            for name, value in function.environment.items():
                if name in merged and merged[name] != value and name not in overrides:
                    raise FunctionError(
                        f"functions disagree on {name} ({merged[name]!r} vs {value!r});"
                        " the local host runs them in one process"
                    )
                merged[name] = value
        applied = {**merged, **overrides}
        self._saved_environment = {name: os.environ.get(name) for name in applied}
        os.environ.update(applied)


def _function_name(template: Mapping[str, Any], logical_id: str, deployment: Deployment) -> str:
    properties = template["Resources"][logical_id].get("Properties") or {}
    if "FunctionName" not in properties:
        return logical_id
    path = f"Resources.{logical_id}.Properties.FunctionName"
    return str(resolve(properties["FunctionName"], deployment.context, path))


@contextlib.contextmanager
def _signing_as(variables: Mapping[str, str]) -> Iterator[None]:
    """boto3's default session made anew under `variables` (a role's keys), and made anew
    again afterwards: on AWS each function has a process and credentials of its own; here
    they share one process, and the default session keeps the first credentials it finds."""
    import boto3  # noqa: PLC0415  (only the functions need it)

    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    boto3.setup_default_session()
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        boto3.setup_default_session()


def _import_handler(function: Function, template_dir: Path) -> Callable[[Any, Any], Any]:
    source = function.code_dir(template_dir) / f"{function.handler_module.replace('.', '/')}.py"
    module_name = f"swan_lambda_{function.logical_id}"
    spec = importlib.util.spec_from_file_location(module_name, source)
    if spec is None or spec.loader is None:
        raise FunctionError(f"cannot load {source} for {function.logical_id}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    handler = getattr(module, function.handler_name, None)
    if not callable(handler):
        raise FunctionError(f"{source} has no function {function.handler_name}")
    return handler  # type: ignore[no-any-return]
