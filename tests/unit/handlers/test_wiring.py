"""The functions' composition root picks each adapter from the environment alone."""

import pytest
from aws_support import fake_credentials

from swan.adapters.history import SqliteHistory
from swan.adapters.history_dynamo import DynamoHistory
from swan.core.errors import InvalidSettingError
from swan.handlers.wiring import history_from_env


def test_a_history_file_means_sqlite(tmp_path):
    history = history_from_env({"SWAN_HISTORY_DB": str(tmp_path / "h.db"), "HISTORY_TABLE": "t"})
    assert isinstance(history, SqliteHistory)
    history.close()


def test_a_history_table_means_dynamodb(monkeypatch):
    fake_credentials(monkeypatch)
    history = history_from_env({"HISTORY_TABLE": "swan-HistoryTable-1"})
    assert isinstance(history, DynamoHistory)
    assert history.table == "swan-HistoryTable-1"


def test_without_either_the_function_says_what_is_missing():
    with pytest.raises(InvalidSettingError, match="HISTORY_TABLE"):
        history_from_env({})
