"""The state directory is private whatever the umask: the directory 0700, its databases
(with SQLite's -wal and -shm files), logs, broker config and password files 0600."""

from __future__ import annotations

import os
import stat
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest

from swan.adapters.clock import SystemClock
from swan.adapters.history import SqliteHistory
from swan.adapters.private_files import open_private, private_database, private_directory
from swan.local.child import ChildProcess
from swan.local.mosquitto import write_config
from swan.local.registry import Registry
from swan.local.runtime import StackInfo
from swan.local.scheduler import LocalScheduler
from swan.local.shadow_store import SqliteShadowStore
from swan.local.stack import broker_plan, ensure_writable, local_deployment

UMASKS = [0o022, 0o002, 0o000]


def mode(path):
    return stat.S_IMODE(path.stat().st_mode)


@contextmanager
def umask(value):
    previous = os.umask(value)
    try:
        yield
    finally:
        os.umask(previous)


def assert_private_tree(directory):
    """Everything under `directory`: directories 0700, files 0600."""
    found = 0
    for path in [directory, *directory.rglob("*")]:
        if path.is_symlink() or path.is_socket():
            continue
        expected = 0o700 if path.is_dir() else 0o600
        assert (path.relative_to(directory), oct(mode(path))) == (
            path.relative_to(directory),
            oct(expected),
        )
        found += 1
    return found


@pytest.mark.parametrize("mask", UMASKS)
def test_the_state_directory_is_made_0700(tmp_path, mask):
    state = tmp_path / "state"
    with umask(mask):
        ensure_writable(state)
    assert mode(state) == 0o700


def test_a_state_directory_left_wide_open_is_narrowed(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    state.chmod(0o777)
    ensure_writable(state)
    assert mode(state) == 0o700


@pytest.mark.parametrize("mask", UMASKS)
def test_every_database_and_its_wal_and_shm_files_are_0600(tmp_path, mask):
    state = tmp_path / "state"
    clock = SystemClock()
    with umask(mask), Registry(state / "registry.db", clock) as registry:
        registry.registration_code()
        with SqliteShadowStore(state / "shadows" / "shadows.db"):
            history = SqliteHistory(state / "history.db")
            scheduler = LocalScheduler(state / "scheduler.db", clock, lambda *_: None)
            wal_files = sorted(path.name for path in state.rglob("*-wal"))
            assert_private_tree(state)
            scheduler.stop()
            history.close()
    assert {"registry.db-wal", "history.db-wal", "scheduler.db-wal"} <= set(wal_files)


def test_a_database_left_readable_by_others_is_narrowed_with_its_side_files(tmp_path):
    database = tmp_path / "registry.db"
    for path in (database, tmp_path / "registry.db-wal", tmp_path / "registry.db-shm"):
        path.write_bytes(b"")
        path.chmod(0o644)
    tmp_path.chmod(0o755)
    private_database(database)
    assert assert_private_tree(tmp_path) == 4


@pytest.mark.parametrize("mask", UMASKS)
def test_the_broker_config_and_password_files_are_0600(tmp_path, mask):
    plan = broker_plan(tmp_path, local_deployment()[1])
    (tmp_path / "registry.db").touch()  # a state directory, from an earlier run
    plan.directory.mkdir()
    (plan.directory / "passwd-internal").write_text("old\n")
    (plan.directory / "passwd-internal").chmod(0o644)
    with umask(mask):
        write_config(plan)
    assert assert_private_tree(plan.directory) >= 6


@pytest.mark.parametrize("mask", UMASKS)
def test_a_child_log_and_the_stack_info_are_0600(tmp_path, mask):
    logs = tmp_path / "logs"
    with umask(mask):
        child = ChildProcess("echo", [sys.executable, "-c", "print('ready')"], logs / "echo.log")
        child.start(lambda c: "ready" in c.output(), 10)
        child.stop()
        StackInfo(1, "127.0.0.1", 1, "http://x", "http://y", "ca.pem").write(logs)
    assert assert_private_tree(logs) == 3


def test_a_private_file_opened_again_is_narrowed(tmp_path):
    path = tmp_path / "old.log"
    path.write_text("x")
    path.chmod(0o666)
    os.close(open_private(path, os.O_WRONLY | os.O_APPEND))
    assert mode(path) == 0o600


def test_a_directory_of_another_user_is_not_touched():
    # / belongs to root: private_directory creates nothing there and changes no mode.
    if os.geteuid() == 0:
        pytest.skip("this user owns /")
    before = mode(Path("/"))
    private_directory(Path("/"))
    assert mode(Path("/")) == before


def test_an_existing_directory_holding_other_things_is_left_as_it_is(tmp_path, caplog):
    # `--state-dir ~` or `--state-dir /srv`: the user's own directory is not ours to narrow.
    home = tmp_path / "home"
    home.mkdir()
    (home / "notes.txt").write_text("mine")
    home.chmod(0o755)
    ensure_writable(home)
    assert mode(home) == 0o755
    assert "not ours to narrow" in caplog.text


def test_a_shared_sticky_directory_is_never_narrowed(tmp_path):
    shared = tmp_path / "tmp"
    shared.mkdir()
    shared.chmod(0o1777)
    private_directory(shared)
    assert stat.S_IMODE(shared.stat().st_mode) == 0o1777


def test_an_existing_state_directory_is_narrowed_by_what_it_holds(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    (state / "stack.json").write_text("{}")
    state.chmod(0o755)
    private_directory(state)
    assert mode(state) == 0o700
