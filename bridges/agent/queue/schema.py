"""The queue database's schema: created on first open, checked (and upgraded) on later ones.

Version 2 added ``records.no_datapoints``; version 3 added ``records.channel_write_seq`` and
the ``last_applied_write_seq`` counter (cloud writes applied on the device); version 4 the
``last_command_seq`` counter (cloud commands handed to subscribers). An older queue is
upgraded in place when it is opened, its records keeping their meaning (numbers are
readings, no record carries a cloud write).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

__all__ = ["COUNTERS", "SCHEMA_VERSION", "open_schema"]

SCHEMA_VERSION = 4
COUNTERS = (
    "last_enqueued_seq last_acked_seq depth size_bytes dropped_records refused_records "
    "last_applied_write_seq last_command_seq"
)
_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE records (
    seq INTEGER PRIMARY KEY, source_time_ns INTEGER NOT NULL, channel TEXT NOT NULL,
    message_json TEXT NOT NULL, aggregate_json TEXT NOT NULL,
    replace_aggregate INTEGER NOT NULL, size INTEGER NOT NULL, enqueued_at_ns INTEGER NOT NULL,
    no_datapoints INTEGER NOT NULL DEFAULT 0, channel_write_seq INTEGER NOT NULL DEFAULT 0);
CREATE TABLE channels (
    name TEXT PRIMARY KEY, message_count INTEGER NOT NULL, aggregate_json TEXT NOT NULL,
    updated_at_ns INTEGER) WITHOUT ROWID;
CREATE TABLE idempotency (
    id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, seq INTEGER NOT NULL,
    aggregate_json TEXT NOT NULL, created_at_ns INTEGER NOT NULL);
CREATE INDEX idempotency_created ON idempotency (created_at_ns)
"""
_TABLES = {"meta", "records", "channels", "idempotency"}
# Each step takes the schema from its version to the next, inside the opening transaction.
_UPGRADES = {
    1: ("ALTER TABLE records ADD COLUMN no_datapoints INTEGER NOT NULL DEFAULT 0",),
    2: (
        "ALTER TABLE records ADD COLUMN channel_write_seq INTEGER NOT NULL DEFAULT 0",
        "INSERT INTO meta (key, value) VALUES ('last_applied_write_seq', 0)",
    ),
    3: ("INSERT INTO meta (key, value) VALUES ('last_command_seq', 0)",),
}


def open_schema(conn: sqlite3.Connection, path: Path) -> None:
    """Create the schema in an empty database, upgrade an older one, or refuse one this
    agent cannot use."""
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    if not tables:
        for statement in _SCHEMA.split(";"):
            conn.execute(statement)
        rows = [("schema_version", SCHEMA_VERSION), *((key, 0) for key in COUNTERS.split())]
        conn.executemany("INSERT INTO meta (key, value) VALUES (?, ?)", rows)
        return
    if "meta" not in tables:
        raise ValueError(f"{path} holds tables but is not a revlink queue")
    meta = dict(conn.execute("SELECT key, value FROM meta"))
    version = meta.get("schema_version")
    if isinstance(version, int) and version in _UPGRADES and "records" in tables:
        while version in _UPGRADES:
            for statement in _UPGRADES[version]:
                conn.execute(statement)
            version += 1
        conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (version,))
        meta = dict(conn.execute("SELECT key, value FROM meta"))
    if version != SCHEMA_VERSION:
        raise ValueError(
            f"{path} has queue schema version {version}; this agent knows versions "
            f"1-{SCHEMA_VERSION} (keep the newer agent or move the file away)"
        )
    missing = sorted((_TABLES - tables) | (set(COUNTERS.split()) - meta.keys()))
    if missing:
        raise ValueError(f"{path} is a damaged queue: missing {missing}")
