"""The background rule evaluator: inbox rows in, rule state and actions out, once per cluster.

Started in the cloud's lifespan (:class:`RuleEngine`). Each pass is ONE transaction that
takes a cluster-wide lease (``pg_try_advisory_xact_lock`` on PostgreSQL; SQLite has a single
process), reads up to :data:`INBOX_BATCH_ROWS` inbox rows in id order, evaluates every value
against the enabled rules of its sensor (rows locked ``FOR UPDATE``, so an edit waits for the
pass or the pass for the edit), writes all actions and the rules' new state, deletes the rows
and commits. So a rule fires exactly once even with two evaluators, and a crash mid-way
rolls everything back: the rows are evaluated again, nothing is lost or done twice. Live
notification pushes and device wake-ups happen only after that commit (on PostgreSQL the
notifications go to every replica through ``NOTIFY`` in that transaction: cloud.live.fanout).

A pass runs at once when an ingest commit in this process added an inbox row, and otherwise
every ``REVLINK_RULE_POLL_SECONDS`` (for rows other replicas added). The watched set of
:mod:`cloud.rules.inbox` is refreshed every ``REVLINK_RULE_REFRESH_SECONDS``.

Order: values are evaluated in inbox-row order, then in the order the batch stored them. Two
batches committed concurrently by different connections have no order of their own; one
sensor's values come through one connection (a device's uplink) and keep theirs.

``sensor.reading`` webhook events: while a webhook subscribes to them, every stored value
reaches the inbox and the evaluator queues at most one event per sensor every
``REVLINK_WEBHOOK_READING_INTERVAL_SECONDS`` (WebMACS's 5 s); when each sensor last had one
is kept in ``rule_reading_throttle``, so the throttle holds across replicas.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy import delete, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.core.config import CloudSettings
from cloud.db.session import Database
from cloud.live.fanout import publish
from cloud.live.hub import LiveHub
from cloud.models import Rule, RuleInbox, RuleOperator, RuleReadingThrottle, Sensor
from cloud.rules.actions import AfterCommit, Firing, WebhookEvents, take_action
from cloud.rules.conditions import Condition, RuleSpec, TriggerState, scan
from cloud.rules.inbox import RuleInbox as Watched
from cloud.rules.store import watched_sensor_ids
from cloud.uplink.signals import DeviceSignals
from cloud.webhooks.events import WebhookEvent, subscribed_events

__all__ = ["INBOX_BATCH_ROWS", "LEASE_KEY", "RuleEngine", "evaluate_rows"]

log = structlog.get_logger(__name__)

# Inbox rows per pass (each row is one ingest batch, at most 500 values): bounds one
# transaction's size; a longer backlog takes more passes, run back to back.
INBOX_BATCH_ROWS = 100
# After a wake-up the evaluator waits this long, so one pass takes the batches of a busy
# ingest together instead of one transaction per batch competing with ingest for the loop.
COALESCE_SECONDS = 0.1
# The advisory lock every replica's evaluator contends for ("rule" in ASCII).
LEASE_KEY = 0x72756C65


@dataclass(frozen=True)
class _Point:
    sensor_id: int
    ts: str
    value: float
    received_at: datetime


def _points(rows: Sequence[RuleInbox]) -> list[_Point]:
    points: list[_Point] = []
    for row in rows:
        for item in row.points:
            try:
                sensor_id, ts, value = item
                points.append(_Point(int(sensor_id), str(ts), float(value), row.received_at))
            except (TypeError, ValueError):  # only ingest writes these; skip, never block
                log.error("rules.inbox_point_malformed", row=row.id, point=repr(item)[:80])
    return points


async def evaluate_rows(
    session: AsyncSession, rows: Sequence[RuleInbox], now: datetime, reading_interval: float
) -> AfterCommit:
    """Evaluate ``rows`` in the session's transaction; what to do after it commits."""
    after = AfterCommit()
    points = _points(rows)
    sensor_ids = {p.sensor_id for p in points}
    if not sensor_ids:
        return after
    rules = list(
        await session.scalars(
            select(Rule)
            .where(Rule.sensor_id.in_(sensor_ids), Rule.enabled)
            .order_by(Rule.id)
            .with_for_update()
        )
    )
    readings = WebhookEvent.SENSOR_READING in await subscribed_events(session)
    wanted = {r.sensor_id for r in rules} | (sensor_ids if readings else set())
    sensors = {s.id: s for s in await session.scalars(select(Sensor).where(Sensor.id.in_(wanted)))}
    # Per sensor its values in stored order; each rule scans its sensor's values, and the
    # firings are then acted on in the order of the values (ties: by rule id, as rules load).
    positions: dict[int, list[int]] = defaultdict(list)
    for index, point in enumerate(points):
        positions[point.sensor_id].append(index)
    series: dict[int, tuple[list[float], list[datetime]]] = {
        sensor_id: ([points[i].value for i in where], [points[i].received_at for i in where])
        for sensor_id, where in positions.items()
    }
    states = {r.id: TriggerState(r.armed, r.last_triggered_at) for r in rules}
    firings: list[tuple[int, int, Rule]] = []
    for rule in rules:
        spec = RuleSpec(
            Condition(RuleOperator(rule.operator), rule.threshold, rule.threshold_high),
            rule.cooldown_seconds,
            rule.enabled,
        )
        values, times = series[rule.sensor_id]
        states[rule.id], hits = scan(spec, states[rule.id], values, times)
        where = positions[rule.sensor_id]
        firings.extend((where[hit], rule.id, rule) for hit in hits)
    firings.sort(key=lambda firing: firing[:2])
    webhooks = WebhookEvents()
    for index, _, rule in firings:
        point = points[index]
        firing = Firing(rule, sensors[rule.sensor_id], point.value, point.ts, point.received_at)
        await take_action(session, firing, now, after, webhooks)
    for rule in rules:
        state = states[rule.id]
        if (rule.armed, rule.last_triggered_at) != (state.armed, state.last_triggered_at):
            rule.armed, rule.last_triggered_at = state.armed, state.last_triggered_at
    if readings:
        await _reading_events(session, points, sensors, reading_interval, webhooks)
    await webhooks.queue(session, now)
    await session.flush()
    return after


async def _reading_events(
    session: AsyncSession,
    points: list[_Point],
    sensors: dict[int, Sensor],
    interval: float,
    webhooks: WebhookEvents,
) -> None:
    """At most one ``sensor.reading`` per sensor per ``interval`` (by receive time)."""
    throttles = {
        t.sensor_id: t
        for t in await session.scalars(
            select(RuleReadingThrottle)
            .where(RuleReadingThrottle.sensor_id.in_(sensors))
            .with_for_update()
        )
    }
    gap = timedelta(seconds=interval)
    for point in points:
        sensor = sensors.get(point.sensor_id)
        if sensor is None:  # deleted since the value was stored
            continue
        throttle = throttles.get(sensor.id)
        if throttle is not None and point.received_at - throttle.sent_at < gap:
            continue
        data = {
            "sensor": str(sensor.public_id),
            "sensor_name": sensor.name,
            "value": point.value,
            "timestamp": point.ts,
        }
        webhooks.pending.append((WebhookEvent.SENSOR_READING, data))
        if throttle is None:
            throttle = RuleReadingThrottle(sensor_id=sensor.id, sent_at=point.received_at)
            session.add(throttle)
            throttles[sensor.id] = throttle
        else:
            throttle.sent_at = point.received_at


class RuleEngine:
    """The process's inbox (watched set) and its evaluator and refresher tasks."""

    def __init__(
        self,
        db: Database,
        live: LiveHub,
        signals: DeviceSignals,
        settings: CloudSettings,
        *,
        fan_out: bool = False,
    ) -> None:
        """``fan_out``: notifications go to every replica's stream clients through the
        database (:mod:`cloud.live.fanout`) instead of to ``live`` alone."""
        self.db = db
        self.live = live
        self.fan_out = fan_out
        self.signals = signals
        self.settings = settings
        self._wake = asyncio.Event()
        self.inbox = Watched(on_commit=self._wake.set)
        self._tasks: list[asyncio.Task[None]] = []

    def wake(self) -> None:
        self._wake.set()

    async def refresh(self) -> None:
        """Reload the watched set (at once after a local rule change; see the inbox)."""
        async with self.db.sessions() as session:
            ids = await watched_sensor_ids(session)
            everything = WebhookEvent.SENSOR_READING in await subscribed_events(session)
        self.inbox.watch(ids, everything)

    async def evaluate_once(self, limit: int = INBOX_BATCH_ROWS) -> int:
        """One pass; how many inbox rows it consumed (0: none, or another replica holds the
        lease)."""
        async with self.db.transaction() as session:
            if self.db.is_postgres:
                leased = await session.scalar(select(func.pg_try_advisory_xact_lock(LEASE_KEY)))
                if not leased:
                    return 0
            rows = list(
                await session.scalars(select(RuleInbox).order_by(RuleInbox.id).limit(limit))
            )
            if not rows:
                return 0
            after = await evaluate_rows(
                session,
                rows,
                datetime.now(UTC),
                self.settings.webhook_reading_interval_seconds,
            )
            await session.execute(delete(RuleInbox).where(RuleInbox.id.in_([r.id for r in rows])))
            if self.fan_out:
                for message in after.notifications:
                    await publish(session, message)
                after.notifications.clear()
        for message in after.notifications:
            self.live.announce(message)
        for device_id in after.devices:
            self.signals.notify(device_id)
        return len(rows)

    async def _evaluate_forever(self) -> None:
        poll = self.settings.rule_poll_seconds
        while True:
            self._wake.clear()
            try:
                if await self.evaluate_once() == INBOX_BATCH_ROWS:
                    continue  # a backlog: the next pass at once
            except (SQLAlchemyError, OSError):
                log.warning("rules.pass_failed", exc_info=True)  # rows stay; retried
            except Exception:
                log.exception("rules.pass_failed")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(poll):
                    await self._wake.wait()
                await asyncio.sleep(COALESCE_SECONDS)

    async def _refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.rule_refresh_seconds)
            try:
                await self.refresh()
            except Exception:
                log.warning("rules.refresh_failed", exc_info=True)  # keeps the last set

    async def start(self, *, watch: bool = True, evaluate: bool = True) -> None:
        """``watch``: this process ingests, so its commits fill the inbox for the watched
        sensors; ``evaluate``: it also runs an evaluator. An API replica whose rules run in a
        ``revlink cloud worker`` watches only; the worker only evaluates."""
        self._tasks = []
        if watch:
            self.inbox.attach(self.db)
            try:
                await self.refresh()
            except Exception:
                # Watch everything until a refresh works: extra inbox rows, never a missed value.
                log.warning("rules.refresh_failed", exc_info=True)
            self._tasks.append(asyncio.create_task(self._refresh_forever(), name="rule-refresher"))
        if evaluate:
            self._tasks.append(asyncio.create_task(self._evaluate_forever(), name="rule-evaluator"))

    @property
    def running(self) -> bool:
        """Every task this engine started is still alive."""
        return bool(self._tasks) and not any(task.done() for task in self._tasks)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
