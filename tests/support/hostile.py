"""Hostile inputs for the cloud's doors, generated from a seed (the same seed, the same inputs).

Each generator yields inputs built three ways: valid messages with their bytes mutated (bit
flips, truncation, insertion, splicing two messages), structurally valid messages carrying
extreme or wrong values (huge, negative and repeated seqs, NaN, deep nesting, odd Unicode,
timestamps out of range), and raw noise.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator
from typing import Any

from revlink.uplink.v1 import uplink_pb2 as pb

__all__ = ["telemetry_texts", "uplink_frames"]

_WEIRD_TEXT = [
    "",
    "\x00",
    "\ud7ff",
    "é" * 300,
    "a.b",
    "$fields",
    "../..",
    "\u202e",
    "x" * 5000,
    "🙂",
]
_WEIRD_NUMBERS: list[Any] = [
    0,
    -1,
    2**63,
    2**64 + 1,
    -(2**63) - 1,
    1e308,
    -1e308,
    5e-324,
    float("nan"),
    float("inf"),
    True,
    None,
]


def _value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(9 if depth < 12 else 5)
    if kind == 0:
        return rng.choice(_WEIRD_NUMBERS)
    if kind == 1:
        return rng.uniform(-1e6, 1e6)
    if kind == 2:
        return rng.choice(_WEIRD_TEXT)
    if kind == 3:
        return rng.randrange(-(2**70), 2**70)
    if kind == 4:
        return None
    if kind in (5, 6):
        return {
            rng.choice(_WEIRD_TEXT) + str(i): _value(rng, depth + 1)
            for i in range(rng.randrange(4))
        }
    return [_value(rng, depth + 1) for _ in range(rng.randrange(4))]


def _dumps(value: Any) -> str:
    return json.dumps(value, allow_nan=True)


def _mutate(rng: random.Random, data: bytes, other: bytes) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randrange(1, 6)):
        choice = rng.randrange(5)
        if choice == 0 and buf:  # flip a bit
            i = rng.randrange(len(buf))
            buf[i] ^= 1 << rng.randrange(8)
        elif choice == 1 and buf:  # cut
            del buf[rng.randrange(len(buf)) :]
        elif choice == 2:  # insert noise
            i = rng.randrange(len(buf) + 1)
            buf[i:i] = rng.randbytes(rng.randrange(1, 16))
        elif choice == 3:  # splice
            buf = buf[: rng.randrange(len(buf) + 1)] + other[rng.randrange(len(other) + 1) :]
        elif buf:  # overwrite with a varint edge
            i = rng.randrange(len(buf))
            buf[i : i + 1] = rng.choice([b"\xff" * 10, b"\x80", b"\x00", b"\x7f"])
    return bytes(buf)


def _record(rng: random.Random, seq: int) -> pb.Record:
    rec = pb.Record(seq=seq, channel=rng.choice(["tank", "t", *_WEIRD_TEXT]))
    shape = rng.randrange(4)
    if shape in (0, 1):
        rec.message_json = _dumps(_value(rng)) if rng.random() < 0.9 else rng.choice(_WEIRD_TEXT)
    if shape in (1, 2):
        rec.aggregate_json = _dumps(_value(rng))
        rec.replace_aggregate = rng.random() < 0.3
    if rng.random() < 0.9:
        rec.source_time.seconds = rng.choice(
            [0, -62135596801, 253402300800, 1_790_000_000, rng.randrange(-(2**40), 2**40)]
        )
        rec.source_time.nanos = rng.choice([0, 999_999_999, rng.randrange(2**31 - 1)])
    return rec


def _structured(rng: random.Random) -> pb.DeviceFrame:
    kind = rng.randrange(10)
    if kind == 0:
        return pb.DeviceFrame(hello=pb.Hello(max_batch_size=rng.randrange(2**32)))
    if kind == 1:
        return pb.DeviceFrame(
            command_receipt=pb.CommandReceipt(
                command_id=rng.choice([*_WEIRD_TEXT, str(uuid.uuid4())]),
                delivered=rng.random() < 0.5,
                detail=rng.choice(_WEIRD_TEXT),
            )
        )
    if kind == 2:
        return pb.DeviceFrame(
            channel_write_ack=pb.ChannelWriteAck(
                seq=rng.choice([0, 1, 2**64 - 1]), refused=rng.random() < 0.5
            )
        )
    if kind == 3:
        return pb.DeviceFrame()
    base = rng.choice([1, 1, 1000, 2**63, 2**64 - 10])
    seqs = [max(0, min(2**64 - 1, base + rng.randrange(-3, 6))) for _ in range(rng.randrange(8))]
    return pb.DeviceFrame(batch=pb.Batch(records=[_record(rng, s) for s in seqs]))


def uplink_frames(seed: int, count: int) -> Iterator[bytes]:
    """``count`` hostile DeviceFrame payloads (bytes of a binary WebSocket message)."""
    rng = random.Random(seed)
    corpus = [_structured(rng).SerializeToString() for _ in range(64)]
    for n in range(count):
        way = n % 3
        if way == 0:
            yield _structured(rng).SerializeToString()
        elif way == 1:
            yield _mutate(rng, rng.choice(corpus), rng.choice(corpus))
        else:
            yield rng.randbytes(rng.randrange(0, 200))


def _datapoint(rng: random.Random, sensors: list[str]) -> Any:
    if rng.random() < 0.2:
        return _value(rng)
    item: dict[str, Any] = {}
    if rng.random() < 0.9:
        item["value"] = rng.choice([_value(rng), rng.uniform(-100, 100)])
    if rng.random() < 0.9:
        item["event_public_id"] = rng.choice([*sensors, str(uuid.uuid4()), *_WEIRD_TEXT, 42, None])
    if rng.random() < 0.1:
        item[rng.choice(_WEIRD_TEXT)] = _value(rng)
    return item


def telemetry_texts(seed: int, count: int, sensors: list[str]) -> Iterator[str]:
    """``count`` hostile WebMACS telemetry messages (text WebSocket messages); some name the
    given sensors, so part of them is valid and stored."""
    rng = random.Random(seed)
    for n in range(count):
        way = n % 4
        if way in (0, 1):
            points = [_datapoint(rng, sensors) for _ in range(rng.randrange(6))]
            yield _dumps({"datapoints": points})
        elif way == 2:
            valid = _dumps({"datapoints": [_datapoint(rng, sensors)]}).encode()
            yield _mutate(rng, valid, b'{"datapoints":[').decode("utf-8", "replace")
        else:
            yield rng.choice(
                [
                    _dumps(_value(rng)),
                    "[" * rng.randrange(1, 3000),
                    '{"datapoints":' + "[" * 5000,
                    rng.randbytes(40).decode("latin-1"),
                    '{"datapoints": ' + _dumps([None] * rng.randrange(495, 505)) + "}",
                ]
            )
