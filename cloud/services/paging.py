"""One page of a query and how many rows it has in all: WebMACS's ``{page, page_size, total,
data}`` lists, counted and cut the same way for every resource."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar, TypeVarTuple

from sqlalchemy import Row, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.services.errors import InvalidInputError

__all__ = ["MAX_PAGE", "MAX_PAGE_SIZE", "check_page", "page_of_rows", "page_of_scalars"]

MAX_PAGE_SIZE = 100
MAX_PAGE = 2**31 - 1  # far past any last page, and its offset still fits the database's BIGINT

T = TypeVar("T")
Ts = TypeVarTuple("Ts")


def check_page(page: int, page_size: int, largest: int = MAX_PAGE_SIZE) -> None:
    """Refuse what no route would let through (services are called from elsewhere too)."""
    if not 1 <= page <= MAX_PAGE or not 1 <= page_size <= largest:
        raise InvalidInputError(f"page must be in 1..{MAX_PAGE} and page_size in 1..{largest}")


async def _total(session: AsyncSession, query: Select[*Ts]) -> int:
    counted = select(func.count()).select_from(query.order_by(None).subquery())
    return await session.scalar(counted) or 0


async def page_of_scalars(
    session: AsyncSession, query: Select[T], page: int, page_size: int
) -> tuple[Sequence[T], int]:
    """Page ``page`` (from 1) of ``query``'s single-entity rows, in its order, and the total."""
    check_page(page, page_size)
    found = await session.scalars(query.offset((page - 1) * page_size).limit(page_size))
    return found.all(), await _total(session, query)


async def page_of_rows(
    session: AsyncSession, query: Select[*Ts], page: int, page_size: int
) -> tuple[Sequence[Row[*Ts]], int]:
    """The same for a query of several columns or entities: its rows as tuples."""
    check_page(page, page_size)
    found = await session.execute(query.offset((page - 1) * page_size).limit(page_size))
    return found.all(), await _total(session, query)
