"""The platform core: reads, writes, watchdog, schedules and counters over revpimodio2.

Everything runs on one asyncio loop: the IO cycle task and the gRPC handlers take turns, so
the revpimodio2 buffers never see two writers. Writes go to the process image at once
(shared_procimg: only the changed IOs, so other processes' bits survive); the cycle reads
the image, reports input changes, applies due schedules and expires leases.

Outputs have one owner: an output written under a lease belongs to it until the lease is
released or expires, and a write by anyone else (another lease, or no lease) is refused with
:class:`OutputOwnedError` naming the owner. Only :meth:`PlatformCore.take_over` moves an
output to another lease, and it is logged.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

import structlog

from bridges.platform.errors import InvalidValueError, NotWritableError
from bridges.platform.events import BRIDGE_START, EventLog, EventPage
from bridges.platform.feed import ChangeFeed, InputChange, Subscription
from bridges.platform.iotable import IOKind, IOSpec, IOTable, IOValue, check_value
from bridges.platform.leases import Lease, LeaseBook, Throttle, owned_error
from bridges.platform.pulses import Edge, EdgeCounter, EdgeCounters
from bridges.platform.schedules import PendingWrite, WriteSchedule

__all__ = ["PlatformCore", "SystemStatus"]

log = structlog.get_logger(__name__)

Assignment = tuple[IOSpec, object]


@dataclass(frozen=True, slots=True)
class SystemStatus:
    core_temperature_celsius: int
    cpu_frequency_mhz: int
    picontrol_running: bool
    io_cycle_ms: int
    rs485_error_count: int
    bridge_cycle_ms: int
    simulated: bool
    # No RevPi base module reports its supply voltage or power in the process image
    # (revpimodio2's core IOs: status, IO cycle, RS485 errors, temperature, frequency).
    supply_voltage_volts: float | None = None
    power_watts: float | None = None


class PlatformCore:
    def __init__(
        self,
        rpi: Any,
        table: IOTable,
        *,
        cycle_s: float = 0.02,
        simulated: bool = False,
        clock: Callable[[], float] = time.monotonic,
        event_log_size: int = 10_000,
    ) -> None:
        self.rpi = rpi
        self.table = table
        self.cycle_s = cycle_s
        self.simulated = simulated
        self._clock = clock
        self._feed = ChangeFeed()
        self._leases = LeaseBook()
        self._schedule = WriteSchedule()
        self._edges = EdgeCounters()
        self._events = EventLog(event_log_size)
        self._events.add(BRIDGE_START, time.time_ns())
        self._refusals = Throttle()  # the log hears of a refused writer once a minute
        self._inputs = table.inputs()
        self.rpi.readprocimg()
        self._snapshot: dict[str, IOValue] = self._values(self._inputs)

    # -- reading ---------------------------------------------------------------------------

    def _values(self, specs: Sequence[IOSpec]) -> dict[str, IOValue]:
        return {spec.name: self._value(spec) for spec in specs}

    def read(self, specs: Sequence[IOSpec]) -> list[IOValue]:
        """Current values of ``specs``, read fresh from the process image."""
        self.rpi.readprocimg()
        return [self._value(spec) for spec in specs]

    def _value(self, spec: IOSpec) -> IOValue:
        raw = self.rpi.io[spec.name].value
        return bool(raw) if spec.is_bit else int(raw)

    def pins(self, kind: IOKind, pins: Sequence[int]) -> list[IOSpec]:
        if not pins:
            raise InvalidValueError(f"no {kind.value} pins given")
        return [self.table.by_pin(kind, pin) for pin in pins]

    def names(self, names: Sequence[str]) -> list[IOSpec]:
        if not names:
            raise InvalidValueError("no IO names given")
        return [self.table.by_name(name) for name in names]

    # -- writing ---------------------------------------------------------------------------

    def validate(self, assignments: Sequence[Assignment]) -> list[tuple[IOSpec, IOValue]]:
        """Check every assignment before any is applied, so a bad one changes nothing."""
        checked = []
        for spec, value in assignments:
            if not spec.writable:
                what = "an input" if spec.is_input else "memory"
                raise NotWritableError(f"{spec.name} is {what} and cannot be written")
            checked.append((spec, check_value(spec, value)))
        return checked

    def write(self, assignments: Sequence[Assignment], lease_id: str | None = None) -> None:
        checked = self.validate(assignments)
        if lease_id:
            self._leases.get(lease_id)
        names = [spec.name for spec, _ in checked]
        self._check_owners(lease_id or None, names)
        self._schedule.cancel(names)
        self._apply(checked)
        self._leases.claim(lease_id or None, names)

    def _apply(self, checked: Sequence[tuple[IOSpec, IOValue]]) -> None:
        for spec, value in checked:
            self.rpi.io[spec.name].value = value
        self.rpi.writeprocimg()

    def schedule(
        self, assignments: Sequence[Assignment], delay_s: float, lease_id: str | None = None
    ) -> float:
        """Write after ``delay_s``; returns the due time as Unix seconds."""
        if delay_s < 0:
            raise InvalidValueError(f"delay must not be negative, not {delay_s}")
        checked = self.validate(assignments)
        if lease_id:
            self._leases.get(lease_id)
        self._check_owners(lease_id or None, [spec.name for spec, _ in checked])
        due = self._clock() + delay_s
        for spec, value in checked:
            self._schedule.add(PendingWrite(spec, value, due, lease_id or None))
        return time.time() + delay_s

    # -- leases ----------------------------------------------------------------------------

    def acquire_lease(self, holder: str, ttl_s: float) -> Lease:
        lease = self._leases.acquire(holder, ttl_s, self._clock())
        log.info("lease.acquired", lease_id=lease.lease_id, holder=lease.holder, ttl_s=ttl_s)
        return lease

    def renew_lease(self, lease_id: str, ttl_s: float | None = None) -> Lease:
        """Extend a lease; with ``ttl_s`` it lives that long without renewal from now on."""
        lease = self._leases.renew(lease_id, self._clock(), ttl_s)
        if ttl_s is not None:
            log.info("lease.resized", lease_id=lease_id, holder=lease.holder, ttl_s=ttl_s)
        return lease

    def release_lease(self, lease_id: str, restore_safe_values: bool) -> None:
        lease = self._leases.release(lease_id)
        if restore_safe_values:
            self._restore(lease)
        log.info("lease.released", lease_id=lease_id, restored=restore_safe_values)

    def lease_expiry_unix(self, lease: Lease) -> float:
        return time.time() + (lease.expires_at - self._clock())

    def owner(self, spec: IOSpec) -> Lease | None:
        """The lease that owns the output, None when it is unowned (and for inputs)."""
        return self._leases.owner(spec.name)

    def take_over(
        self, lease_id: str, specs: Sequence[IOSpec], reason: str
    ) -> list[tuple[IOSpec, Lease | None]]:
        """Move the outputs to ``lease_id``, whoever owns them (an operator's override).

        Answers each output with its previous owner; the previous owner's next write is
        refused, naming the new one. Logged at warning level, with the reason given.
        """
        if not specs:
            raise InvalidValueError("no outputs given to take over")
        for spec in specs:
            if not spec.writable:
                raise NotWritableError(f"{spec.name} is not an output and cannot be taken over")
        taker = self._leases.get(lease_id)
        previous = self._leases.take_over(lease_id, [spec.name for spec in specs])
        log.warning(
            "lease.takeover",
            to_holder=taker.holder,
            to_lease_id=lease_id,
            from_holders=sorted({lease.holder for lease in previous.values() if lease}),
            outputs=sorted(previous),
            previous={name: lease.holder if lease else "" for name, lease in previous.items()},
            reason=reason,
        )
        return [(spec, previous[spec.name]) for spec in specs]

    def _check_owners(self, lease_id: str | None, names: Sequence[str]) -> None:
        """Refuse the whole write when another lease owns any of ``names``."""
        conflicts = self._leases.conflicts(lease_id, names)
        if not conflicts:
            return
        writer = self._leases.get(lease_id).holder if lease_id else ""
        now = self._clock()
        for name, owner in conflicts:
            if self._refusals.due((name, writer, owner.lease_id), now):
                log.warning("output.write_refused", output=name, writer=writer, owner=owner.holder)
        raise owned_error(conflicts, writer, now, time.time())

    def _restore(self, lease: Lease) -> None:
        specs = [self.table.by_name(name) for name in sorted(lease.outputs)]
        self._schedule.cancel(spec.name for spec in specs)
        self._apply([(spec, spec.safe_value) for spec in specs])

    # -- counters --------------------------------------------------------------------------

    def read_counters(self, pins: Sequence[int]) -> list[int]:
        return [int(v) for v in self.read(self.pins(IOKind.COUNTER, pins))]

    def reset_counters(self, pins: Sequence[int]) -> None:
        for spec in self.pins(IOKind.COUNTER, pins):
            self.rpi.io[spec.name].reset()

    def start_pulse_counter(self, di_pin: int, edge: Edge, window_s: float) -> EdgeCounter:
        spec = self.table.by_pin(IOKind.DI, di_pin)
        return self._edges.start(spec.name, edge, window_s)

    def pulse_counter(self, counter_id: str) -> EdgeCounter:
        return self._edges.get(counter_id)

    def stop_pulse_counter(self, counter_id: str) -> EdgeCounter:
        return self._edges.stop(counter_id)

    def pulses_per_minute(self, counter: EdgeCounter) -> float:
        return counter.pulses_per_minute(self._clock())

    # -- events ----------------------------------------------------------------------------

    def events(
        self,
        events_from: int,
        di_pins: Sequence[int],
        edge: Edge,
        include_system: bool,
        include_di: bool = True,
    ) -> EventPage:
        """The event log from ``events_from`` on (see :class:`EventLog`)."""
        for pin in di_pins:
            self.table.by_pin(IOKind.DI, pin)  # an unknown pin is an error, not no events
        return self._events.read(events_from, di_pins, edge, include_system, include_di)

    # -- watching and the cycle ------------------------------------------------------------

    def watch(self, names: Collection[str] | None, send_initial: bool) -> Subscription:
        specs = self.names(list(names)) if names else self._inputs
        for spec in specs:
            if not spec.is_input:
                raise InvalidValueError(f"{spec.name} is not an input; only inputs can be watched")
        subscription = self._feed.subscribe({spec.name for spec in specs} if names else None)
        if send_initial:
            now_ns = time.time_ns()
            snapshot = [
                InputChange(s.name, s.kind, s.pin, None, self._snapshot[s.name], now_ns)
                for s in specs
            ]
            subscription.offer(snapshot)
        return subscription

    def end_watches(self) -> None:
        """End every WatchInputs stream normally (the bridge is stopping; clients resume)."""
        self._feed.end_streams()

    def cycle(self) -> list[InputChange]:
        """One IO cycle: read inputs, report changes, apply due writes, expire leases."""
        now = self._clock()
        self.rpi.readprocimg()
        wall_ns = time.time_ns()
        changes = []
        for spec in self._inputs:
            new = self._value(spec)
            old = self._snapshot[spec.name]
            if new != old:
                self._snapshot[spec.name] = new
                changes.append(InputChange(spec.name, spec.kind, spec.pin, old, new, wall_ns))
                if spec.is_bit:
                    self._edges.feed(spec.name, bool(old), bool(new), now, wall_ns)
                if spec.kind is IOKind.DI:
                    self._events.edge(spec.pin, spec.name, bool(new), wall_ns)
        if changes:
            self._feed.publish(changes)
        for write in self._schedule.pop_due(now):
            self._apply_due(write)
        for lease in self._leases.expired(now):
            log.warning(
                "lease.expired",
                lease_id=lease.lease_id,
                holder=lease.holder,
                outputs=sorted(lease.outputs),
            )
            self._restore(lease)
        return changes

    def _apply_due(self, write: PendingWrite) -> None:
        """A scheduled write, unless its output now belongs to another lease (then skipped)."""
        name = write.spec.name
        owner = self._leases.owner(name)
        if owner is not None and owner.lease_id != write.lease_id:
            writer = self._leases.find(write.lease_id)
            log.warning(
                "schedule.skipped",
                output=name,
                writer=writer.holder if writer else "",
                owner=owner.holder,
                reason="the output belongs to another lease now",
            )
            return
        self._apply([(write.spec, write.value)])
        alive = self._leases.find(write.lease_id)
        self._leases.claim(alive.lease_id if alive else None, [name])

    async def run(self, on_cycle: Callable[[float, int, bool], None] | None = None) -> None:
        """Cycle forever at a fixed rate (no catch-up after a stall).

        ``on_cycle(seconds, expired_leases, failed)`` hears of every cycle (the metrics): how
        long :meth:`cycle` took, how many leases it expired, and whether it raised.
        """
        next_at = self._clock()
        while True:
            leases = len(self._leases)
            started = time.perf_counter()
            failed = False
            try:
                self.cycle()
            except Exception:
                failed = True
                log.exception("cycle.failed")
            if on_cycle is not None:
                # Nothing else runs during cycle(), and it removes leases only by expiring them.
                expired = max(0, leases - len(self._leases))
                try:
                    on_cycle(time.perf_counter() - started, expired, failed)
                except Exception:  # a metrics fault must never stop the IO cycle
                    log.exception("cycle.observer_failed")
            next_at = max(next_at + self.cycle_s, self._clock())
            await asyncio.sleep(next_at - self._clock())

    def system_status(self) -> SystemStatus:
        self.rpi.readprocimg()
        core = self.rpi.core
        return SystemStatus(
            core_temperature_celsius=int(core.temperature) if core else 0,
            cpu_frequency_mhz=int(core.frequency) if core else 0,
            picontrol_running=bool(core.picontrolrunning) if core else False,
            io_cycle_ms=int(core.iocycle) if core else 0,
            rs485_error_count=int(core.ioerrorcount) if core else 0,
            bridge_cycle_ms=round(self.cycle_s * 1000),
            simulated=self.simulated,
        )

    def shutdown(self) -> None:
        """Put every leased output to its safe value and close the process image."""
        for lease in self._leases.release_all():
            self._restore(lease)
        self.rpi.cleanup()

    # -- figures for the metrics (read-only; each one len() call, safe from the scrape thread)

    @property
    def lease_count(self) -> int:
        """Leases alive now."""
        return len(self._leases)

    @property
    def leased_output_count(self) -> int:
        """Outputs that belong to a lease now."""
        return len(self._leases._owner)

    @property
    def pulse_counter_count(self) -> int:
        """Pulse counters running now."""
        return len(self._edges._counters)

    @property
    def watch_count(self) -> int:
        """WatchInputs streams open now."""
        return len(self._feed)
