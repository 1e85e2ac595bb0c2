"""A virtual Pi beside the local stack (`swan up --with-pi`): `swan pi` with the terminal
matrix, in a child process of its own, drawing in the same terminal.

It is a device like any other: its own certificate, MQTT 5 through the device gateway,
its own thing (`pi-virtual`, provisioned so it need not wait for just-in-time
registration). It does not read the keyboard (`swan up`'s console does: Enter pushes from
there); its messages go to `<state>/logs/pi-virtual.log`, so they do not break its drawing.
Each redraw leaves the cursor on the line below the matrix, where `swan up` keeps its
status line. When `swan up`'s output is not a terminal (a log file, a pipe) there is nothing
to draw on: the matrix is not drawn, and the Pi runs all the same.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from typing import TYPE_CHECKING, Any, Final

from swan.local.child import spawn

if TYPE_CHECKING:
    from collections.abc import Iterator

    from swan.local.stack import LocalStack

THING: Final = "pi-virtual"
STOP_TIMEOUT: Final = 10.0


@contextlib.contextmanager
def virtual_pi(stack: LocalStack, thing: str = THING) -> Iterator[subprocess.Popen[Any]]:
    """Run a virtual Pi while the block runs; it is asked to stop (SIGTERM) at the end."""
    endpoint = stack.device_endpoint(thing)
    log_file = stack.state_dir / "logs" / f"{thing}.log"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable, "-m", "swan", "--state-dir", str(stack.state_dir),
        "pi", "--thing", thing, "--matrix", "terminal", "--no-keys",
        "--port", str(endpoint.port),
        "--ca", str(endpoint.ca_file),
        "--cert", str(endpoint.cert_file),
        "--key", str(endpoint.key_file),
    ]  # fmt: skip
    with log_file.open("ab") as log:
        drawing = None if sys.stdout.isatty() else subprocess.DEVNULL
        # Tethered, in a session of its own: it dies with `swan up` (swan.local.child).
        child = spawn(command, stdin=subprocess.DEVNULL, stdout=drawing, stderr=log)
    try:
        yield child
    finally:
        _stop(child)


def _stop(child: subprocess.Popen[Any]) -> None:
    if child.poll() is None:
        child.terminate()  # it clears its LEDs and says goodbye
    try:
        child.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait(STOP_TIMEOUT)
