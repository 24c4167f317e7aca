"""Durable queue speed: publishes/s with synchronous FULL and NORMAL against raw SQLite.

Run: ``make bench`` or ``python -m tests.bench.bench_queue [--records N]``.

Each mode publishes the same records (a channel message of two numbers plus an aggregate
patch) into a fresh queue file, one transaction and one durable commit per publish. The
baseline, in the same run, on the same disk and with the same journal (WAL) and synchronous
setting, is a bare sqlite3 loop of ``BEGIN; INSERT the same row; COMMIT``: the ratio says
what validation, the seq counter, the aggregate merge and the bookkeeping cost on top of the
commit every durable queue pays anyway.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import tempfile
import time
from pathlib import Path

from bridges.agent.queue import DurableQueue

CHANNEL = "tank"


def rows(records: int) -> list[tuple[str, str]]:
    return [
        (json.dumps({"level": n % 1000 / 10, "temp": 20 + n % 7}), json.dumps({"level": n % 1000}))
        for n in range(records)
    ]


def bench_queue(path: Path, data: list[tuple[str, str]], synchronous: str) -> float:
    queue = DurableQueue(path, synchronous=synchronous)
    try:
        started = time.perf_counter()
        for message, patch in data:
            queue.publish(CHANNEL, message, patch)
        elapsed = time.perf_counter() - started
        assert queue.stats().depth == len(data)
    finally:
        queue.close()
    return len(data) / elapsed


def bench_raw(path: Path, data: list[tuple[str, str]], synchronous: str) -> float:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={synchronous}")
        conn.execute(
            "CREATE TABLE records (seq INTEGER PRIMARY KEY, source_time_ns INTEGER, channel TEXT,"
            " message_json TEXT, aggregate_json TEXT, replace_aggregate INTEGER, size INTEGER,"
            " enqueued_at_ns INTEGER)"
        )
        started = time.perf_counter()
        for seq, (message, patch) in enumerate(data, 1):
            now = time.time_ns()
            size = len(message) + len(patch) + len(CHANNEL)
            conn.execute("BEGIN")
            conn.execute(
                "INSERT INTO records VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (seq, now, CHANNEL, message, patch, 0, size, now),
            )
            conn.execute("COMMIT")
        elapsed = time.perf_counter() - started
    finally:
        conn.close()
    return len(data) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=2000)
    args = parser.parse_args()
    data = rows(args.records)
    print(f"{args.records} publishes per run, one commit each (WAL)")
    with tempfile.TemporaryDirectory(prefix="bench-queue-", dir=Path.cwd()) as tmp:
        for mode in ("FULL", "NORMAL"):
            raw = bench_raw(Path(tmp) / f"raw-{mode}.db", data, mode)
            queue = bench_queue(Path(tmp) / f"queue-{mode}.db", data, mode)
            print(
                f"synchronous={mode:<6} queue {queue:9.0f} publishes/s | raw sqlite3 "
                f"{raw:9.0f} inserts/s | queue/raw {queue / raw:5.2f}x"
            )


if __name__ == "__main__":
    main()
