"""Row-level steps of a queue transaction, shared by every kind of publish.

Each takes the open connection of a transaction the store began; none commits.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from bridges.agent.queue.admission import apply_patch

__all__ = ["evict_oldest", "merge_aggregate"]


def evict_oldest(conn: sqlite3.Connection, records: int, nbytes: int) -> tuple[int, int]:
    """Delete the oldest records until both needs are met; (records, bytes) removed."""
    if records <= 0 and nbytes <= 0:
        return 0, 0
    count = freed = last = 0
    cursor = conn.execute("SELECT seq, size FROM records ORDER BY seq")
    try:
        while count < records or freed < nbytes:
            row = cursor.fetchone()
            if row is None:
                break
            last, count, freed = row[0], count + 1, freed + row[1]
    finally:
        cursor.close()
    conn.execute("DELETE FROM records WHERE seq <= ?", (last,))
    return count, freed


def merge_aggregate(
    conn: sqlite3.Connection,
    channel: str,
    patch: dict[str, Any] | None,
    replace: bool,
    is_message: bool,
    now: int,
) -> str:
    """Apply ``patch`` to the channel's stored aggregate; the aggregate after it (JSON)."""
    row = conn.execute(
        "SELECT message_count, aggregate_json FROM channels WHERE name = ?", (channel,)
    ).fetchone()
    count, aggregate = (row[0], row[1]) if row is not None else (0, "{}")
    if patch is not None:
        aggregate = apply_patch(aggregate, patch, replace)
    conn.execute(
        "INSERT INTO channels VALUES (?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
        "message_count = excluded.message_count, aggregate_json = excluded.aggregate_json, "
        "updated_at_ns = excluded.updated_at_ns",
        (channel, count + is_message, aggregate, now),
    )
    return aggregate
