"""Every long-lived process `swan up` runs collects garbage as a server of thousands of
connections should (`swan.local.collector.serving`): its own (the device gateway, the rules
engine), the shadow service's and the web door's. Each says so in its log."""

from __future__ import annotations

import os
import subprocess
import sys

from support import any_free_ports

SAID = "collector set for serving: "
WAIT = 60  # to start, run two seconds and stop


def test_swan_up_and_the_servers_it_starts_are_set_for_serving(tmp_path):
    state = tmp_path / "state"
    env = {**os.environ, **any_free_ports(), "SWAN_STATE_DIR": str(state)}
    up = subprocess.run(
        [sys.executable, "-m", "swan", "-v", "up", "--no-web", "--exit-after", "2"],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=True,
    )
    assert SAID in up.stderr
    for log in ("shadow-service.log", "web-door.log"):
        assert SAID in (state / "logs" / log).read_text(), log
