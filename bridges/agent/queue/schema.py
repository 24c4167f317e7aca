"""The queue database's schema: created on first open, checked on every later one."""

from __future__ import annotations

import sqlite3
from pathlib import Path

__all__ = ["COUNTERS", "SCHEMA_VERSION", "open_schema"]

SCHEMA_VERSION = 1
COUNTERS = "last_enqueued_seq last_acked_seq depth size_bytes dropped_records refused_records"
_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE records (
    seq INTEGER PRIMARY KEY, source_time_ns INTEGER NOT NULL, channel TEXT NOT NULL,
    message_json TEXT NOT NULL, aggregate_json TEXT NOT NULL,
    replace_aggregate INTEGER NOT NULL, size INTEGER NOT NULL, enqueued_at_ns INTEGER NOT NULL);
CREATE TABLE channels (
    name TEXT PRIMARY KEY, message_count INTEGER NOT NULL, aggregate_json TEXT NOT NULL,
    updated_at_ns INTEGER) WITHOUT ROWID;
CREATE TABLE idempotency (
    id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, seq INTEGER NOT NULL,
    aggregate_json TEXT NOT NULL, created_at_ns INTEGER NOT NULL);
CREATE INDEX idempotency_created ON idempotency (created_at_ns)
"""
_TABLES = {"meta", "records", "channels", "idempotency"}


def open_schema(conn: sqlite3.Connection, path: Path) -> None:
    """Create the schema in an empty database, or refuse one this agent cannot use."""
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
    if version != SCHEMA_VERSION:
        raise ValueError(
            f"{path} has queue schema version {version}; this agent knows only "
            f"{SCHEMA_VERSION} (keep the newer agent or move the file away)"
        )
    missing = sorted((_TABLES - tables) | (set(COUNTERS.split()) - meta.keys()))
    if missing:
        raise ValueError(f"{path} is a damaged queue: missing {missing}")
