"""The SQLite shadow store: what it keeps, across reopenings, and how it fails."""

from __future__ import annotations

import sqlite3
import threading
from contextlib import closing

import pytest

from swan.core.errors import SwanError
from swan.local.core.shadow import ShadowKey, StoredShadow, UpdateAccepted, apply_update
from swan.local.shadow_store import ShadowStoreError, SqliteShadowStore

NOW = 1_764_000_000.0


def shadow(request: bytes, current: StoredShadow | None = None) -> StoredShadow:
    result = apply_update(current, request, now=NOW)
    assert isinstance(result, UpdateAccepted), result
    return result.shadow


LAMP = shadow(b'{"state": {"desired": {"on": true}, "reported": {"on": false}}}')


@pytest.fixture
def path(tmp_path):
    return tmp_path / "shadows.db"


@pytest.fixture
def store(path):
    with SqliteShadowStore(path) as opened:
        yield opened


def test_a_shadow_never_stored_is_none(store):
    assert store.get(ShadowKey("lamp")) is None


def test_what_is_put_is_what_is_got(store):
    store.put(ShadowKey("lamp"), LAMP)
    assert store.get(ShadowKey("lamp")) == LAMP


def test_classic_and_named_shadows_of_a_thing_are_separate(store):
    named = shadow(b'{"state": {"reported": {"mode": "eco"}}}')
    store.put(ShadowKey("lamp"), LAMP)
    store.put(ShadowKey("lamp", "config"), named)
    assert store.get(ShadowKey("lamp")) == LAMP
    assert store.get(ShadowKey("lamp", "config")) == named
    assert store.get(ShadowKey("other", "config")) is None


def test_a_put_replaces_the_shadow(store):
    newer = shadow(b'{"state": {"reported": {"on": true}}}', LAMP)
    store.put(ShadowKey("lamp"), LAMP)
    store.put(ShadowKey("lamp"), newer)
    assert store.get(ShadowKey("lamp")) == newer
    assert newer.version == 2


def test_a_deleted_shadow_is_kept_with_its_version(store):
    store.put(ShadowKey("lamp"), StoredShadow(version=7, deleted=True))
    assert store.get(ShadowKey("lamp")) == StoredShadow(version=7, deleted=True)


def test_list_named_is_sorted_and_leaves_out_classic_deleted_and_other_things(store):
    for name in ("zeta", "alpha", "$config", "gone"):
        store.put(ShadowKey("lamp", name), LAMP)
    store.put(ShadowKey("lamp", "gone"), StoredShadow(version=1, deleted=True))
    store.put(ShadowKey("lamp"), LAMP)
    store.put(ShadowKey("lamp-2", "beta"), LAMP)
    assert store.list_named("lamp") == ["$config", "alpha", "zeta"]
    assert store.list_named("unknown") == []


def test_shadows_survive_closing_and_reopening_the_file(path):
    with SqliteShadowStore(path) as first:
        first.put(ShadowKey("lamp"), LAMP)
        first.put(ShadowKey("lamp", "config"), StoredShadow(version=3, deleted=True))
    with SqliteShadowStore(path) as second:
        assert second.get(ShadowKey("lamp")) == LAMP
        assert second.get(ShadowKey("lamp", "config")) == StoredShadow(version=3, deleted=True)


def test_a_put_is_on_disk_before_it_returns(store, path, tmp_path):
    store.put(ShadowKey("lamp"), LAMP)
    # The files as a killed process leaves them: copied while the store is still open.
    crashed = tmp_path / "crashed"
    crashed.mkdir()
    for suffix in ("", "-wal"):
        source = path.with_name(path.name + suffix)
        (crashed / source.name).write_bytes(source.read_bytes())
    with SqliteShadowStore(crashed / path.name) as recovered:
        assert recovered.get(ShadowKey("lamp")) == LAMP


def test_the_database_runs_in_wal_mode(path):
    with SqliteShadowStore(path) as store:
        store.put(ShadowKey("lamp"), LAMP)
    with closing(sqlite3.connect(path)) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_a_second_store_on_the_same_file_is_refused(store, path):
    with pytest.raises(ShadowStoreError, match="in use by another process") as caught:
        SqliteShadowStore(path)
    assert str(path) in str(caught.value)
    store.put(ShadowKey("lamp"), LAMP)  # the owner carries on
    assert store.get(ShadowKey("lamp")) == LAMP


def test_unicode_is_stored_faithfully(store):
    odd = shadow(b'{"state": {"reported": {"name": "caf\\u00e9 \\ud83d\\ude00 \xe2\x98\x83"}}}')
    store.put(ShadowKey("lamp"), odd)
    assert store.get(ShadowKey("lamp")).reported == {"name": "caf\u00e9 \U0001f600 \u2603"}
    assert store.get(ShadowKey("lamp")) == odd


def test_a_lone_surrogate_stored_before_requests_refused_them_reads_back_unchanged(path):
    # No request can store one now (decode_json refuses it); a database from before may hold
    # one, and the store must not lose or damage it: the service refuses to publish it.
    legacy = StoredShadow(
        reported={"name": "x\ud800"}, reported_metadata={"name": {"timestamp": 1}}, version=3
    )
    with SqliteShadowStore(path) as first:
        first.put(ShadowKey("lamp"), legacy)
    with SqliteShadowStore(path) as second:
        assert second.get(ShadowKey("lamp")) == legacy


def test_threads_can_share_one_store(store):
    errors = []

    def work(index):
        try:
            for round_ in range(20):
                key = ShadowKey(f"thing-{index}", f"s{round_}")
                store.put(key, LAMP)
                assert store.get(key) == LAMP
        except Exception as error:  # noqa: BLE001
            errors.append(error)

    threads = [threading.Thread(target=work, args=(index,)) for index in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert errors == []
    assert len(store.list_named("thing-3")) == 20


# ---------------------------------------------------------------------------- failures


def test_a_file_that_is_not_a_database_is_refused_by_name(path):
    path.write_bytes(b"these are not the shadows you are looking for\n" * 100)
    with pytest.raises(ShadowStoreError, match="not an SQLite database") as caught:
        SqliteShadowStore(path)
    assert str(path) in str(caught.value)
    assert caught.value.path == path
    assert isinstance(caught.value, SwanError)


def test_a_damaged_database_is_refused_by_name(path):
    with SqliteShadowStore(path) as store:
        for index in range(200):
            store.put(ShadowKey(f"thing-{index}"), LAMP)
    with closing(sqlite3.connect(path)) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(path.read_bytes())
    data[4096 + 100 : 4096 + 4000] = b"\xff" * 3900  # scribble over the second page
    path.write_bytes(bytes(data))
    with pytest.raises(ShadowStoreError, match=str(path)):
        SqliteShadowStore(path)


def write_row(path, thing, name, document):
    """A row written behind the store's back, as a bad edit or a bug might leave it."""
    SqliteShadowStore(path).close()
    with closing(sqlite3.connect(path, isolation_level=None)) as connection:
        connection.execute("INSERT INTO shadows VALUES (?, ?, 1, ?)", (thing, name, document))


def test_a_row_that_is_not_a_stored_shadow_names_the_file_and_the_shadow(path):
    write_row(path, "lamp", "config", '{"version": -1}')
    expected = pytest.raises(ShadowStoreError, match=r"unreadable shadow lamp/config")
    with SqliteShadowStore(path) as store, expected as caught:
        store.get(ShadowKey("lamp", "config"))
    assert str(path) in str(caught.value)


@pytest.mark.parametrize("document", ["not json", "[1, 2]"])
def test_a_row_that_is_not_an_object_names_the_file(path, document):
    write_row(path, "lamp", "", document)
    with SqliteShadowStore(path) as store, pytest.raises(ShadowStoreError, match="shadow lamp"):
        store.get(ShadowKey("lamp"))


def test_a_database_from_a_newer_schema_is_refused(path):
    with closing(sqlite3.connect(path)) as connection:
        connection.execute("PRAGMA user_version = 99")
    with pytest.raises(ShadowStoreError, match="schema version 99"):
        SqliteShadowStore(path)


def test_a_directory_where_the_file_should_be_is_refused_by_name(path):
    path.mkdir()
    with pytest.raises(ShadowStoreError, match=str(path)):
        SqliteShadowStore(path)


def test_errors_after_closing_name_the_file(path):
    store = SqliteShadowStore(path)
    store.close()
    with pytest.raises(ShadowStoreError, match=str(path)):
        store.get(ShadowKey("lamp"))


# ---------------------------------------------------------------------------- the read cache


def test_shadows_pushed_out_of_the_cache_are_read_back_from_disk(path):
    with SqliteShadowStore(path, cache_size=2) as store:
        shadows = {
            f"thing-{index}": shadow(b'{"state": {"reported": {"n": %d}}}' % index)
            for index in range(5)
        }
        for thing, stored in shadows.items():
            store.put(ShadowKey(thing), stored)
        assert len(store._cache) == 2
        for thing, stored in shadows.items():
            assert store.get(ShadowKey(thing)) == stored
        assert store.get(ShadowKey("never")) is None


def test_a_failed_write_leaves_the_old_shadow_readable(store):
    store.put(ShadowKey("lamp"), LAMP)
    store._database.connection.execute("PRAGMA query_only = ON")  # as a read-only file system would
    newer = shadow(b'{"state": {"reported": {"on": true}}}', LAMP)
    with pytest.raises(ShadowStoreError, match="readonly"):
        store.put(ShadowKey("lamp"), newer)
    assert store.get(ShadowKey("lamp")) == LAMP
