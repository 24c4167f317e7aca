"""The durable queue: SQLite (WAL) holding every unacked record, channel aggregates and keys.

Why one SQLite file: a publish must change four things at once (the record, its seq, the
channel aggregate, the idempotency key) and a kill -9 between any two of them must not
leave a seq without its record or an aggregate that includes a record the cloud will never
see. One ``BEGIN IMMEDIATE`` transaction per call gives exactly that; WAL with
``synchronous=FULL`` makes the record survive power loss once ``publish`` returns
(``NORMAL`` survives a process kill but may lose the last commits on power loss).

Idempotency keys are remembered while they are among the newest ``idempotency_max_keys``
(default 100,000) AND younger than ``idempotency_ttl_ns`` (default 24 h, by ``clock_ns``);
older ones are pruned on the next keyed publish and a retry with them is stored anew.

One connection, guarded by a lock: the asyncio agent calls in through ``asyncio.to_thread``
and every call is one short transaction.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bridges.agent.queue.admission import (
    ChannelState,
    PublishItem,
    PublishResult,
    QueuedRecord,
    QueueLimits,
    QueueStats,
    check_publish,
    full_message,
    plan_admission,
)
from bridges.agent.queue.rows import evict_oldest, merge_aggregate
from bridges.agent.queue.schema import COUNTERS, SCHEMA_VERSION, open_schema
from revlink.channels import InvalidPayloadError

__all__ = [  # the value types live in .admission (pure) and are re-exported from here
    "SCHEMA_VERSION",
    "ChannelState",
    "DurableQueue",
    "PublishItem",
    "PublishResult",
    "QueueFullError",
    "QueueStats",
    "QueuedRecord",
]

_DEFAULT_LIMITS = QueueLimits()
# Named, not "*": a queue upgraded in place has its columns in the order they were added.
_RECORD_COLUMNS = (
    "seq, source_time_ns, channel, message_json, aggregate_json, replace_aggregate, size, "
    "enqueued_at_ns, no_datapoints, channel_write_seq"
)
_SYNCHRONOUS = frozenset({"FULL", "NORMAL"})


class QueueFullError(Exception):
    """The queue had no room for a record (refuse-new policy, or larger than the queue)."""


class DurableQueue:
    """Records in, in seq order, until acked; see the module docstring for the guarantees."""

    def __init__(
        self,
        path: Path,
        limits: QueueLimits = _DEFAULT_LIMITS,
        *,
        synchronous: str = "FULL",
        clock_ns: Callable[[], int] = time.time_ns,
        idempotency_max_keys: int = 100_000,
        idempotency_ttl_ns: int = 24 * 3600 * 10**9,
    ) -> None:
        mode = synchronous.upper()
        if mode not in _SYNCHRONOUS:
            raise ValueError(f"synchronous must be FULL or NORMAL, not {synchronous!r}")
        if idempotency_max_keys < 1 or idempotency_ttl_ns < 1:
            raise ValueError("idempotency_max_keys and idempotency_ttl_ns must be >= 1")
        self.path = Path(path)
        self.limits = limits
        self._clock_ns = clock_ns
        self._max_keys = idempotency_max_keys
        self._ttl_ns = idempotency_ttl_ns
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(
            self.path, timeout=10.0, isolation_level=None, check_same_thread=False
        )
        self._conn: sqlite3.Connection | None = conn
        try:
            if conn.execute("PRAGMA journal_mode=WAL").fetchone()[0].lower() != "wal":
                raise ValueError(f"{self.path}: SQLite refused WAL journal mode")
            conn.execute(f"PRAGMA synchronous={mode}")
            self._open_schema()
        except sqlite3.DatabaseError as exc:
            self.close()
            raise ValueError(f"{self.path} is not a usable queue database ({exc})") from exc
        except BaseException:
            self.close()
            raise

    def _open_schema(self) -> None:
        with self._transaction() as conn:
            open_schema(conn, self.path)

    # -- plumbing --------------------------------------------------------------------------

    @contextmanager
    def _transaction(self, kind: str = "IMMEDIATE") -> Iterator[sqlite3.Connection]:
        """One transaction under the lock; rolled back on any error (a kill -9 does the same)."""
        with self._lock:
            conn = self._conn
            if conn is None:
                raise ValueError(f"queue {self.path} is closed")
            conn.execute(f"BEGIN {kind}")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    @staticmethod
    def _meta(conn: sqlite3.Connection) -> dict[str, int]:
        return dict(conn.execute("SELECT key, value FROM meta"))

    @staticmethod
    def _set_meta(conn: sqlite3.Connection, changes: dict[str, int]) -> None:
        conn.executemany(
            "UPDATE meta SET value = ? WHERE key = ?", [(v, k) for k, v in changes.items()]
        )

    # -- publishing ------------------------------------------------------------------------

    def publish(
        self,
        channel: str,
        message_json: str = "",
        aggregate_json: str = "",
        *,
        replace_aggregate: bool = False,
        source_time_ns: int | None = None,
        idempotency_key: str = "",
        no_datapoints: bool = False,
    ) -> PublishResult:
        """Store one record durably and merge its aggregate patch; one transaction.

        A retry with a known ``idempotency_key`` answers the first call's result (even if
        its arguments differ) and changes nothing. Raises :class:`InvalidPayloadError` for
        bad input and :class:`QueueFullError` when the record is refused for space.
        """
        item = PublishItem(
            channel,
            message_json,
            aggregate_json,
            replace_aggregate,
            source_time_ns,
            idempotency_key,
            no_datapoints,
        )
        (outcome,) = self.publish_many([item])
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def publish_many(self, items: Sequence[PublishItem]) -> list[PublishResult | Exception]:
        """Store several records in ONE transaction (one fsync), each with its own outcome.

        Group commit: the agent hands over every Publish that arrived while the previous
        transaction was committing. An item's outcome is its result, or the exception a
        lone ``publish`` would raise (bad input, queue full); other items are unaffected.
        """
        checked: list[tuple[PublishItem, dict[str, Any] | None, int] | Exception] = []
        for item in items:
            try:
                patch, size = check_publish(
                    item.channel, item.message_json, item.aggregate_json, item.idempotency_key
                )
                checked.append((item, patch, size))
            except InvalidPayloadError as exc:
                checked.append(exc)
        outcomes: list[PublishResult | Exception] = []
        with self._transaction() as conn:
            for entry in checked:
                if isinstance(entry, Exception):
                    outcomes.append(entry)
                else:
                    outcomes.append(self._publish_one(conn, *entry))
        return outcomes

    def apply_cloud_write(self, item: PublishItem) -> PublishResult:
        """Apply a cloud write (``item.channel_write_seq``) exactly once; one transaction.

        The write's aggregate change becomes a record like any publish, so the cloud's
        aggregate receives it in the device's order; ``last_applied_write_seq`` moves in the
        same transaction, so a write sent again (its ack was lost) is answered as a duplicate
        with the current aggregate and changes nothing. Raises like :meth:`publish`.
        """
        if item.channel_write_seq < 1:
            raise ValueError("a cloud write needs its channel_write_seq (>= 1)")
        patch, size = check_publish(item.channel, "", item.aggregate_json, "")
        with self._transaction() as conn:
            meta = self._meta(conn)
            if item.channel_write_seq <= meta["last_applied_write_seq"]:
                row = conn.execute(
                    "SELECT aggregate_json FROM channels WHERE name = ?", (item.channel,)
                ).fetchone()
                return PublishResult(seq=0, duplicate=True, aggregate_json=row[0] if row else "{}")
            outcome = self._publish_one(conn, item, patch, size)
            if isinstance(outcome, Exception):
                raise outcome
            self._set_meta(conn, {"last_applied_write_seq": item.channel_write_seq})
        return outcome

    def _publish_one(
        self, conn: sqlite3.Connection, item: PublishItem, patch: dict[str, Any] | None, size: int
    ) -> PublishResult | QueueFullError:
        key = item.idempotency_key
        if key:
            row = conn.execute(
                "SELECT seq, aggregate_json FROM idempotency WHERE key = ?", (key,)
            ).fetchone()
            if row is not None:
                return PublishResult(seq=row[0], duplicate=True, aggregate_json=row[1])
        meta = self._meta(conn)
        verdict = plan_admission(meta["depth"], meta["size_bytes"], size, self.limits)
        if not verdict.accept:
            # Only the counter is written: the refusal itself is worth keeping.
            conn.execute("UPDATE meta SET value = value + 1 WHERE key = 'refused_records'")
            return QueueFullError(
                full_message(meta["depth"], meta["size_bytes"], size, item.channel, self.limits)
            )
        now = self._clock_ns()
        evicted, freed = evict_oldest(conn, verdict.evict_records, verdict.evict_bytes)
        replace = item.replace_aggregate and patch is not None
        aggregate = merge_aggregate(
            conn, item.channel, patch, replace, bool(item.message_json), now
        )
        seq = meta["last_enqueued_seq"] + 1
        source = now if item.source_time_ns is None else item.source_time_ns
        conn.execute(
            f"INSERT INTO records ({_RECORD_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                seq,
                source,
                item.channel,
                item.message_json,
                item.aggregate_json,
                replace,
                size,
                now,
                item.no_datapoints,
                item.channel_write_seq,
            ),
        )
        if key:
            self._remember(conn, key, seq, aggregate, now)
        self._set_meta(
            conn,
            {
                "last_enqueued_seq": seq,
                "depth": meta["depth"] - evicted + 1,
                "size_bytes": meta["size_bytes"] - freed + size,
                "dropped_records": meta["dropped_records"] + evicted,
            },
        )
        return PublishResult(seq=seq, duplicate=False, aggregate_json=aggregate)

    def _remember(
        self, conn: sqlite3.Connection, key: str, seq: int, aggregate: str, now: int
    ) -> None:
        newest = conn.execute(
            "INSERT INTO idempotency (key, seq, aggregate_json, created_at_ns) VALUES (?,?,?,?)",
            (key, seq, aggregate, now),
        ).lastrowid
        assert newest is not None
        # Both deletes walk an index and touch nothing in the steady state.
        conn.execute("DELETE FROM idempotency WHERE id <= ?", (newest - self._max_keys,))
        conn.execute("DELETE FROM idempotency WHERE created_at_ns < ?", (now - self._ttl_ns,))

    def take_command(self, seq: int) -> bool:
        """Note that command ``seq`` is being handed to subscribers; False when it (or a later
        one) was already, so a command the cloud sends again is not delivered twice."""
        with self._transaction() as conn:
            if seq <= self._meta(conn)["last_command_seq"]:
                return False
            self._set_meta(conn, {"last_command_seq": seq})
        return True

    # -- draining --------------------------------------------------------------------------

    def pending(self, after_seq: int = 0, limit: int = 100) -> list[QueuedRecord]:
        """Unacked records with seq > ``after_seq``, ascending, at most ``limit``."""
        if limit < 1:
            raise ValueError(f"limit must be at least 1, not {limit}")
        with self._transaction("DEFERRED") as conn:
            rows = conn.execute(
                f"SELECT {_RECORD_COLUMNS} FROM records WHERE seq > ? ORDER BY seq LIMIT ?",
                (after_seq, limit),
            ).fetchall()
        return [
            QueuedRecord(r[0], r[1], r[2], r[3], r[4], bool(r[5]), r[6], r[7], bool(r[8]), r[9])
            for r in rows
        ]

    def ack(self, up_to_seq: int) -> int:
        """The cloud committed everything up to ``up_to_seq``: free those records.

        ``last_acked_seq`` only ever rises. An ack beyond ``last_enqueued_seq`` (the cloud
        holds seqs this queue never gave out) also moves the numbering past it, since the
        cloud would drop any new record at or below its mark. Returns the records freed.
        """
        if up_to_seq < 0:
            raise ValueError(f"up_to_seq must be >= 0, not {up_to_seq}")
        with self._transaction() as conn:
            meta = self._meta(conn)
            freed, nbytes = conn.execute(
                "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM records WHERE seq <= ?",
                (up_to_seq,),
            ).fetchone()
            changes: dict[str, int] = {}
            if freed:
                conn.execute("DELETE FROM records WHERE seq <= ?", (up_to_seq,))
                changes |= {
                    "depth": meta["depth"] - freed,
                    "size_bytes": meta["size_bytes"] - nbytes,
                }
            if up_to_seq > meta["last_acked_seq"]:
                changes["last_acked_seq"] = up_to_seq
            if up_to_seq > meta["last_enqueued_seq"]:
                changes["last_enqueued_seq"] = up_to_seq
            self._set_meta(conn, changes)
        return int(freed)

    def renumber_after(self, floor_seq: int) -> int:
        """Move every pending record past ``floor_seq``, keeping order; returns the offset.

        For a queue the cloud has never welcomed (wiped data directory, new card) whose
        numbering restarted below what the cloud committed: without this its records would
        be dropped as duplicates. Never call it for a queue the cloud knows: there, records
        at or below the mark were committed and only their ack was lost (use :meth:`ack`).
        Idempotency results of the moved records move with them.
        """
        if floor_seq < 0:
            raise ValueError(f"floor_seq must be >= 0, not {floor_seq}")
        with self._transaction() as conn:
            meta = self._meta(conn)
            first = conn.execute("SELECT MIN(seq) FROM records").fetchone()[0]
            changes: dict[str, int] = {}
            if first is not None:
                offset = max(0, floor_seq + 1 - first)
                if offset:
                    # Through negatives: shifting in place could collide with a higher seq.
                    conn.execute("UPDATE records SET seq = -(seq + ?)", (offset,))
                    conn.execute("UPDATE records SET seq = -seq")
                    conn.execute(
                        "UPDATE idempotency SET seq = seq + ? WHERE seq >= ?", (offset, first)
                    )
            else:
                offset = max(0, floor_seq - meta["last_enqueued_seq"])
            if offset:
                changes["last_enqueued_seq"] = meta["last_enqueued_seq"] + offset
            if floor_seq > meta["last_acked_seq"]:
                changes["last_acked_seq"] = floor_seq
            self._set_meta(conn, changes)
        return int(offset)

    # -- reading ---------------------------------------------------------------------------

    def aggregate(self, channel: str) -> tuple[str, int | None]:
        """The channel's aggregate and when it last changed; ("{}", None) when unknown."""
        with self._transaction("DEFERRED") as conn:
            row = conn.execute(
                "SELECT aggregate_json, updated_at_ns FROM channels WHERE name = ?", (channel,)
            ).fetchone()
        return ("{}", None) if row is None else (row[0], row[1])

    def channels(self) -> list[ChannelState]:
        with self._transaction("DEFERRED") as conn:
            rows = conn.execute(
                "SELECT name, message_count, aggregate_json, updated_at_ns FROM channels "
                "ORDER BY name"
            ).fetchall()
        return [ChannelState(*row) for row in rows]

    def stats(self) -> QueueStats:
        with self._transaction("DEFERRED") as conn:
            meta = self._meta(conn)
            row = conn.execute("SELECT enqueued_at_ns FROM records ORDER BY seq LIMIT 1").fetchone()
        oldest = None if row is None else row[0]
        return QueueStats(oldest_enqueued_at_ns=oldest, **{k: meta[k] for k in COUNTERS.split()})

    def close(self) -> None:
        """Close the connection (idempotent); later calls raise ValueError."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
