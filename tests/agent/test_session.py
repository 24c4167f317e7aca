"""The agent's uplink session core and backoff policy, without sockets."""

from __future__ import annotations

import random
from dataclasses import dataclass

import pytest

from bridges.agent.uplink.backoff import Backoff, CloseKind, classify_close
from bridges.agent.uplink.session import (
    Acked,
    CloudError,
    Renumber,
    SessionProtocolError,
    UplinkSession,
    Welcomed,
    WriteArrived,
)
from revlink.uplink.v1 import uplink_pb2 as pb


@dataclass(frozen=True)
class Rec:
    seq: int
    channel: str = "tank"
    message_json: str = '{"v": 1}'
    aggregate_json: str = ""
    replace_aggregate: bool = False
    source_time_ns: int = 1_700_000_000_000_000_000
    no_datapoints: bool = False
    channel_write_seq: int = 0


def welcome(committed: int = 0, max_batch: int = 500, max_frame: int = 1 << 20) -> bytes:
    frame = pb.CloudFrame(
        welcome=pb.Welcome(
            device_id="d",
            last_committed_seq=committed,
            max_batch_size=max_batch,
            max_frame_bytes=max_frame,
        )
    )
    return frame.SerializeToString()


def ack(up_to: int) -> bytes:
    return pb.CloudFrame(ack=pb.Ack(up_to_seq=up_to)).SerializeToString()


def opened(committed: int = 0, *, synced: bool = True, window: int = 2) -> UplinkSession:
    session = UplinkSession(agent_version="t", max_batch_size=3, window=window)
    hello = pb.DeviceFrame.FromString(session.start(5, synced=synced).data)
    assert hello.hello.last_enqueued_seq == 5
    session.receive(welcome(committed))
    return session


def test_batches_respect_size_window_and_acks() -> None:
    session = opened()
    first = session.batch([Rec(s) for s in range(1, 6)])
    assert first is not None
    assert [r.seq for r in pb.DeviceFrame.FromString(first.data).batch.records] == [1, 2, 3]
    assert session.batch([Rec(4)]) is not None
    assert not session.can_send  # window of 2 batches in flight
    assert session.batch([Rec(5)]) is None
    assert session.receive(ack(3)) == [Acked(3, 0, 0)]
    assert session.can_send
    with pytest.raises(SessionProtocolError, match="beyond what was sent"):
        session.receive(ack(99))


def test_frame_budget_splits_batches() -> None:
    session = UplinkSession(agent_version="t", max_batch_size=100)
    session.start(0, synced=True)
    session.receive(welcome(max_frame=1024))
    big = [Rec(s, message_json='{"x": "' + "y" * 300 + '"}') for s in range(1, 10)]
    out = session.batch(big)
    assert out is not None
    assert len(out.data) <= 1024
    assert 1 < len(pb.DeviceFrame.FromString(out.data).batch.records) < 9


def test_unsynced_queue_is_renumbered_past_the_cloud() -> None:
    session = UplinkSession(agent_version="t", max_batch_size=10)
    session.start(3, synced=False)
    events = session.receive(welcome(committed=1000))
    assert events[0] == Renumber(1000)
    assert Welcomed("d", 1000) in events


def test_synced_queue_is_never_renumbered() -> None:
    """Records at or below the cloud's mark were committed; only their ack was lost."""
    session = UplinkSession(agent_version="t", max_batch_size=10)
    session.start(1000, synced=True)
    events = session.receive(welcome(committed=1000))
    assert not any(isinstance(e, Renumber) for e in events)
    assert Acked(1000, 0, 0) in events
    assert session.sent_up_to == 1000


def test_errors_from_the_cloud() -> None:
    session = opened()
    record_error = pb.CloudFrame(
        error=pb.Error(code=pb.ERROR_CODE_INVALID_RECORD, seq=4, message="bad")
    )
    assert session.receive(record_error.SerializeToString()) == [
        CloudError(pb.ERROR_CODE_INVALID_RECORD, 4, "bad")
    ]
    refused = pb.CloudFrame(error=pb.Error(code=pb.ERROR_CODE_BATCH_TOO_LARGE, message="big"))
    with pytest.raises(SessionProtocolError, match="refused a frame"):
        session.receive(refused.SerializeToString())
    with pytest.raises(SessionProtocolError, match="undecodable"):
        session.receive(b"\xff\xff")


def test_full_jitter_backoff_is_capped_and_resets() -> None:
    backoff = Backoff(base_s=0.1, cap_s=2.0, rng=random.Random(7))
    delays = [backoff.next_delay() for _ in range(50)]
    assert all(0 <= d <= 2.0 for d in delays)
    assert max(delays[10:]) > 1.0  # reached the cap's range
    backoff.reset()
    assert backoff.next_delay() <= 0.1
    assert 30 <= backoff.next_delay(CloseKind.REPLACED) <= 60


@pytest.mark.parametrize(
    ("code", "reason", "kind"),
    [
        (1008, "replaced by a newer connection for this device", CloseKind.REPLACED),
        (1008, "device token revoked", CloseKind.REFUSED),
        (1011, "storage failed", CloseKind.TRANSIENT),
        (None, "", CloseKind.TRANSIENT),
    ],
)
def test_close_classification(code: int | None, reason: str, kind: CloseKind) -> None:
    assert classify_close(code, reason) is kind


def test_channel_writes_arrive_in_order_and_are_answered_one_by_one() -> None:
    session = UplinkSession(agent_version="t", max_batch_size=10)
    hello = pb.DeviceFrame.FromString(session.start(0, synced=True, last_applied_write_seq=7).data)
    assert hello.hello.last_applied_write_seq == 7
    write = pb.ChannelWrite(seq=8, write_id="w", channel="ui_cmds", patch_json='{"cmds": {}}')
    frame = pb.CloudFrame(channel_write=write).SerializeToString()
    with pytest.raises(SessionProtocolError, match="before Welcome"):
        session.receive(frame)
    session.receive(welcome())
    assert session.receive(frame) == [WriteArrived(write)]
    applied = pb.DeviceFrame.FromString(session.write_ack(8).data).channel_write_ack
    assert (applied.seq, applied.refused, applied.detail) == (8, False, "")
    refused = pb.DeviceFrame.FromString(session.write_ack(9, refused="queue full").data)
    assert (refused.channel_write_ack.refused, refused.channel_write_ack.detail) == (
        True,
        "queue full",
    )


def test_the_record_of_an_applied_write_carries_its_seq_up() -> None:
    session = opened()
    out = session.batch([Rec(1), Rec(2, aggregate_json='{"a": 1}', channel_write_seq=4)])
    assert out is not None
    records = pb.DeviceFrame.FromString(out.data).batch.records
    assert [r.channel_write_seq for r in records] == [0, 4]
