"""Output-watchdog leases: who owns which outputs, and until when.

A client acquires a lease with a time-to-live and passes its id with writes; the outputs it
writes belong to the lease until it is released or expires. Another lease's write to one, or
a write under no lease, is refused (:meth:`LeaseBook.conflicts` finds them before anything
is written); only an explicit :meth:`LeaseBook.take_over` moves an output between leases.
When the lease is not renewed in time (the app crashed or hung), the core puts its outputs
back to their safe values. Pure bookkeeping: time comes in as arguments (monotonic seconds).
"""

from __future__ import annotations

import secrets
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bridges.platform.errors import InvalidValueError, OutputOwnedError, UnknownLeaseError

__all__ = ["MAX_LEASE_TTL_S", "Lease", "LeaseBook", "Throttle", "owned_error"]

MAX_LEASE_TTL_S = 3600.0


@dataclass
class Lease:
    lease_id: str
    holder: str
    ttl_s: float
    expires_at: float
    outputs: set[str] = field(default_factory=set)


class LeaseBook:
    def __init__(self) -> None:
        self._leases: dict[str, Lease] = {}
        self._owner: dict[str, str] = {}

    def acquire(self, holder: str, ttl_s: float, now: float) -> Lease:
        _check_ttl(ttl_s)
        lease = Lease(secrets.token_hex(8), holder or "anonymous", ttl_s, now + ttl_s)
        self._leases[lease.lease_id] = lease
        return lease

    def get(self, lease_id: str) -> Lease:
        try:
            return self._leases[lease_id]
        except KeyError:
            raise UnknownLeaseError(
                f"no lease {lease_id!r} (never acquired, released or expired)"
            ) from None

    def find(self, lease_id: str | None) -> Lease | None:
        """The lease, or None when ``lease_id`` is empty or unknown."""
        return self._leases.get(lease_id) if lease_id else None

    def renew(self, lease_id: str, now: float, ttl_s: float | None = None) -> Lease:
        """Extend the lease by its ttl; a given ``ttl_s`` becomes its ttl from now on."""
        lease = self.get(lease_id)
        if ttl_s is not None:
            _check_ttl(ttl_s)
            lease.ttl_s = ttl_s
        lease.expires_at = now + lease.ttl_s
        return lease

    def owner(self, output: str) -> Lease | None:
        """The lease that owns ``output``, None when it is unowned."""
        return self.find(self._owner.get(output))

    def conflicts(self, lease_id: str | None, outputs: Iterable[str]) -> list[tuple[str, Lease]]:
        """The outputs a write under ``lease_id`` (None: under no lease) may not change, each
        with the other lease that owns it; empty when the write may go ahead."""
        found = []
        for name in outputs:
            owner = self.owner(name)
            if owner is not None and owner.lease_id != lease_id:
                found.append((name, owner))
        return found

    def take_over(self, lease_id: str, outputs: Iterable[str]) -> dict[str, Lease | None]:
        """Move ``outputs`` to ``lease_id`` whoever owns them; answers each previous owner."""
        self.get(lease_id)
        previous = {name: self.owner(name) for name in outputs}
        self.claim(lease_id, previous)
        return previous

    def claim(self, lease_id: str | None, outputs: Iterable[str]) -> None:
        """Record that ``outputs`` now belong to ``lease_id`` (None: to no lease).

        Unconditional: the core calls it only for writes that :meth:`conflicts` allowed, and
        for takeovers.
        """
        new_owner = self.get(lease_id) if lease_id else None
        for name in outputs:
            previous = self._owner.pop(name, None)
            if previous is not None and previous in self._leases:
                self._leases[previous].outputs.discard(name)
            if new_owner is not None:
                new_owner.outputs.add(name)
                self._owner[name] = new_owner.lease_id

    def release(self, lease_id: str) -> Lease:
        lease = self.get(lease_id)
        del self._leases[lease_id]
        for name in lease.outputs:
            self._owner.pop(name, None)
        return lease

    def expired(self, now: float) -> list[Lease]:
        """Remove and return the leases whose time is up."""
        due = [lease for lease in self._leases.values() if lease.expires_at <= now]
        for lease in due:
            self.release(lease.lease_id)
        return due

    def release_all(self) -> list[Lease]:
        return [self.release(lease_id) for lease_id in list(self._leases)]

    def __contains__(self, lease_id: object) -> bool:
        return lease_id in self._leases

    def __len__(self) -> int:
        return len(self._leases)


def _check_ttl(ttl_s: float) -> None:
    if not 0 < ttl_s <= MAX_LEASE_TTL_S:
        limit = f"(0, {MAX_LEASE_TTL_S:.0f}]"
        raise InvalidValueError(f"lease ttl must be in {limit} s, not {ttl_s}")


def owned_error(
    conflicts: Sequence[tuple[str, Lease]], writer: str, now: float, wall_now: float
) -> OutputOwnedError:
    """The refusal of a write by ``writer`` (a holder; "" for no lease): every output in
    ``conflicts`` with its owner and when the owner's lease expires."""
    problems = []
    for name, owner in conflicts:
        left = max(0.0, owner.expires_at - now)
        at = datetime.fromtimestamp(wall_now + left, UTC).isoformat(timespec="milliseconds")
        text = (
            f"{name} is owned by {owner.holder!r} (lease expires "
            f"{at.replace('+00:00', 'Z')}, in {left:.1f} s, unless renewed)"
        )
        if owner.holder == writer:
            text += ", another lease of the same holder (an earlier run of the app?)"
        problems.append(text)
    by = f"from {writer!r}" if writer else "under no lease"
    return OutputOwnedError(
        f"{'; '.join(problems)}: refused a write {by}. An output has one owner until its "
        "lease is released or expires (an operator can take it over: revlink io takeover "
        f"{' '.join(name for name, _ in conflicts)})"
    )


class Throttle:
    """Says whether something keyed was last reported at least ``interval_s`` ago."""

    def __init__(self, interval_s: float = 60.0, max_keys: int = 1000) -> None:
        self.interval_s = interval_s
        self._max_keys = max_keys
        self._last: dict[Hashable, float] = {}

    def due(self, key: Hashable, now: float) -> bool:
        last = self._last.get(key)
        if last is not None and now - last < self.interval_s:
            return False
        if len(self._last) >= self._max_keys:
            self._last.clear()
        self._last[key] = now
        return True
