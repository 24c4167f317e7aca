"""Output-watchdog leases: who owns which outputs, and until when.

A client acquires a lease with a time-to-live and passes its id with writes; the outputs it
writes belong to the lease until someone else writes them. When the lease is not renewed in
time (the app crashed or hung), the core puts its outputs back to their safe values.
Pure bookkeeping: time comes in as arguments (monotonic seconds).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field

from bridges.platform.errors import InvalidValueError, UnknownLeaseError

__all__ = ["MAX_LEASE_TTL_S", "Lease", "LeaseBook"]

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
        if not 0 < ttl_s <= MAX_LEASE_TTL_S:
            limit = f"(0, {MAX_LEASE_TTL_S:.0f}]"
            raise InvalidValueError(f"lease ttl must be in {limit} s, not {ttl_s}")
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

    def renew(self, lease_id: str, now: float) -> Lease:
        lease = self.get(lease_id)
        lease.expires_at = now + lease.ttl_s
        return lease

    def claim(self, lease_id: str | None, outputs: Iterable[str]) -> None:
        """Record that ``outputs`` were just written under ``lease_id`` (None: by no lease)."""
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
