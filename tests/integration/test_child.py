"""`ChildProcess`, the one way the local stack runs a child: a working directory, and a
process group stopped as one (SIGTERM, then SIGKILL for members that ignore it); every
child in a session of its own, dying with its parent however the parent dies (Linux)."""

import os
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from swan.local.child import TETHER, ChildFailedError, ChildProcess

GONE = 5  # seconds for an orphan to get its death signal and end

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
    # The leader is the tether, which the command and its member follow.
    assert {group, member} < set(running_members(group))

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


SLEEPER = "print('ready', flush=True); import time; time.sleep(60)"


def test_a_plain_child_runs_in_a_session_of_its_own_as_itself(tmp_path):
    sleep = shutil.which("sleep")
    child = ChildProcess("a plain child", [sleep, "60"], tmp_path / "plain.log")
    # Ready once the tether has become the program (exec): nothing stays in between.
    child.start(
        lambda c: Path(f"/proc/{c.pid}/cmdline").read_bytes() == f"{sleep}\x0060\x00".encode(), 10
    )
    try:
        # A terminal's Ctrl-C reaches the stack only, which stops its children in order.
        assert os.getsid(child.pid) == child.pid
        assert os.getpgid(child.pid) != os.getpgid(0)
        # The program finds SIGPIPE as the system sets it, not ignored as Python leaves it.
        status = Path(f"/proc/{child.pid}/status").read_text()
        ignored = int(status.split("SigIgn:")[1].split()[0], 16)
        assert not ignored & (1 << (signal.SIGPIPE - 1))
    finally:
        child.stop()
    assert not child.running


# A parent that starts a group (which starts a member) and a plain child, says their pids,
# and waits to be killed.
PARENT = f"""
import sys, time
from pathlib import Path
from swan.local.child import ChildProcess
logs = Path(sys.argv[1])
group = ChildProcess("group", [sys.executable, "-c", {GROUP!r}, {MEMBER!r}], logs / "group.log",
                     process_group=True)
group.start(lambda c: "member up" in c.output(), 10)
plain = ChildProcess("plain", [sys.executable, "-c", {SLEEPER!r}], logs / "plain.log")
plain.start(lambda c: "ready" in c.output(), 10)
member = group.output().split("ready ")[1].split()[0]
print(group.pid, member, plain.pid, flush=True)
time.sleep(60)
"""


def ended_within(pids, timeout):
    """Whether every process of `pids` ends within `timeout` seconds (pidfds: an exit is
    an event to wait for, and a recycled pid cannot pass for it)."""
    waiting = {os.pidfd_open(pid) for pid in pids}
    deadline = time.monotonic() + timeout
    try:
        while waiting and (left := deadline - time.monotonic()) > 0:
            ended, _, _ = select.select(list(waiting), [], [], left)
            waiting -= set(ended)
        return not waiting
    finally:
        for pidfd in waiting:
            signal.pidfd_send_signal(pidfd, signal.SIGKILL)


def test_children_and_a_groups_members_die_when_their_parent_is_killed(tmp_path):
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        leader, member, plain = map(int, parent.stdout.readline().split())
        command = set(running_members(leader)) - {leader, member}
        assert len(command) == 1  # the group's command, between its tether and its member
    finally:
        parent.kill()  # no handler runs
        parent.wait()
    # The member ignores SIGTERM: the tether kills it after its grace (3 s).
    assert ended_within([leader, member, plain, *command], GONE)


def test_a_child_started_from_a_thread_that_ends_lives_on(tmp_path):
    """Linux sends the death signal when the *thread* that forked a child ends: children
    are forked from one thread that lives as long as the process."""
    child = ChildProcess("a plain child", [sys.executable, "-c", SLEEPER], tmp_path / "plain.log")
    starter = threading.Thread(target=child.start, args=(lambda c: "ready" in c.output(), 10))
    starter.start()
    starter.join()
    try:
        # Until the thread is gone from the system too (join returns a little before).
        deadline = time.monotonic() + GONE
        while Path(f"/proc/self/task/{starter.native_id}").exists():
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert not ended_within([child.pid], 1)
    finally:
        child.stop()


def test_the_tether_runs_nothing_when_its_parent_is_already_gone(tmp_path):
    marker = tmp_path / "ran"
    not_the_parent = os.getpid()  # the tether's parent is the shell below, not us
    tethered = subprocess.run(
        [shutil.which("sh"), "-c", '"$@"; exit $?', "sh", sys.executable, "-I", "-S", str(TETHER),
         str(not_the_parent), "--", "touch", str(marker)],
        check=False,
    )  # fmt: skip
    assert tethered.returncode == 125
    assert not marker.exists()


# Says "ready" once the file it is given exists.
GATED = """
import pathlib, sys, time
gate = pathlib.Path(sys.argv[1])
while not gate.exists():
    time.sleep(0.01)
print("ready", flush=True)
time.sleep(60)
"""


def test_children_launched_together_start_side_by_side_and_each_is_waited_for(tmp_path):
    # The stack launches its children (the shadow service, the WebSocket door) at once and
    # only then waits for each: both run before either is ready.
    gate = tmp_path / "gate"
    children = [
        ChildProcess(name, [sys.executable, "-c", GATED, str(gate)], tmp_path / f"{name}.log")
        for name in ("first", "second")
    ]
    try:
        for child in children:
            child.launch()
        assert all(child.running for child in children)
        assert not any("ready" in child.output() for child in children)
        gate.touch()
        for child in children:
            child.wait_ready(lambda c: "ready" in c.output(), 10)
        assert all("ready" in child.output() for child in children)
    finally:
        for child in children:
            child.stop()
    assert not any(child.running for child in children)


def test_a_launched_child_that_is_never_ready_is_stopped(tmp_path):
    child = ChildProcess(
        "a gated child", [sys.executable, "-c", GATED, str(tmp_path / "no")], tmp_path / "gated.log"
    )
    child.launch()
    pid = child.pid
    with pytest.raises(ChildFailedError, match=r"was not ready in 0\.3 s"):
        child.wait_ready(lambda c: "ready" in c.output(), 0.3)
    assert not child.running
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # gone, and reaped


def test_a_child_that_ends_by_itself_says_how_and_one_that_was_stopped_says_nothing(tmp_path):
    quits = ChildProcess(
        "a quitter",
        [sys.executable, "-c", "print('ready', flush=True); raise SystemExit(3)"],
        tmp_path / "quits.log",
    )
    quits.start(lambda c: "ready" in c.output(), 10)
    deadline = time.monotonic() + GONE
    while quits.ended() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert quits.ended() == "exited with status 3"

    killed = ChildProcess(
        "a victim", [sys.executable, "-c", GATED, str(tmp_path / "no")], tmp_path / "victim.log"
    )
    killed.launch()
    assert killed.ended() is None  # running
    os.kill(killed.pid, signal.SIGKILL)
    deadline = time.monotonic() + GONE
    while killed.ended() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert killed.ended() == "was killed by SIGKILL"
    killed.stop()
    assert killed.ended() is None  # stopped on purpose: nothing to report
