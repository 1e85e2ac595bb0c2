"""The page's logic runs in the browser (webapp/components/swan_view.js): its tests are
JavaScript, run here with Node's own test runner (`node --test`); and the page's Python
side starts from the board the link starts from."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from swan.core.backoff import RECONNECT
from swan.core.countdown import alarm_window
from webapp.page_state import INITIAL

HERE = Path(__file__).parent
VIEW = HERE.parents[2] / "webapp" / "components" / "swan_view.js"
NODE = shutil.which("node")

needs_node = pytest.mark.skipif(NODE is None, reason="node not installed (scripts/setup needs it)")


def node(*arguments: str) -> subprocess.CompletedProcess[str]:
    assert NODE is not None
    return subprocess.run(
        [NODE, *arguments], capture_output=True, text=True, timeout=60, check=False, cwd=HERE
    )


@needs_node
def test_the_page_logic_passes_its_javascript_tests():
    ran = node("--test", str(HERE / "swan_view.test.mjs"))
    assert ran.returncode == 0, ran.stdout[-4000:] + ran.stderr[-2000:]
    assert "# fail 0" in ran.stdout
    assert "# pass 0" not in ran.stdout


@needs_node
def test_the_python_side_names_every_field_of_the_board():
    script = (
        f"import({json.dumps(VIEW.as_uri())})"
        ".then((view) => console.log(JSON.stringify(view.emptyBoard())))"
    )
    ran = node("--input-type=module", "-e", script)
    assert ran.returncode == 0, ran.stderr
    board = json.loads(ran.stdout)
    assert set(board) <= set(INITIAL)
    assert {name: INITIAL[name] for name in board} == board


# Around every edge of the rule: tiny periods, a quarter of 960 s is exactly 4 minutes,
# the Swan's 108 minutes, and periods that do not divide evenly.
PERIODS = [0.4, 1, 4, 7, 8, 30, 60, 61.3, 600, 959, 960, 961, 6480, 86_400, 1e9]


@needs_node
def test_the_page_and_the_core_have_the_same_alarm_window():
    script = (
        f"import({json.dumps(VIEW.as_uri())})"
        f".then((view) => console.log(JSON.stringify({json.dumps(PERIODS)}.map(view.alarmFor))))"
    )
    ran = node("--input-type=module", "-e", script)
    assert ran.returncode == 0, ran.stderr
    page = json.loads(ran.stdout)
    assert page == [alarm_window(period) for period in PERIODS]
    assert len(set(page)) > 5  # the table reaches both sides of the rule


@needs_node
def test_the_page_reconnects_by_every_clients_policy():
    cases = [(attempt, draw) for attempt in range(20) for draw in (0.0, 0.1, 0.37, 0.5, 0.99)]
    script = (
        f"import({json.dumps(VIEW.as_uri())}).then((view) => console.log(JSON.stringify("
        f"{json.dumps(cases)}.map(([attempt, draw]) => view.backoffMs(attempt, draw)))))"
    )
    ran = node("--input-type=module", "-e", script)
    assert ran.returncode == 0, ran.stderr
    page_ms = json.loads(ran.stdout)
    core_ms = [RECONNECT.delay(attempt, draw) * 1000 for attempt, draw in cases]
    assert all(abs(page - core) <= 0.5 for page, core in zip(page_ms, core_ms, strict=True))
