"""The uplink protocol core and record rules, without sockets or a database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from cloud.services.request_limits import TokenBuckets
from cloud.uplink.protocol import (
    PersistBatch,
    ReceiptReceived,
    SendFrame,
    StartOutbox,
    UplinkProtocol,
    WriteAnswered,
)
from cloud.uplink.records import InvalidRecordError, numeric_leaves
from revlink.channels import merge_patch
from revlink.uplink.v1 import uplink_pb2 as pb
from tests.rig.uplink import record

NOW = datetime(2026, 11, 24, tzinfo=UTC)


def protocol(last: int = 0, max_batch: int = 3) -> UplinkProtocol:
    p = UplinkProtocol(
        uuid.uuid4(), last, max_batch_size=max_batch, max_frame_bytes=4096, clock=lambda: NOW
    )
    p.receive(pb.DeviceFrame(hello=pb.Hello()).SerializeToString())
    return p


def batch(*records: pb.Record) -> bytes:
    return pb.DeviceFrame(batch=pb.Batch(records=records)).SerializeToString()


def frames(events: list[object]) -> list[pb.CloudFrame]:
    return [e.frame for e in events if isinstance(e, SendFrame)]


def test_welcome_carries_the_resume_point() -> None:
    p = UplinkProtocol(
        uuid.uuid4(), 41, max_batch_size=100, max_frame_bytes=9999, clock=lambda: NOW
    )
    hello = pb.Hello(last_applied_write_seq=12, last_command_seq=3)
    event, writes = p.receive(pb.DeviceFrame(hello=hello).SerializeToString())
    assert isinstance(event, SendFrame)
    assert writes == StartOutbox(12, 3)  # writes and commands resume after what it has
    welcome = event.frame.welcome
    assert (welcome.last_committed_seq, welcome.max_batch_size, welcome.max_frame_bytes) == (
        41,
        100,
        9999,
    )
    assert welcome.server_time.ToDatetime(tzinfo=UTC) == NOW


def test_batch_splits_into_duplicates_rejects_and_records() -> None:
    p = protocol(last=5)
    events = p.receive(
        batch(
            record(4, message={"v": 1}, ts=NOW),
            record(6, message={"v": 1}, ts=NOW),
            record(7, message="nope", ts=NOW),
        )
    )
    (persist,) = [e for e in events if isinstance(e, PersistBatch)]
    assert [r.seq for r in persist.records] == [6]
    assert (persist.up_to_seq, persist.duplicates, persist.rejected) == (7, 1, 1)
    (error,) = frames(events)
    assert (error.error.seq, error.error.code) == (7, pb.ERROR_CODE_INVALID_RECORD)
    (ack,) = frames(p.committed(7, 1, 1))
    assert ack.ack.up_to_seq == 7
    assert p.last_committed_seq == 7


def test_all_duplicates_are_acked_without_a_write() -> None:
    p = protocol(last=10)
    (event,) = p.receive(batch(record(9, message={}, ts=NOW), record(10, message={}, ts=NOW)))
    assert isinstance(event, SendFrame)
    assert (event.frame.ack.up_to_seq, event.frame.ack.duplicates) == (10, 2)


@pytest.mark.parametrize(("size", "accepted"), [(3, True), (4, False)])
def test_batch_size_limit_edge(size: int, accepted: bool) -> None:
    events = protocol(max_batch=3).receive(
        batch(*[record(s, message={}, ts=NOW) for s in range(1, size + 1)])
    )
    assert any(isinstance(e, PersistBatch) for e in events) is accepted
    if not accepted:
        assert frames(events)[0].error.code == pb.ERROR_CODE_BATCH_TOO_LARGE


def test_frame_size_limit_edge() -> None:
    p = protocol()
    exactly = pb.DeviceFrame(hello=pb.Hello(agent_version="x" * 4090)).SerializeToString()
    assert len(exactly) == 4096
    # At the limit the frame is read (and refused only as a second Hello).
    assert frames(p.receive(exactly))[0].error.code == pb.ERROR_CODE_PROTOCOL
    over = pb.DeviceFrame(hello=pb.Hello(agent_version="x" * 4091)).SerializeToString()
    assert len(over) == 4097
    assert frames(p.receive(over))[0].error.code == pb.ERROR_CODE_FRAME_TOO_LARGE


def test_numeric_leaves_and_ranges() -> None:
    doc = {"a": 1, "b": {"c": 2.5, "d": True, "e": "3"}, "f": [1, 2], "g": None}
    assert list(numeric_leaves("ch", doc)) == [("ch.a", 1.0), ("ch.b.c", 2.5)]
    with pytest.raises(InvalidRecordError, match=r"ch\.huge is beyond a float"):
        list(numeric_leaves("ch", {"huge": 10**400}))
    # JSON's 1e400 parses to an infinite float; 1e291 is a float, but past what a value keeps.
    with pytest.raises(InvalidRecordError, match=r"ch\.x\.y is beyond a float"):
        numeric_leaves("ch", {"x": {"y": float("inf")}})
    for big in (1e291, -1e291, 10**291):
        with pytest.raises(InvalidRecordError, match=r"ch.v is beyond ±1e\+290"):
            numeric_leaves("ch", {"v": big})
    assert numeric_leaves("ch", {"v": 1e290, "w": -(10**290)}) == [
        ("ch.v", 1e290),
        ("ch.w", -1e290),
    ]


def test_merge_patch_rfc7396() -> None:
    target = {"a": "b", "c": {"d": "e", "f": "g"}}
    patch = {"a": "z", "c": {"f": None}}
    assert merge_patch(target, patch) == {"a": "z", "c": {"d": "e"}}
    assert merge_patch({"a": [1]}, {"a": {"b": 1}}) == {"a": {"b": 1}}
    assert target == {"a": "b", "c": {"d": "e", "f": "g"}}  # not mutated


def test_write_acks_name_the_write_and_the_devices_reason() -> None:
    p = UplinkProtocol(uuid.uuid4(), 0, max_batch_size=3, max_frame_bytes=4096, clock=lambda: NOW)

    def answer(**fields: object) -> list[object]:
        ack = pb.ChannelWriteAck(**fields)  # type: ignore[arg-type]
        return list(p.receive(pb.DeviceFrame(channel_write_ack=ack).SerializeToString()))

    (early,) = frames(answer(seq=1))
    assert early.error.code == pb.ERROR_CODE_PROTOCOL
    p.receive(pb.DeviceFrame(hello=pb.Hello()).SerializeToString())
    assert answer(seq=3) == [WriteAnswered(3, "")]
    assert answer(seq=4, refused=True, detail="queue full") == [WriteAnswered(4, "queue full")]
    assert answer(seq=5, refused=True) == [WriteAnswered(5, "refused by the device")]
    (unnumbered,) = frames(answer(seq=0))
    assert unnumbered.error.code == pb.ERROR_CODE_MALFORMED_FRAME


def test_a_device_past_its_record_rate_gets_rate_limited_with_the_wait_and_nothing_stored() -> None:
    clock = [0.0]
    limits = TokenBuckets(100.0, 4, clock=lambda: clock[0])
    device = uuid.uuid4()

    def connect(last: int) -> UplinkProtocol:
        p = UplinkProtocol(
            device, last, max_batch_size=4, max_frame_bytes=4096, clock=lambda: NOW, limits=limits
        )
        p.receive(pb.DeviceFrame(hello=pb.Hello()).SerializeToString())
        return p

    def rec(seq: int) -> pb.Record:
        return record(seq, message={"v": seq}, ts=NOW)

    p = connect(0)
    [persist] = p.receive(batch(*(rec(s) for s in range(1, 4))))  # 3 of the burst of 4
    assert isinstance(persist, PersistBatch)
    p.committed(3, 0, 0)
    [refused] = frames(p.receive(batch(rec(4), rec(5))))  # 2 > the 1 left
    assert refused.error.code == pb.ERROR_CODE_RATE_LIMITED
    assert (refused.error.seq, refused.error.retry_after_ms) == (0, 10)  # 1 record at 100/s
    assert "nothing of this batch was stored" in refused.error.message
    # A new connection of the same device shares the bucket: reconnecting buys nothing.
    p = connect(3)
    assert frames(p.receive(batch(rec(4), rec(5))))[0].error.retry_after_ms == 10
    clock[0] += 0.01
    [persist] = p.receive(batch(rec(4), rec(5)))
    assert isinstance(persist, PersistBatch)
    assert persist.up_to_seq == 5


def test_what_the_database_could_never_keep_is_refused_or_cleaned_at_the_door() -> None:
    p = protocol(max_batch=5)
    events = p.receive(
        batch(
            record(1, message={"note": "a\u0000b"}, ts=NOW),  # jsonb cannot hold NUL
            record(2**63, message={"v": 1}, ts=NOW),  # beyond BIGINT
            record(3, message={"v": 1}, ts=NOW),
        )
    )
    errors = [f.error for f in frames(events)]
    assert [(e.code, e.seq) for e in errors] == [
        (pb.ERROR_CODE_INVALID_RECORD, 1),
        (pb.ERROR_CODE_INVALID_RECORD, 2**63),
    ]
    assert "NUL" in errors[0].message
    [persist] = [e for e in events if isinstance(e, PersistBatch)]
    assert [r.seq for r in persist.records] == [3]
    bad_ack = pb.ChannelWriteAck(seq=2**64 - 1, refused=True)
    [refused] = frames(p.receive(pb.DeviceFrame(channel_write_ack=bad_ack).SerializeToString()))
    assert refused.error.code == pb.ERROR_CODE_MALFORMED_FRAME
    nul_ack = pb.ChannelWriteAck(seq=7, refused=True, detail="no\u0000" + "x" * 3000)
    [answered] = p.receive(pb.DeviceFrame(channel_write_ack=nul_ack).SerializeToString())
    assert isinstance(answered, WriteAnswered)
    assert "\u0000" not in answered.refused
    assert len(answered.refused) == 1000
    receipt = pb.CommandReceipt(command_id="c", detail="bad\u0000")
    [got] = p.receive(pb.DeviceFrame(command_receipt=receipt).SerializeToString())
    assert isinstance(got, ReceiptReceived)
    assert got.receipt.detail == "bad\ufffd"
