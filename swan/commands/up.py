"""`swan up`: run the local system.

For now the local system is the countdown itself, in this terminal: the broker, the IoT
Core stand-in and the web app join it as they land (see README.md, "Where this is going").
"""

from __future__ import annotations

import select
import sys
import time
from typing import TYPE_CHECKING, TextIO

from swan.commands import Command
from swan.core.countdown import (
    RULE_SETS,
    Countdown,
    Pressed,
    Push,
    Rules,
    expire,
    phase_at,
    press,
    remaining,
)
from swan.settings import Settings

if TYPE_CHECKING:
    import argparse
    from pathlib import Path

DESCRIPTION = """\
Start The Swan on this machine and keep it running until Ctrl-C.

Today this runs the shared countdown in this terminal: press Enter to push the button.
Next to arrive: the Mosquitto broker, the stand-in for AWS IoT Core (device shadows, topic
rules, the device gateway) and the web app, all started by this same command.
"""


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
        "--exit-after",
        type=float,
        metavar="SECONDS",
        help="stop by itself after this long (for demos and smoke tests)",
    )


def run(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    state_dir: Path = args.state_dir or settings.state_dir
    rules = settings.rules
    if args.period is not None or args.rules is not None:
        rules = Rules.for_period(args.period or rules.period_seconds, args.rules or rules.rule_set)
    state_dir.mkdir(parents=True, exist_ok=True)
    out = sys.stdout
    out.write(
        f"The Swan, local mode\n"
        f"  state directory: {state_dir}\n"
        f"  countdown: {rules.period_seconds:g} s, alarm in the last {rules.alarm_seconds:g} s,"
        f" rules '{rules.rule_set}'\n"
        f"  coming next: Mosquitto, the IoT Core stand-in and the web app\n"
        f"Press Enter to push the button (type the code first under the swan rules);"
        f" Ctrl-C stops.\n"
    )
    _run_console(rules, out, sys.stdin, args.exit_after)
    out.write("\nstopped\n")
    return 0


def _run_console(rules: Rules, out: TextIO, keys: TextIO, exit_after: float | None) -> None:
    started = time.time()
    countdown: Countdown | None = None
    while exit_after is None or time.time() - started < exit_after:
        now = time.time()
        line = _read_line(keys, timeout=0.2)
        if line is not None:
            outcome = press(countdown, Push(now, "console", "cli", code=line or None), rules)
            if isinstance(outcome, Pressed):
                countdown = outcome.countdown
            else:
                out.write(f"\n  refused: {outcome.message}\n")
        if countdown is not None:
            countdown = expire(countdown, now) or countdown
        out.write("\r" + _status(countdown, rules, now) + " " * 8)
        out.flush()


def _status(countdown: Countdown | None, rules: Rules, now: float) -> str:
    if countdown is None:
        return "  waiting for the first push"
    phase = phase_at(countdown, now, rules.alarm_seconds)
    minutes, seconds = divmod(int(remaining(countdown, now) + 0.999), 60)
    clock = "SYSTEM FAILURE" if phase == "failed" else f"{minutes:02d}:{seconds:02d}"
    return f"  {clock}  {phase:<8}  pushes {countdown.pushes}  failures {countdown.failures}"


def _read_line(keys: TextIO, timeout: float) -> str | None:
    try:
        ready, _, _ = select.select([keys], [], [], timeout)
    except (ValueError, OSError):  # no selectable stdin (closed or not a file)
        time.sleep(timeout)
        return None
    if not ready:
        return None
    line = keys.readline()
    if not line:  # end of input: keep counting, stop listening
        time.sleep(timeout)
        return None
    return line.strip()


COMMAND = Command(
    name="up",
    help="run the local system (countdown, and soon broker, IoT Core stand-in, web app)",
    description=DESCRIPTION,
    add_arguments=add_arguments,
    run=run,
)
