"""`swan up` as a user runs it: a real process, keys on stdin."""

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration


def test_enter_pushes_the_button(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "swan", "up", "--period", "30", "--exit-after", "1.5"],
        input="\n",
        capture_output=True,
        text=True,
        timeout=30,
        cwd=tmp_path,
        env={**os.environ, "SWAN_STATE_DIR": ".state"},
        check=True,
    )
    assert "pushes 1" in result.stdout
    assert "00:30" in result.stdout or "00:29" in result.stdout
    assert (tmp_path / ".state").is_dir()


def test_the_swan_rules_refuse_a_push_without_the_code(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "swan", "up", "--rules", "swan", "--exit-after", "1"],
        input="\n",
        capture_output=True,
        text=True,
        timeout=30,
        cwd=tmp_path,
        check=True,
    )
    assert "refused: the code is 4 8 15 16 23 42, then Execute" in result.stdout
