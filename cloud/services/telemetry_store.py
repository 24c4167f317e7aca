"""Store a validated WebMACS telemetry batch and announce it: the one flow behind both of
WebMACS's ways in (the ``/ws/controller/telemetry`` door and ``POST /api/v1/datapoints``)."""

from __future__ import annotations

import structlog

from cloud.services import telemetry
from cloud.state import CloudState

__all__ = ["store_batch"]

log = structlog.get_logger(__name__)


async def store_batch(
    state: CloudState, batch: telemetry.ParsedBatch, door: str, sender: object = None
) -> telemetry.IngestResult:
    """Commit the batch's good items (in a transaction it may share with other batches, see
    cloud.services.telemetry_queue), then publish them live and count them (``door``
    labels the metrics; ``sender``'s batches are stored in the order they come); the refused
    items come back, named."""
    if batch.accepted:
        result = await state.telemetry.commit(batch, sender)
    else:
        result = telemetry.IngestResult(batch.total, 0, [], batch.refused)
    # Committed: now the side effects, which never wait on a subscriber.
    metrics = state.metrics
    if result.stored:
        state.live.publish(result.live)
        metrics.ingested_records.labels(door=door).inc(result.stored)
        metrics.ingested_batches.labels(door=door).inc()
    if result.refused:
        metrics.rejected_records.labels(door=door).inc(len(result.refused))
        log.info(
            "telemetry_items_refused",
            door=door,
            refused=len(result.refused),
            total=result.total,
            reasons=[f"#{r.index} {r.reason}" for r in result.refused[:20]],
        )
    return result
