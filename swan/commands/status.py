"""`swan status`: the countdown as the local system has it now."""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

from swan.commands import Command
from swan.core.button_shadow import from_shadow_state
from swan.core.countdown import Countdown, clock_text, phase_at, remaining
from swan.settings import Settings

if TYPE_CHECKING:
    import argparse

    from swan.adapters.history import Entry

DESCRIPTION = """\
Show the shared countdown of the local system `swan up` runs: time left, phase, who pushed
last and from what, how long this run has kept the world going, failures, recent pushes.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.add_argument(
        "--history", type=int, default=5, metavar="N", help="recent pushes to show (default: 5)"
    )


def run(args: argparse.Namespace) -> int:
    from swan.adapters.history import SqliteHistory  # noqa: PLC0415
    from swan.local.client import LocalApiError, admin_signer, call, shadow_url  # noqa: PLC0415
    from swan.local.runtime import StackInfo  # noqa: PLC0415

    settings = Settings.from_env()
    state_dir = args.state_dir or settings.state_dir
    info = StackInfo.read(state_dir)
    try:
        document = call(
            "GET",
            shadow_url(info.iot_data_url, "button", None),
            signer=admin_signer(state_dir, "iot-data"),
        )
    except LocalApiError as error:
        if error.status != 404:  # noqa: PLR2004
            raise
        document = {"state": {}}
    countdown = from_shadow_state(document.get("state", {}))
    history = SqliteHistory(state_dir / "history.db")
    try:
        recent = history.recent(max(0, args.history))
        counters = history.counters()
    finally:
        history.close()
    now = time.time()
    if args.json:
        print(json.dumps(as_json(countdown, recent, counters, now), indent=2))
    else:
        print(as_text(countdown, recent, counters, now))
    return 0


def as_json(
    countdown: Countdown | None, recent: list[Entry], counters: dict[str, int], now: float
) -> dict[str, Any]:
    """What `swan status --json` prints: the phase as `phase_at` has it (the countdown's own
    alarm), like the text."""
    state: dict[str, Any] = {"phase": None, "remaining": None}
    if countdown is not None:
        state = {
            "phase": phase_at(countdown, now),
            "remaining": remaining(countdown, now),
            "deadline": countdown.deadline,
            "pushes": countdown.pushes,
            "failures": countdown.failures,
            "runStartedAt": countdown.run_started_at,
            "lastPush": None
            if countdown.last_push is None
            else {
                "at": countdown.last_push.at,
                "by": countdown.last_push.by,
                "source": countdown.last_push.source,
                "clickType": countdown.last_push.click_type,
            },
        }
    state["recent"] = [
        {"number": e.number, "at": e.push.at, "by": e.push.by, "source": e.push.source}
        for e in recent
    ]
    state["counters"] = counters
    return state


def as_text(
    countdown: Countdown | None, recent: list[Entry], counters: dict[str, int], now: float
) -> str:
    """What `swan status` prints."""
    if countdown is None:
        return "Nobody has pushed the button yet: `swan press` starts the world."
    phase = phase_at(countdown, now)
    left = clock_text(remaining(countdown, now))
    clock = "SYSTEM FAILURE" if phase == "failed" else f"{left} left"
    lines = [f"{clock}  ({phase}; deadline {_when(countdown.deadline)})"]
    if countdown.last_push is not None:
        last = countdown.last_push
        lines.append(
            f"last push    {_ago(now - last.at)} by {last.by} ({last.source}, {last.click_type})"
        )
    if phase != "failed":
        lines.append(f"this run     {_ago(now - countdown.run_started_at, suffix='')}")
    lines.append(f"pushes       {countdown.pushes}")
    lines.append(f"failures     {countdown.failures}")
    if recent:
        lines.append(
            "recent       "
            + "\n             ".join(
                f"#{e.number} {_when(e.push.at)} {e.push.by} ({e.push.source})" for e in recent
            )
        )
    if counters:
        lines.append("refused      " + ", ".join(f"{k} {v}" for k, v in sorted(counters.items())))
    return "\n".join(lines)


def _when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _ago(seconds: float, suffix: str = " ago") -> str:
    seconds = max(0, int(seconds))
    if seconds < 60:  # noqa: PLR2004
        return f"{seconds} s{suffix}"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:  # noqa: PLR2004
        return f"{minutes} min {seconds} s{suffix}"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min{suffix}"


COMMAND = Command(
    name="status",
    help="show the countdown: time left, phase, last push, failures",
    description=DESCRIPTION,
    add_arguments=add_arguments,
    run=run,
)
