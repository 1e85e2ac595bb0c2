"""`swan up`: run the whole local system until Ctrl-C."""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import sys
import time
import uuid
from typing import TYPE_CHECKING, TextIO

from swan.commands import Command
from swan.core.countdown import RULE_SETS, Countdown, Rules, clock_text, phase_at, remaining
from swan.settings import Settings

if TYPE_CHECKING:
    import argparse
    from pathlib import Path

    from swan.adapters.follower import Observed
    from swan.local.stack import Endpoints, LocalStack

DESCRIPTION = """\
Start The Swan on this machine, with no AWS account: the Mosquitto broker, the stand-in
for AWS IoT Core (device shadows over MQTT and the iot-data HTTP API, topic rules running
the same Lambda handlers as on AWS, the expiry scheduler), and keep it running until Ctrl-C.

The first run creates the state directory (databases, logs) and, in the certificate
folder (certs/, --certs-dir), a certificate authority and the broker's certificate. The
countdown is shown here; press Enter to push the button from this console.

Its children (the broker, the shadow service, a build of the web page) stop with it however
it ends: Ctrl-C, SIGTERM, a closed terminal, its output's reader gone (`swan up | head`), or
SIGKILL (on Linux each child gets SIGTERM when it dies).
"""

CONSOLE_THING = "console"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--period",
        type=float,
        metavar="SECONDS",
        help="countdown length (default: $SWAN_PERIOD_SECONDS or 6480, i.e. 108 minutes)",
    )
    parser.add_argument(
        "--rules",
        choices=RULE_SETS,
        help="'anytime' (push whenever) or 'swan' (only in the last 4 minutes, with the code)",
    )
    parser.add_argument(
        "--no-web",
        action="store_true",
        help="do not serve the web page (it is built first when webapp/ changed)",
    )
    parser.add_argument(
        "--with-pi",
        action="store_true",
        help="also run a virtual Raspberry Pi (swan pi, the terminal matrix) above the status",
    )
    parser.add_argument(
        "--exit-after",
        type=float,
        metavar="SECONDS",
        help="stop by itself after this long (for demos and smoke tests)",
    )


def run(args: argparse.Namespace) -> int:
    from swan.local.collector import serving  # noqa: PLC0415
    from swan.local.runtime import StackInfo, ensure_not_running  # noqa: PLC0415
    from swan.local.stack import LocalPorts, LocalStack  # noqa: PLC0415
    from swan.local.webapp import SITE_CONFIG, PageBuild  # noqa: PLC0415

    settings = Settings.from_env()
    state_dir = args.state_dir or settings.state_dir
    rules = settings.rules
    if args.period is not None or args.rules is not None:
        period = args.period or rules.period_seconds
        scaled = Rules.for_period(period, args.rules or rules.rule_set)
        rules = Rules(
            period_seconds=scaled.period_seconds,
            alarm_seconds=scaled.alarm_seconds,
            rule_set=scaled.rule_set,
            min_push_interval=rules.min_push_interval,
            shadow_writes_per_second=rules.shadow_writes_per_second,
        )
    ensure_not_running(state_dir)
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGHUP, _interrupt)  # its terminal closed
    out = Output(sys.stdout)
    out.write(f"Starting The Swan in {state_dir} ...\n")

    def say(line: str) -> None:
        out.write(line + "\n")

    stack = LocalStack(
        state_dir,
        rules,
        certs_dir=args.certs_dir or settings.certs_dir,
        ports=LocalPorts.from_env(os.environ),
        web=not args.no_web,
        cognito_credentials_seconds=settings.cognito_credentials_seconds,
        page_build=PageBuild(state_dir / "webapp", say=say),
    )
    with stack, serving():  # the gateway's thousands of connections: swan.local.collector
        endpoints = stack.endpoints()
        info = StackInfo(
            pid=os.getpid(),
            device_host="localhost",
            device_port=stack.running.identity.port,
            iot_data_url=endpoints.iot_data,
            scheduler_url=endpoints.scheduler,
            ca_file=str(endpoints.ca_file),
            certs_dir=str(stack.certs.directory),
            iot_url=endpoints.iot,
            cognito_url=endpoints.cognito or "",
            identity_pool_id=endpoints.identity_pool_id or "",
            mqtt_wss_url=endpoints.mqtt_wss or "",
            mqtt_ws_url=endpoints.mqtt_ws or "",
        )
        info.write(state_dir)
        profile = _write_profile(stack, endpoints)
        # For `reflex run` on the page (webapp/README.md): the local deployment's config.
        (state_dir / SITE_CONFIG).write_text(json.dumps(stack.page_config(), indent=2) + "\n")
        lost = None
        try:
            stack.heal()
            out.write(_banner(endpoints, rules, profile))
            with _virtual_pi(stack) if args.with_pi else contextlib.nullcontext():
                lost = _console(stack, out, sys.stdin, args.exit_after)
        except KeyboardInterrupt:
            pass  # Ctrl-C (or SIGTERM) is how a user stops it: a clean stop, exit code 0
        finally:
            StackInfo.clear(state_dir)
            out.write("\nstopping ...\n")
    out.write("stopped\n")
    if out.closed:
        _tell("swan up: its output was closed (the reader of the pipe left): stopped")
    if _reader_left(sys.stderr):  # `2>&1 | tee`: a log line while stopping is still pending
        _discard(sys.stderr)
    if lost is not None:
        _tell(f"swan up: {lost}: stopped everything")
        return 1
    return 0


class Output:
    """`swan up`'s stdout, until its reader leaves (`swan up | head -1`; `tee` killed, or
    Ctrl-C'd with it): then the stack stops cleanly and nothing more is written. Python
    ignores SIGPIPE, so a write raises BrokenPipeError; a log-like output writes once a
    phase, so the console also asks the pipe (`gone`) without writing."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.closed = False

    def write(self, text: str) -> None:
        if self.closed:
            return
        try:
            self.stream.write(text)
            self.stream.flush()
        except BrokenPipeError:
            self._close()

    def isatty(self) -> bool:
        return self.stream.isatty()

    def gone(self) -> bool:
        """Whether the reader left (now or before)."""
        if not self.closed and _reader_left(self.stream):
            self._close()
        return self.closed

    def _close(self) -> None:
        self.closed = True
        _discard(self.stream)


def _reader_left(stream: TextIO) -> bool:
    """A pipe whose reader closed polls as POLLERR (Linux pipe_poll), a hung-up terminal or
    socket as POLLHUP; a file, a live pipe or terminal as neither."""
    try:
        poller = select.poll()
        poller.register(stream.fileno(), 0)  # errors and hang-ups are always reported
        events = poller.poll(0)
    except (OSError, ValueError):  # not a file (io.UnsupportedOperation), or closed
        return False
    return any(mask & (select.POLLERR | select.POLLHUP) for _fd, mask in events)


def _discard(stream: TextIO) -> None:
    """From now on `stream` writes to /dev/null: what is still buffered, and Python's last
    flush at exit, go nowhere rather than fail again (a failed flush at exit prints
    "Exception ignored ... BrokenPipeError" and makes the exit code 120)."""
    with contextlib.suppress(OSError, ValueError):
        nowhere = os.open(os.devnull, os.O_WRONLY)
        os.dup2(nowhere, stream.fileno())
        os.close(nowhere)


def _tell(line: str) -> None:
    """A line on stderr, if anyone still reads it."""
    try:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        _discard(sys.stderr)


def _write_profile(stack: LocalStack, endpoints: Endpoints) -> tuple[Path, Path]:
    """The `swan-local` profile for the AWS CLI and boto3: the administrator's keys and the
    local endpoints, in two files of the state directory (never ~/.aws)."""
    from swan.local.credentials import write_profile  # noqa: PLC0415
    from swan.local.stack import StackNotRunningError  # noqa: PLC0415

    if stack.credentials is None:  # issued when the stack starts
        raise StackNotRunningError
    return write_profile(
        stack.state_dir,
        stack.credentials,
        {
            "iot": endpoints.iot,
            "iot_data_plane": endpoints.iot_data,
            "scheduler": endpoints.scheduler,
            "cognito_identity": endpoints.cognito or "",
        },
    )


def _virtual_pi(stack: LocalStack) -> contextlib.AbstractContextManager[object]:
    from swan.local.virtual_pi import virtual_pi  # noqa: PLC0415

    return virtual_pi(stack)


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def _banner(endpoints: Endpoints, rules: Rules, profile: tuple[Path, Path]) -> str:
    lines = ["", "The Swan is up (local mode: no AWS account needed)."]
    if endpoints.web:
        lines.append(f"  web page                       {endpoints.web} (static; no server)")
    lines += [
        f"  devices, MQTT over mutual TLS  {endpoints.device_mqtt}",
        f"  CA certificate                 {endpoints.ca_file}",
        f"  iot-data API (boto3)           {endpoints.iot_data}",
        f"  iot control plane (boto3)      {endpoints.iot}",
        f"  scheduler API                  {endpoints.scheduler}",
        f"  Cognito Identity (browsers)    {endpoints.cognito}",
        f"    identity pool                {endpoints.identity_pool_id}",
        f"  browsers, MQTT over WebSocket  {endpoints.mqtt_wss} (SigV4; TLS)",
        f"                                 {endpoints.mqtt_ws} (SigV4; plain)",
        "  AWS CLI and boto3              profile swan-local (requests are signed, SigV4):",
        f"    export AWS_CONFIG_FILE={profile[0]} AWS_SHARED_CREDENTIALS_FILE={profile[1]}",
        (
            f"  countdown                      {rules.period_seconds:g} s,"
            f" rules '{rules.rule_set}', alarm in the last {rules.alarm_seconds:g} s"
        ),
        "Try, in another terminal:  swan press   (an AWS IoT Button click)",
        "                           swan status",
        "Press Enter here to push from this console"
        + (" (type the code first)" if rules.rule_set == "swan" else "")
        + "; Ctrl-C stops everything.",
        "",
        "",
    ]
    return "\n".join(lines)


def _console(stack: LocalStack, out: Output, keys: TextIO, exit_after: float | None) -> str | None:
    """Push on Enter and show the countdown until the time is up, the reader leaves or a
    child process of the stack ends by itself: then which one and how (else None)."""
    from swan.adapters.follower import ButtonFollower  # noqa: PLC0415
    from swan.adapters.mqtt import connect  # noqa: PLC0415

    transport = connect(
        stack.service_endpoint(f"console-{uuid.uuid4().hex[:8]}"),
        on_resumed=lambda: follower.refresh(),  # noqa: PLW0108 (follower comes next)
    )
    follower = ButtonFollower(transport, lambda _observed: None)
    replies: list[bytes] = []
    transport.subscribe(f"swan/push/{CONSOLE_THING}/rejected", lambda m: replies.append(m.payload))
    try:
        follower.start()
        follower.loaded.wait(5)
        started = time.monotonic()
        tty = out.isatty()
        shown: tuple[object, ...] = ()
        while not out.gone() and (exit_after is None or time.monotonic() - started < exit_after):
            lost = stack.lost_child()
            if lost is not None:
                out.write(f"\n  {lost}: stopping everything\n")
                return lost
            line = _read_line(keys, timeout=0.25)
            if line is not None:
                request = {"clientToken": uuid.uuid4().hex, "source": "cli"}
                if line:
                    request["code"] = line
                transport.publish(f"swan/push/{CONSOLE_THING}", json.dumps(request).encode())
            while replies:
                rejected = json.loads(replies.pop(0))
                out.write(f"\n  refused: {rejected.get('message')}\n")
            now = time.time()
            latest = follower.latest
            status = _status(latest, now)
            if tty:
                out.write("\r" + status + " " * 8)
            else:  # a log: one line per change, not one per second
                state = (latest.version if latest else None, _phase(latest, now))
                if state != shown:
                    out.write(status + "\n")
                shown = state
    finally:
        follower.stop()
        transport.close()
    return None


def _phase(observed: Observed | None, now: float) -> str | None:
    if observed is None or observed.countdown is None:
        return None
    return phase_at(observed.countdown, now)  # the countdown's own alarm, as every client


def _status(observed: Observed | None, now: float) -> str:
    countdown: Countdown | None = observed.countdown if observed else None
    if countdown is None:
        return "  waiting for the first push"
    phase = phase_at(countdown, now)
    clock = "SYSTEM FAILURE" if phase == "failed" else clock_text(remaining(countdown, now))
    last = countdown.last_push
    who = f"last push by {last.by} ({last.source})" if last else ""
    return f"  {clock}  {phase:<8}  pushes {countdown.pushes}  failures {countdown.failures}  {who}"


def _read_line(keys: TextIO, timeout: float) -> str | None:
    try:
        ready, _, _ = select.select([keys], [], [], timeout)
    except (ValueError, OSError):  # no selectable stdin (closed or not a file)
        time.sleep(timeout)
        return None
    if not ready:
        return None
    line = keys.readline()
    if not line:  # end of input: keep running, stop listening
        time.sleep(timeout)
        return None
    return line.strip()


COMMAND = Command(
    name="up",
    help="run the whole local system: broker, IoT Core stand-in, handlers",
    description=DESCRIPTION,
    add_arguments=add_arguments,
    run=run,
)
