"""One way to open the state directory's databases: private, WAL, a busy timeout, an
integrity check, a schema version, and every sqlite3 error as the store's own, naming the file."""

from __future__ import annotations

import sqlite3
import stat
from contextlib import closing

import pytest
from support import in_another_process

from swan.adapters.history import HistoryUnavailableError, SqliteHistory
from swan.adapters.sqlite import Database, DatabaseError, Schema
from swan.core.errors import SwanError
from swan.local.cognito_store import CognitoDatabaseError, CognitoLimits, CognitoStore
from swan.local.registry import Registry
from swan.local.registry_errors import RegistryDatabaseError
from swan.local.scheduler import LocalScheduler, SchedulerDatabaseError
from swan.local.shadow_store import ShadowStoreError, SqliteShadowStore

NOTES = Schema(version=2, create=("CREATE TABLE IF NOT EXISTS notes (text TEXT)",))


class NotesError(DatabaseError):
    what = "notes database"


class FixedClock:
    def now(self):
        return 1_764_087_120.0


@pytest.fixture
def path(tmp_path):
    return tmp_path / "state" / "notes.db"


def user_version(path):
    with closing(sqlite3.connect(path)) as connection:
        return connection.execute("PRAGMA user_version").fetchone()[0]


def test_a_new_database_is_private_in_wal_mode_at_the_schema_version(path):
    database = Database(path, NOTES, error=NotesError)
    with database.transaction() as db:
        db.execute("INSERT INTO notes VALUES ('hello')")
    database.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert user_version(path) == 2
    with closing(sqlite3.connect(path)) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert connection.execute("SELECT text FROM notes").fetchall() == [("hello",)]


def test_an_older_schema_is_migrated_whole(path):
    path.parent.mkdir()
    with closing(sqlite3.connect(path)) as connection:
        connection.execute("CREATE TABLE notes (words TEXT)")
        connection.execute("INSERT INTO notes VALUES ('old')")
        connection.execute("PRAGMA user_version = 1")
        connection.commit()
    migrating = Schema(
        version=2, create=NOTES.create, migrations={1: ("ALTER TABLE notes RENAME words TO text",)}
    )
    Database(path, migrating, error=NotesError).close()
    assert user_version(path) == 2
    with closing(sqlite3.connect(path)) as connection:
        assert connection.execute("SELECT text FROM notes").fetchall() == [("old",)]


def test_a_failed_migration_leaves_the_file_as_it_was(path):
    path.parent.mkdir()
    with closing(sqlite3.connect(path)) as connection:
        connection.execute("PRAGMA user_version = 1")
    broken = Schema(version=2, create=NOTES.create, migrations={1: ("NOT SQL",)})
    with pytest.raises(NotesError, match="syntax error"):
        Database(path, broken, error=NotesError)
    assert user_version(path) == 1
    with closing(sqlite3.connect(path)) as connection:
        assert connection.execute("SELECT name FROM sqlite_master").fetchall() == []


def test_a_database_from_a_newer_program_is_refused_naming_the_file_and_both_versions(path):
    path.parent.mkdir()
    with closing(sqlite3.connect(path)) as connection:
        connection.execute("PRAGMA user_version = 7")
    with pytest.raises(NotesError) as caught:
        Database(path, NOTES, error=NotesError)
    assert str(caught.value) == f"notes database {path}: schema version 7; this program reads 2"
    assert caught.value.path == path
    assert user_version(path) == 7  # left as it was


def test_a_file_that_is_not_a_database_is_refused_by_name(path):
    path.parent.mkdir()
    path.write_bytes(b"no database here, only words " * 200)
    with pytest.raises(NotesError, match="not an SQLite database") as caught:
        Database(path, NOTES, error=NotesError)
    assert caught.value.path == path
    assert str(path) in str(caught.value)
    assert isinstance(caught.value, SwanError)
    assert isinstance(caught.value, RuntimeError)


def test_a_damaged_database_is_refused_by_name(path):
    database = Database(path, NOTES, error=NotesError)
    with database.transaction() as db:
        db.executemany("INSERT INTO notes VALUES (?)", [("x" * 500,) for _ in range(100)])
    database.close()
    with closing(sqlite3.connect(path)) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(path.read_bytes())
    data[4096 : 2 * 4096] = b"\xff" * 4096  # scribble over the second page: the table's root
    path.write_bytes(bytes(data))
    with pytest.raises(NotesError, match=str(path)):
        Database(path, NOTES, error=NotesError)


def test_a_file_another_process_is_writing_is_in_use_after_the_busy_timeout(path):
    Database(path, NOTES, error=NotesError).close()
    with closing(sqlite3.connect(path, isolation_level=None)) as other:
        other.execute("BEGIN EXCLUSIVE")
        with pytest.raises(NotesError, match="in use by another process") as caught:
            Database(path, NOTES, error=NotesError, busy_timeout_ms=50)
        other.execute("ROLLBACK")
    assert caught.value.path == path


def test_a_second_connection_in_one_process_loses_no_commit_to_other_processes(path):
    """Two stores on one file in one process (the push and expiry functions share the
    history) while other processes open and close it (`swan status`): every commit stays.
    Opening the file outside SQLite would drop this process's locks, and another process
    closing would then reset the write-ahead log under the first connection's commits."""
    first = Database(path, NOTES, error=NotesError)
    second = Database(path, NOTES, error=NotesError)
    for text in ("one", "two", "three"):
        with first.transaction() as db:
            db.execute("INSERT INTO notes VALUES (?)", (text,))
        in_another_process(OPEN_AND_CLOSE, path)
    seen = in_another_process(READ_NOTES, path)
    first.close()
    second.close()
    assert seen == "one two three"


OPEN_AND_CLOSE = """
import sys
from pathlib import Path
from swan.adapters.sqlite import Database, Schema
Database(Path(sys.argv[1]), Schema(version=2, create=())).close()
"""
READ_NOTES = """
import sqlite3, sys
print(*(text for (text,) in sqlite3.connect(sys.argv[1]).execute("SELECT text FROM notes")))
"""


def test_an_exclusive_database_refuses_a_second_owner(path):
    owner = Database(path, NOTES, error=NotesError, exclusive=True)
    with pytest.raises(NotesError, match="in use by another process"):
        Database(path, NOTES, error=NotesError, busy_timeout_ms=50)
    owner.close()


def test_a_write_the_file_refuses_is_the_stores_error_and_undoes_the_transaction(path):
    database = Database(path, NOTES, error=NotesError)
    with database.transaction() as db:
        db.execute("INSERT INTO notes VALUES ('kept')")
    database.connection.execute("PRAGMA query_only = ON")  # as a read-only file would
    with pytest.raises(NotesError, match="readonly") as caught, database.transaction() as db:
        db.execute("INSERT INTO notes VALUES ('lost')")
    assert caught.value.path == path
    assert not database.connection.in_transaction
    with database.errors() as db:
        assert db.execute("SELECT text FROM notes").fetchall() == [("kept",)]
    database.close()


def test_an_error_inside_a_transaction_rolls_it_back_and_passes_through(path):
    database = Database(path, NOTES, error=NotesError)

    def insert_then_fail():
        with database.transaction() as db:
            db.execute("INSERT INTO notes VALUES ('lost')")
            raise KeyError("x")

    with pytest.raises(KeyError):
        insert_then_fail()
    with database.errors() as db:
        assert db.execute("SELECT count(*) FROM notes").fetchone() == (0,)
    database.close()


def test_a_closed_database_is_the_stores_error(path):
    database = Database(path, NOTES, error=NotesError)
    database.close()
    with pytest.raises(NotesError, match=str(path)), database.errors() as db:
        db.execute("SELECT 1")


def test_a_directory_where_the_file_should_be_is_refused_by_name(path):
    path.mkdir(parents=True)
    with pytest.raises(NotesError, match=str(path)):
        Database(path, NOTES, error=NotesError)


# ---------------------------------------------------------------- every store opens this way


def open_registry(path):
    return Registry(path, FixedClock())


def open_scheduler(path):
    def invoke(arn, event):
        raise AssertionError((arn, event))

    return LocalScheduler(path, FixedClock(), invoke)


STORES = [
    pytest.param(open_registry, RegistryDatabaseError, "device registry database", id="registry"),
    pytest.param(SqliteShadowStore, ShadowStoreError, "shadow database", id="shadows"),
    pytest.param(SqliteHistory, HistoryUnavailableError, "push history", id="history"),
    pytest.param(open_scheduler, SchedulerDatabaseError, "scheduler database", id="scheduler"),
    pytest.param(
        lambda path: CognitoStore(path, CognitoLimits()),
        CognitoDatabaseError,
        "Cognito database",
        id="cognito",
    ),
]


@pytest.mark.parametrize(("store", "error", "what"), STORES)
def test_each_store_refuses_a_file_that_is_not_a_database_naming_it(tmp_path, store, error, what):
    path = tmp_path / "store.db"
    path.write_bytes(b"no database here, only words " * 200)
    with pytest.raises(error, match="not an SQLite database") as caught:
        store(path)
    assert str(caught.value).startswith(f"{what} {path}: ")
    assert isinstance(caught.value, DatabaseError)


@pytest.mark.parametrize(("store", "error", "what"), STORES)
def test_each_store_refuses_a_newer_schema_naming_it(tmp_path, store, error, what):
    path = tmp_path / "store.db"
    with closing(sqlite3.connect(path)) as connection:
        connection.execute("PRAGMA user_version = 99")
    with pytest.raises(error, match="schema version 99; this program reads") as caught:
        store(path)
    assert str(caught.value).startswith(f"{what} {path}: ")


@pytest.mark.parametrize(
    "store",  # not the scheduler: its API takes a socket (tests/integration/test_scheduler.py)
    [pytest.param(store.values[0], id=store.id) for store in STORES if store.id != "scheduler"],
)
def test_each_store_opens_its_own_file_again(tmp_path, store):
    path = tmp_path / "store.db"
    for _ in range(2):
        store(path).close()
    assert user_version(path) >= 1
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
