"""Grouping channels into read requests, within the Modbus limits.

One poll should make as few requests as it can: each costs a round trip, and on a serial line
an inter-frame gap too. The limits are the protocol's, taken from the Modbus bridge's
:mod:`bridges.modbus.model` so that the two cannot disagree; a config may lower them (and cap
the unused addresses a read spans) for a device that wants smaller requests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bridges.modbus.model import MAX_READ_BITS, MAX_READ_REGISTERS
from bridges.plugin_host.bundled.modbus.values import TABLES, RegisterChannel

__all__ = [
    "MAX_BITS_PER_READ",
    "MAX_REGISTERS_PER_READ",
    "ReadBlock",
    "plan_reads",
]

MAX_REGISTERS_PER_READ = MAX_READ_REGISTERS  # FC 3 and 4: the most registers one request reads
MAX_BITS_PER_READ = MAX_READ_BITS  # FC 1 and 2: the most coils or discrete inputs one reads


@dataclass(frozen=True, slots=True)
class ReadBlock:
    """One read request: ``count`` addresses of ``table`` from ``start``, and what they hold."""

    table: str
    start: int
    count: int
    channels: tuple[RegisterChannel, ...]

    def describe(self) -> str:
        """The addresses, as a message names them: ``input registers 0-9``."""
        end = self.start + self.count - 1
        span = f"{self.start}" if end == self.start else f"{self.start}-{end}"
        return f"{TABLES[self.table][0]} {span}"

    @property
    def spans_gaps(self) -> bool:
        """Whether the read covers addresses no channel maps (a device may refuse those)."""
        covered = {a for c in self.channels for a in range(c.address, c.address + c.width)}
        return len(covered) < self.count


def plan_reads(
    specs: Sequence[RegisterChannel],
    max_registers: int = MAX_REGISTERS_PER_READ,
    max_bits: int = MAX_BITS_PER_READ,
    max_gap: int | None = None,
) -> list[ReadBlock]:
    """The fewest requests that read every channel, each within the limit of its table.

    Per table, channels sorted by address join the current request while the span stays
    within the limit (and the unused addresses before them within ``max_gap``); greedy is
    optimal here, as in any covering of sorted intervals by windows of a fixed length.
    """
    blocks: list[ReadBlock] = []
    for table in TABLES:
        limit = max_bits if TABLES[table][1] else max_registers
        members: list[RegisterChannel] = []
        start = end = 0  # the current request's span, end exclusive
        for spec in sorted(
            (s for s in specs if s.table == table), key=lambda s: (s.address, s.width)
        ):
            spec_end = spec.address + spec.width
            fits = max(end, spec_end) - start <= limit
            close = max_gap is None or spec.address - end <= max_gap
            if members and fits and close:
                members.append(spec)
                end = max(end, spec_end)
                continue
            if members:
                blocks.append(ReadBlock(table, start, end - start, tuple(members)))
            members, start, end = [spec], spec.address, spec_end
        if members:
            blocks.append(ReadBlock(table, start, end - start, tuple(members)))
    return blocks
