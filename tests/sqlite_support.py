"""What SQLite does for the statements a store runs: to prove a lookup searches an index
rather than reads a whole table (a cost that would grow with every row kept)."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Iterator

READS = ("SELECT", "DELETE", "UPDATE")


@contextlib.contextmanager
def traced(connection: sqlite3.Connection) -> Iterator[list[str]]:
    """Every statement `connection` runs inside the block, as run (its values filled in)."""
    statements: list[str] = []
    connection.set_trace_callback(statements.append)
    try:
        yield statements
    finally:
        connection.set_trace_callback(None)


def plans(connection: sqlite3.Connection, statements: list[str]) -> dict[str, list[str]]:
    """Each statement that reads rows, and the steps of SQLite's plan for it."""
    return {
        sql: [row[-1] for row in connection.execute(f"EXPLAIN QUERY PLAN {sql}")]
        for sql in statements
        if sql.lstrip().upper().startswith(READS)
    }
