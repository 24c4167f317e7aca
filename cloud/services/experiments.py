"""Experiments as ingest sees them: the one running now, if any."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.models import Experiment

__all__ = ["running_experiment"]


async def running_experiment(session: AsyncSession) -> Experiment | None:
    """The most recently started experiment that has not stopped."""
    return await session.scalar(
        select(Experiment)
        .where(Experiment.stopped_at.is_(None))
        .order_by(Experiment.started_at.desc())
        .limit(1)
    )
