"""The durable queue on real SQLite files: order, acks, limits, idempotency, kill -9."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bridges.agent.queue import DurableQueue, FullPolicy, QueueFullError, QueueLimits
from bridges.agent.queue.admission import PublishItem
from bridges.agent.queue.schema import SCHEMA_VERSION
from revlink.channels import InvalidPayloadError

ROOT = Path(__file__).resolve().parents[2]
Opener = Callable[..., DurableQueue]
DEFAULT = QueueLimits()


class Clock:
    """A deterministic nanosecond clock: every reading is 1 µs after the previous one."""

    def __init__(self) -> None:
        self.now = 1_700_000_000_000_000_000

    def __call__(self) -> int:
        self.now += 1000
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "data" / "queue.db"  # the directory does not exist yet


@pytest.fixture
def open_queue(db: Path, clock: Clock) -> Iterator[Opener]:
    opened: list[DurableQueue] = []

    def _open(limits: QueueLimits = DEFAULT, **kwargs: Any) -> DurableQueue:
        queue = DurableQueue(db, limits, clock_ns=clock, **kwargs)
        opened.append(queue)
        return queue

    yield _open
    for queue in opened:
        queue.close()


def msg(**fields: Any) -> str:
    return json.dumps(fields)


def seqs(queue: DurableQueue) -> list[int]:
    return [record.seq for record in queue.pending(limit=1_000_000)]


def test_publish_numbers_from_one_and_stores_the_record(open_queue: Opener, clock: Clock) -> None:
    queue = open_queue()
    first = queue.publish("tank", msg(level=1), source_time_ns=42)
    second = queue.publish("tank", "", '{"max": 9}', replace_aggregate=True)
    assert (first.seq, first.duplicate, first.aggregate_json) == (1, False, "{}")
    assert (second.seq, second.aggregate_json) == (2, '{"max":9}')
    one, two = queue.pending()
    assert one.source_time_ns == 42
    assert one.channel == "tank"
    assert (one.message_json, one.aggregate_json, one.replace_aggregate) == (
        '{"level": 1}',
        "",
        False,
    )
    assert one.size == len('{"level": 1}') + len("tank")
    assert two.replace_aggregate is True
    assert two.source_time_ns == two.enqueued_at_ns  # defaults to the enqueue time
    assert one.enqueued_at_ns < two.enqueued_at_ns <= clock.now
    stats = queue.stats()
    assert (stats.depth, stats.size_bytes) == (2, one.size + two.size)
    assert (stats.last_enqueued_seq, stats.oldest_enqueued_at_ns) == (2, one.enqueued_at_ns)


def test_the_no_datapoints_flag_is_kept_with_the_record(open_queue: Opener) -> None:
    queue = open_queue()
    queue.publish("plugin.x", "", '{"writes": {"a": {"written": 1}}}', no_datapoints=True)
    queue.publish("plugin.x", msg(a=1))
    assert [r.no_datapoints for r in queue.pending()] == [True, False]


def test_a_version_1_queue_is_upgraded_in_place_and_keeps_its_records(db: Path) -> None:
    """A queue written before ``no_datapoints`` existed: its records still go, as readings,
    and none of them carries a cloud write."""
    db.parent.mkdir(parents=True)
    conn = sqlite3.connect(db)
    try:
        with conn:
            conn.executescript(V1_SCHEMA)
            conn.executemany(
                "INSERT INTO meta VALUES (?, ?)",
                [("schema_version", 1), ("last_enqueued_seq", 1), ("last_acked_seq", 0)]
                + [(k, 0) for k in ("dropped_records", "refused_records")]
                + [("depth", 1), ("size_bytes", 16)],
            )
            conn.execute(
                "INSERT INTO records VALUES (1, 5, 'tank', '{\"level\": 1}', '', 0, 16, 5)"
            )
            conn.execute("INSERT INTO channels VALUES ('tank', 1, '{}', 5)")
    finally:
        conn.close()
    queue = DurableQueue(db)
    try:
        (old,) = queue.pending()
        assert (old.seq, old.message_json, old.no_datapoints) == (1, '{"level": 1}', False)
        assert old.channel_write_seq == 0
        assert queue.stats().last_applied_write_seq == 0
        assert queue.publish("tank", "", '{"a": 1}', no_datapoints=True).seq == 2
        assert [r.no_datapoints for r in queue.pending()] == [False, True]
    finally:
        queue.close()
    conn = sqlite3.connect(db)
    try:
        version = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    finally:
        conn.close()
    assert version == (SCHEMA_VERSION,)
    DurableQueue(db).close()  # and opens again as a current queue


V1_SCHEMA = """
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
CREATE INDEX idempotency_created ON idempotency (created_at_ns);
"""


def test_replace_flag_without_an_aggregate_is_not_kept(open_queue: Opener) -> None:
    queue = open_queue()
    queue.publish("tank", msg(a=1), replace_aggregate=True)
    assert queue.pending()[0].replace_aggregate is False


def test_pending_pages_in_seq_order(open_queue: Opener) -> None:
    queue = open_queue()
    for n in range(25):
        queue.publish("tank", msg(n=n))
    assert [r.seq for r in queue.pending(0, 10)] == list(range(1, 11))
    assert [r.seq for r in queue.pending(10, 10)] == list(range(11, 21))
    assert [r.seq for r in queue.pending(20, 10)] == list(range(21, 26))
    assert queue.pending(25) == []
    with pytest.raises(ValueError, match="limit must be at least 1"):
        queue.pending(limit=0)


def test_ack_frees_records_and_never_lowers_the_mark(open_queue: Opener) -> None:
    queue = open_queue()
    for n in range(12):
        queue.publish("tank", msg(n=n))
    sizes = {r.seq: r.size for r in queue.pending()}
    assert queue.ack(10) == 10
    stats = queue.stats()
    assert (stats.depth, stats.size_bytes, stats.last_acked_seq) == (2, sizes[11] + sizes[12], 10)
    assert queue.ack(5) == 0
    assert queue.ack(10) == 0
    assert queue.stats().last_acked_seq == 10
    assert [r.seq for r in queue.pending()] == [11, 12]
    assert queue.ack(12) == 2
    stats = queue.stats()
    assert (stats.depth, stats.size_bytes, stats.oldest_enqueued_at_ns) == (0, 0, None)
    with pytest.raises(ValueError, match="up_to_seq must be >= 0"):
        queue.ack(-1)


def test_ack_beyond_what_was_enqueued_moves_the_numbering(open_queue: Opener) -> None:
    queue = open_queue()
    queue.publish("tank", msg(a=1))
    assert queue.ack(50) == 1
    assert (queue.stats().last_acked_seq, queue.stats().last_enqueued_seq) == (50, 50)
    assert queue.publish("tank", msg(a=2)).seq == 51


def test_reopen_keeps_everything(open_queue: Opener) -> None:
    limits = QueueLimits(max_records=3, policy=FullPolicy.DROP_OLDEST)
    queue = open_queue(limits)
    for n in range(5):
        queue.publish("tank", msg(n=n), msg(last=n), idempotency_key=f"k{n}")
    queue.ack(3)
    before = (queue.stats(), queue.pending(), queue.channels(), queue.aggregate("tank"))
    queue.close()
    queue = open_queue(QueueLimits(max_records=3, policy=FullPolicy.REFUSE_NEW))
    assert (queue.stats(), queue.pending(), queue.channels(), queue.aggregate("tank")) == before
    assert before[0].dropped_records == 2
    assert queue.publish("tank", msg(n=5)).seq == 6  # depth 2 of 3: one more fits
    with pytest.raises(QueueFullError):
        queue.publish("tank", msg(n=6))
    assert queue.publish("tank", msg(n=9), idempotency_key="k4").duplicate
    queue.close()
    queue = open_queue()
    stats = queue.stats()
    assert (stats.last_enqueued_seq, stats.last_acked_seq, stats.refused_records) == (6, 3, 1)
    assert queue.publish("tank", msg(n=7)).seq == 7


def test_idempotent_retry_answers_the_first_result_and_stores_once(open_queue: Opener) -> None:
    queue = open_queue()
    first = queue.publish("tank", msg(a=1), msg(total=1), idempotency_key="req-1")
    queue.publish("tank", msg(a=2), msg(total=2))
    retry = queue.publish("tank", msg(a=1), msg(total=1), idempotency_key="req-1")
    assert (retry.seq, retry.duplicate, retry.aggregate_json) == (1, True, first.aggregate_json)
    assert first.duplicate is False
    assert seqs(queue) == [1, 2]
    assert queue.channels()[0].message_count == 2
    assert queue.aggregate("tank")[0] == '{"total":2}'
    queue.close()
    queue = open_queue()
    again = queue.publish("tank", '{"other": true}', idempotency_key="req-1")
    assert (again.seq, again.duplicate) == (1, True)  # the first result, even across reopen
    assert seqs(queue) == [1, 2]


def test_idempotency_keys_are_kept_for_a_bounded_count_and_time(
    open_queue: Opener, clock: Clock
) -> None:
    queue = open_queue(idempotency_max_keys=2, idempotency_ttl_ns=10**9)
    for key in ("a", "b", "c"):
        queue.publish("tank", msg(k=key), idempotency_key=key)
    assert queue.publish("tank", msg(k="c"), idempotency_key="c").duplicate
    assert queue.publish("tank", msg(k="b"), idempotency_key="b").duplicate
    assert not queue.publish("tank", msg(k="a"), idempotency_key="a").duplicate  # pruned
    clock.now += 2 * 10**9
    queue.publish("tank", msg(k="d"), idempotency_key="d")  # prunes what is older than 1 s
    assert not queue.publish("tank", msg(k="a"), idempotency_key="a").duplicate


def test_aggregates_merge_replace_and_drop_nulls(open_queue: Opener, clock: Clock) -> None:
    queue = open_queue()
    assert queue.aggregate("tank") == ("{}", None)
    queue.publish("tank", "", msg(level=1, unit="cm", limits={"hi": 9, "lo": 1}))
    result = queue.publish("tank", msg(level=2), msg(level=2, unit=None, limits={"lo": None}))
    assert result.aggregate_json == '{"level":2,"limits":{"hi":9}}'
    assert queue.aggregate("tank") == (result.aggregate_json, clock.now)
    replaced = queue.publish("tank", "", msg(fresh=True, gone=None), replace_aggregate=True)
    assert replaced.aggregate_json == '{"fresh":true}'
    queue.publish("pump", msg(rpm=1200))  # message only: the aggregate stays {}
    queue.publish("pump", msg(rpm=1300))
    states = queue.channels()
    assert [(s.name, s.message_count, s.aggregate_json) for s in states] == [
        ("pump", 2, "{}"),
        ("tank", 1, '{"fresh":true}'),
    ]
    assert states[0].updated_at_ns == clock.now


@pytest.mark.parametrize(
    ("channel", "message", "aggregate", "error"),
    [
        ("no spaces", '{"a": 1}', "", "must be 1-128 characters"),
        ("tank", '{"a": NaN}', "", "NaN is not a number JSON allows"),
        ("tank", "", "[1]", "aggregate_json must be a JSON object, not list"),
        ("tank", "42", "", "message_json must be a JSON object, not int"),
        ("tank", "", "", "needs message_json, aggregate_json or both"),
        ("tank", "", '{"x": 1e999}', "out of range"),
    ],
)
def test_invalid_publishes_are_refused_and_store_nothing(
    open_queue: Opener, channel: str, message: str, aggregate: str, error: str
) -> None:
    queue = open_queue()
    queue.publish("tank", "", msg(kept=1))
    before = (queue.stats(), queue.channels())
    with pytest.raises(InvalidPayloadError, match=error):
        queue.publish(channel, message, aggregate, idempotency_key="k")
    assert (queue.stats(), queue.channels()) == before
    assert not queue.publish("tank", msg(ok=1), idempotency_key="k").duplicate


def test_drop_oldest_evicts_the_oldest_and_counts_them(open_queue: Opener) -> None:
    queue = open_queue(QueueLimits(max_records=3, max_bytes=60, policy=FullPolicy.DROP_OLDEST))
    for n in range(5):
        queue.publish("t", msg(n=n))  # 9 bytes each with the channel
    assert seqs(queue) == [3, 4, 5]
    assert queue.stats().dropped_records == 2
    big = queue.publish("t", msg(blob="x" * 30))  # 43 bytes: two of the three must go
    assert seqs(queue) == [5, big.seq]
    stats = queue.stats()
    assert (stats.dropped_records, stats.depth, stats.size_bytes) == (4, 2, 9 + 43)
    assert queue.channels()[0].message_count == 6  # dropping records keeps the channel state


def test_refuse_new_raises_counts_and_stores_nothing(open_queue: Opener) -> None:
    queue = open_queue(QueueLimits(max_records=2, policy=FullPolicy.REFUSE_NEW))
    queue.publish("tank", msg(n=1), msg(n=1))
    queue.publish("tank", msg(n=2), msg(n=2))
    before = (queue.pending(), queue.channels())
    with pytest.raises(QueueFullError, match=r"queue full \(refuse-new\): 2/2 records"):
        queue.publish("tank", msg(n=3), msg(n=3), idempotency_key="k")
    assert (queue.pending(), queue.channels()) == before
    stats = queue.stats()
    assert (stats.refused_records, stats.dropped_records, stats.last_enqueued_seq) == (1, 0, 2)
    queue.ack(1)
    retried = queue.publish("tank", msg(n=3), msg(n=3), idempotency_key="k")
    assert (retried.seq, retried.duplicate, retried.aggregate_json) == (3, False, '{"n":3}')


def test_a_record_larger_than_the_queue_is_refused_under_drop_oldest(open_queue: Opener) -> None:
    queue = open_queue(QueueLimits(max_bytes=20))
    queue.publish("t", msg(n=1))
    with pytest.raises(QueueFullError, match="exceeds the whole queue"):
        queue.publish("t", msg(blob="x" * 20))
    assert seqs(queue) == [1]
    assert (queue.stats().refused_records, queue.stats().dropped_records) == (1, 0)


def test_renumber_moves_a_wiped_queue_past_the_cloud(open_queue: Opener) -> None:
    queue = open_queue()
    keyed = queue.publish("tank", msg(n=1), idempotency_key="k")
    queue.publish("tank", msg(n=2))
    queue.publish("tank", msg(n=3))
    assert keyed.seq == 1
    assert queue.renumber_after(1000) == 1000
    records = queue.pending()
    assert [r.seq for r in records] == [1001, 1002, 1003]
    assert [json.loads(r.message_json)["n"] for r in records] == [1, 2, 3]
    stats = queue.stats()
    assert (stats.last_enqueued_seq, stats.last_acked_seq, stats.depth) == (1003, 1000, 3)
    assert queue.publish("tank", msg(n=4)).seq == 1004
    assert queue.publish("tank", msg(n=1), idempotency_key="k").seq == 1001
    assert queue.renumber_after(1000) == 0  # already above: nothing to do
    assert queue.renumber_after(500) == 0
    assert queue.stats().last_acked_seq == 1000
    queue.close()
    assert seqs(open_queue()) == [1001, 1002, 1003, 1004]


def test_renumber_of_an_empty_queue_moves_the_counter(open_queue: Opener) -> None:
    queue = open_queue()
    assert queue.renumber_after(0) == 0
    assert queue.renumber_after(70) == 70
    assert (queue.stats().last_enqueued_seq, queue.stats().last_acked_seq) == (70, 70)
    assert queue.publish("tank", msg(n=1)).seq == 71
    with pytest.raises(ValueError, match="floor_seq must be >= 0"):
        queue.renumber_after(-1)


def test_renumber_when_fewer_records_than_the_offset(open_queue: Opener) -> None:
    queue = open_queue()
    for n in range(10):
        queue.publish("tank", msg(n=n))
    queue.ack(4)  # pending 5..10; a shift of 2 would collide if done in place
    assert queue.renumber_after(6) == 2
    assert seqs(queue) == [7, 8, 9, 10, 11, 12]


def test_refuses_a_database_it_does_not_understand(db: Path, open_queue: Opener) -> None:
    open_queue().close()
    conn = sqlite3.connect(db)
    try:
        with conn:
            conn.execute("UPDATE meta SET value = 99 WHERE key = 'schema_version'")
    finally:
        conn.close()
    knows = f"schema version 99; this agent knows versions 1-{SCHEMA_VERSION}"
    with pytest.raises(ValueError, match=knows):
        open_queue()
    garbage = db.with_name("garbage.db")
    garbage.write_bytes(b"not sqlite at all" * 100)
    with pytest.raises(ValueError, match="is not a usable queue database"):
        DurableQueue(garbage)
    foreign = db.with_name("foreign.db")
    conn = sqlite3.connect(foreign)
    try:
        conn.execute("CREATE TABLE t (x)")
    finally:
        conn.close()
    with pytest.raises(ValueError, match="holds tables but is not a revlink queue"):
        DurableQueue(foreign)


def test_options_closing_and_wal(db: Path, open_queue: Opener) -> None:
    with pytest.raises(ValueError, match="synchronous must be FULL or NORMAL"):
        open_queue(synchronous="OFF")
    queue = open_queue(synchronous="normal")
    queue.publish("tank", msg(a=1))
    queue.close()
    queue.close()
    with pytest.raises(ValueError, match="is closed"):
        queue.stats()
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()


def test_threads_share_one_queue(open_queue: Opener) -> None:
    queue = open_queue(synchronous="NORMAL")
    got: list[int] = []

    def work() -> None:
        for n in range(50):
            got.append(queue.publish("tank", msg(n=n), msg(n=n)).seq)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(got) == list(range(1, 201))
    assert seqs(queue) == list(range(1, 201))
    assert queue.channels()[0].message_count == 200


CHILD = """
import sys
from pathlib import Path
from bridges.agent.queue import DurableQueue
queue = DurableQueue(Path(sys.argv[1]), synchronous=sys.argv[2])
n = 0
while True:
    n += 1
    key = f"{sys.argv[3]}-{n}"
    message, patch = '{"key": "%s"}' % key, '{"last": "%s"}' % key
    result = queue.publish("tank", message, patch, idempotency_key=key)
    print(result.seq, flush=True)
"""


@pytest.mark.parametrize("synchronous", ["FULL", "NORMAL"])
def test_kill_9_loses_nothing_that_publish_returned(db: Path, synchronous: str) -> None:
    printed: list[int] = []
    for round_ in range(3):
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(db), synchronous, str(round_)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None
        with child.stdout:
            for seen, line in enumerate(child.stdout, 1):  # kill it mid-stream after ~40
                printed.append(int(line))
                if seen == 40:  # land the kill at a different point of a publish each round
                    time.sleep(round_ / 1000)
                    child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
    assert printed == sorted(set(printed))  # strictly increasing across the kills
    queue = DurableQueue(db, synchronous=synchronous)
    try:
        stats = queue.stats()
        stored = seqs(queue)
        assert stored == list(range(1, stats.last_enqueued_seq + 1))  # no gaps, no duplicates
        assert set(printed) <= set(stored)
        assert stats.depth == len(stored)
        # Each record, its channel count and its aggregate merge committed together.
        (channel,) = queue.channels()
        assert channel.message_count == stats.last_enqueued_seq
        last_key = json.loads(queue.pending(stored[-2])[0].message_json)["key"]
        assert json.loads(channel.aggregate_json) == {"last": last_key}
    finally:
        queue.close()


def cloud_write(seq: int, patch: dict[str, Any], channel: str = "ui_cmds") -> PublishItem:
    return PublishItem(
        channel, aggregate_json=json.dumps(patch), no_datapoints=True, channel_write_seq=seq
    )


def test_a_cloud_write_is_applied_once_and_queued_for_the_cloud_in_order(db: Path) -> None:
    queue = DurableQueue(db)
    try:
        queue.publish("ui_cmds", "", '{"cmds": {"a": 1}}')
        first = queue.apply_cloud_write(cloud_write(1, {"cmds": {"b": 2}}))
        assert not first.duplicate
        assert json.loads(first.aggregate_json) == {"cmds": {"a": 1, "b": 2}}
        again = queue.apply_cloud_write(cloud_write(1, {"cmds": {"b": 99}}))
        assert again.duplicate
        assert json.loads(again.aggregate_json) == first_aggregate(queue)
        older = queue.apply_cloud_write(cloud_write(1, {"cmds": {"c": 3}}))
        assert older.duplicate
        records = queue.pending()
        assert [(r.seq, r.channel_write_seq, r.no_datapoints) for r in records] == [
            (1, 0, False),
            (2, 1, True),
        ]
        assert queue.stats().last_applied_write_seq == 1
    finally:
        queue.close()
    reopened = DurableQueue(db)  # the applied mark is durable: a resend after a restart
    try:
        assert reopened.apply_cloud_write(cloud_write(1, {"cmds": {"b": 5}})).duplicate
        assert reopened.apply_cloud_write(cloud_write(7, {"cmds": {"b": 7}})).seq == 3
        assert reopened.stats().last_applied_write_seq == 7
    finally:
        reopened.close()


def first_aggregate(queue: DurableQueue) -> Any:
    return json.loads(queue.aggregate("ui_cmds")[0])


def test_a_cloud_write_the_queue_cannot_take_is_not_marked_applied(db: Path) -> None:
    limits = QueueLimits(max_records=1, policy=FullPolicy.REFUSE_NEW)
    queue = DurableQueue(db, limits)
    try:
        queue.publish("tank", msg(level=1))
        with pytest.raises(QueueFullError):
            queue.apply_cloud_write(cloud_write(1, {"x": 1}, "settings"))
        assert queue.stats().last_applied_write_seq == 0
        assert queue.aggregate("settings")[0] == "{}"
        with pytest.raises(InvalidPayloadError):
            queue.apply_cloud_write(
                PublishItem("bad channel!", aggregate_json="{}", channel_write_seq=2)
            )
    finally:
        queue.close()
