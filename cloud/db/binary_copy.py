"""Datapoint rows in PostgreSQL's binary COPY format, for the ingest hot path.

asyncpg's ``copy_records_to_table`` encodes every field of every row through its codecs, a
timestamp costing datetime arithmetic each time; that was a quarter of the cloud's CPU under
full ingest. A datapoint row has one fixed shape, so it is packed here with one precompiled
struct call, and the timestamp, shared by every value of one record (or of one telemetry
message), is converted once per run of equal rows. The bytes go to asyncpg's
``copy_to_table(..., format="binary")``.

The format (PostgreSQL docs, "COPY", binary format): a signature and two zero int32s; per
row an int16 field count, then per field an int32 byte length (-1 for NULL) and the value in
network order (int4; timestamptz as int64 microseconds since 2000-01-01 UTC; float8); an
int16 -1 at the end.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

__all__ = ["COPY_COLUMNS", "encode_datapoints"]

COPY_COLUMNS = ("sensor_id", "ts", "value", "experiment_id")

_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
_TRAILER = struct.pack(">h", -1)
_POSTGRES_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
# Field count 4; sensor_id int4; ts int64; value float8; experiment_id int4, or NULL.
_WITH_EXPERIMENT = struct.Struct(">hiiiqidii").pack
_WITHOUT_EXPERIMENT = struct.Struct(">hiiiqidi").pack


def encode_datapoints(
    rows: Iterable[tuple[int, datetime, float, int | None]],
) -> bytearray:
    """``(sensor_id, ts, value, experiment_id)`` rows as one binary COPY stream.

    ``ts`` must be timezone-aware (every door stores UTC). The result is a bytearray, which
    asyncpg takes as data (a ``bytes`` object would be taken for a file name).
    """
    out = bytearray(_HEADER)
    last: datetime | None = None
    micros = 0
    for sensor_id, ts, value, experiment_id in rows:
        if ts is not last:
            last = ts
            micros = (ts - _POSTGRES_EPOCH) // _MICROSECOND
        if experiment_id is None:
            out += _WITHOUT_EXPERIMENT(4, 4, sensor_id, 8, micros, 8, value, -1)
        else:
            out += _WITH_EXPERIMENT(4, 4, sensor_id, 8, micros, 8, value, 4, experiment_id)
    out += _TRAILER
    return out
