"""The backend's composition: the push history it reads for the list of recent pushes."""

from __future__ import annotations

from swan.adapters.history import SqliteHistory
from swan.core.countdown import Push
from webapp.backend import _history_reader


def test_recent_pushes_come_from_the_local_push_history(tmp_path):
    path = tmp_path / "history.db"
    history = SqliteHistory(path)
    for at, by in ((1.0, "pi-kitchen"), (2.0, "G030JF0553648RUH")):
        history.record(Push(at, by, "pi"), principal=by, client_token=None, min_interval=0)
    history.close()
    recent = _history_reader(path)
    assert [push.by for push in recent(5)] == ["G030JF0553648RUH", "pi-kitchen"]
    assert [push.by for push in recent(1)] == ["G030JF0553648RUH"]


def test_an_unreadable_history_means_none_and_the_page_lists_what_it_saw(tmp_path):
    assert _history_reader(tmp_path)(5) is None  # a directory, not a database
