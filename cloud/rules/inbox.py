"""What ingest adds for rules: one ``rule_inbox`` row per committed batch, in its transaction.

Rules are evaluated off the ingest hot path (see :mod:`cloud.rules.evaluator`), but nothing
may be lost between a commit and the evaluation: so each ingest transaction adds, beside its
datapoints, ONE row holding the values of the *watched* sensors (sensors with an enabled
rule, or every sensor while some webhook subscribes to ``sensor.reading``: then, of a sensor
without a rule, only the batch's latest value) as a compact JSON array
``[[sensor_id, ts, value], ...]``. When nothing in a batch is watched no row is
written at all, so ingest without rules costs one set lookup per value.

The watched set is kept in memory per process (:class:`RuleInbox`) and refreshed from the
database every ``REVLINK_RULE_REFRESH_SECONDS`` and at once after a rule changes in this
process; a rule saved on another replica applies here within that interval. Until the first
refresh succeeded every sensor counts as watched: a few extra rows are cheap, a missed value
is not.

Ingest services find the inbox in ``session.info`` (put there by :meth:`RuleInbox.attach` on
the process's session factory), so the doors need no extra parameter; a session without it
(a tool, a test of a service alone) adds nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import event, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from cloud.db.session import Database
from cloud.models import RuleInbox as InboxRow

__all__ = ["INBOX_KEY", "RuleInbox", "add_to_inbox"]

INBOX_KEY = "revlink.rule_inbox"


class RuleInbox:
    """The process's watched set, and the hook that wakes the evaluator after a commit."""

    def __init__(self, on_commit: Callable[[], None] | None = None) -> None:
        self.sensor_ids: frozenset[int] = frozenset()
        self.everything = True  # until the first refresh: see the module docstring
        self.loaded = False
        self.on_commit = on_commit

    def watch(self, sensor_ids: Iterable[int], everything: bool) -> None:
        self.sensor_ids = frozenset(sensor_ids)
        self.everything = everything
        self.loaded = True

    def watches(self, sensor_id: int) -> bool:
        return self.everything or sensor_id in self.sensor_ids

    def attach(self, db: Database) -> None:
        """Make every session of ``db`` carry this inbox (see the module docstring)."""
        db.sessions.configure(info={INBOX_KEY: self})

    def _committed(self, session: Session) -> None:
        if self.on_commit is not None:
            self.on_commit()


async def add_to_inbox(
    session: AsyncSession,
    points: Iterable[tuple[int, datetime, float]],
    received_at: datetime,
) -> int:
    """Add the watched ones of ``points`` ((sensor id, ts, value), in stored order) as one
    inbox row in the session's transaction; how many were added (0: no row)."""
    inbox: RuleInbox | None = session.info.get(INBOX_KEY)
    if inbox is None:
        return 0
    kept: list[list[Any]]
    if not inbox.loaded:
        kept = [[s, ts.isoformat(), v] for s, ts, v in points]
    elif inbox.everything:
        # For sensor.reading events a batch's latest value of each sensor is enough (they are
        # throttled to one per sensor every few seconds); rules still see every value.
        watched = inbox.sensor_ids
        kept, latest = [], {}
        for s, ts, v in points:
            if s in watched:
                kept.append([s, ts.isoformat(), v])
            else:
                latest[s] = (ts, v)
        kept.extend([s, ts.isoformat(), v] for s, (ts, v) in latest.items())
    else:
        watched = inbox.sensor_ids
        if not watched:
            return 0
        kept = [[s, ts.isoformat(), v] for s, ts, v in points if s in watched]
    if not kept:
        return 0
    await session.execute(insert(InboxRow).values(received_at=received_at, points=kept))
    event.listen(session.sync_session, "after_commit", inbox._committed, once=True)
    return len(kept)
