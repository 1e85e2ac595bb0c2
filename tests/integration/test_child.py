"""`ChildProcess`, the one way the local stack runs a child: a working directory, and a
process group stopped as one (SIGTERM, then SIGKILL for members that ignore it)."""

import os
import sys
from pathlib import Path

import pytest

from swan.local.child import ChildFailedError, ChildProcess

# Prints where it runs, starts a member (that ignores SIGTERM), says it is ready, waits.
GROUP = """
import os, subprocess, sys, time
print(os.getcwd(), flush=True)
member = subprocess.Popen([sys.executable, "-c", sys.argv[1]])
print("ready", member.pid, flush=True)
time.sleep(60)
"""
MEMBER = "import time; print('member up', flush=True); time.sleep(60)"
STUBBORN_MEMBER = "import signal; signal.signal(signal.SIGTERM, signal.SIG_IGN); " + MEMBER


def running_members(group):
    """The group's members that still run (a zombie waiting for init to reap it does not)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, _ppid, pgrp = stat.read_text().rpartition(")")[2].split()[:3]
        except OSError:
            continue
        if int(pgrp) == group and state != "Z":
            members.append(int(stat.parent.name))
    return members


def test_a_process_group_runs_in_its_directory_and_is_stopped_as_one(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    child = ChildProcess(
        "a stubborn group",
        [sys.executable, "-c", GROUP, STUBBORN_MEMBER],
        tmp_path / "logs" / "group.log",
        cwd=work,
        process_group=True,
    )
    child.start(lambda c: "ready" in c.output() and "member up" in c.output(), 10)
    group = child.pid
    assert os.getpgid(group) == group  # the leader leads a group of its own
    assert child.output().splitlines()[0] == str(work)
    member = int(child.output().split("ready ")[1].split()[0])
    assert os.getpgid(member) == group
    assert sorted(running_members(group)) == sorted([group, member])

    child.stop(timeout=5, grace=0.3)

    assert running_members(group) == []  # the member that ignored SIGTERM got SIGKILL
    assert not child.running


def test_a_group_that_fails_its_readiness_check_is_not_left_behind(tmp_path):
    child = ChildProcess(
        "a group never ready",
        [sys.executable, "-c", GROUP, MEMBER],
        tmp_path / "group.log",
        process_group=True,
    )
    started = []
    with pytest.raises(ChildFailedError, match="a group never ready was not ready in 1 s"):
        child.start(lambda c: bool(started.append(c.pid)) or False, 1)
    assert started
    assert running_members(started[0]) == []


def test_a_plain_child_keeps_the_callers_group(tmp_path):
    child = ChildProcess(
        "a plain child",
        [sys.executable, "-c", "print('ready', flush=True); import time; time.sleep(60)"],
        tmp_path / "plain.log",
    )
    child.start(lambda c: "ready" in c.output(), 10)
    try:
        assert os.getpgid(child.pid) == os.getpgid(0)
    finally:
        child.stop()
    assert not child.running
