"""The agent's durable queue: every published record stays on disk until the cloud acks it.

:mod:`.admission` decides what a full queue does (pure); :mod:`.store` is the SQLite store
that also keeps each channel's aggregate and the idempotency keys of recent publishes.
"""

from bridges.agent.queue.admission import Admission, FullPolicy, QueueLimits, plan_admission
from bridges.agent.queue.store import (
    ChannelState,
    DurableQueue,
    PublishItem,
    PublishResult,
    QueuedRecord,
    QueueFullError,
    QueueStats,
)

__all__ = [
    "Admission",
    "ChannelState",
    "DurableQueue",
    "FullPolicy",
    "PublishItem",
    "PublishResult",
    "QueueFullError",
    "QueueLimits",
    "QueueStats",
    "QueuedRecord",
    "plan_admission",
]
