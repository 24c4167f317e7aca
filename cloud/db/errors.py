"""Database errors a request's own values cause, told apart from the database failing."""

from __future__ import annotations

import asyncpg
from sqlalchemy.exc import DBAPIError

__all__ = ["unstorable_value"]

# SQLSTATE codes of PostgreSQL's "data exception" class that only a value can cause: a NUL
# in text (22021) or in jsonb (22P05), a number past its column's range (22003), a string
# longer than its column (22001), a date or time out of range (22008).
_VALUE_ERRORS = {
    "22021": "text holds a NUL character (\\u0000), which the database cannot keep",
    "22P05": "JSON holds a NUL character (\\u0000), which the database cannot keep",
    "22003": "a number is out of the range the database keeps",
    "22001": "a value is longer than the database keeps",
    "22008": "a date or time is out of the range the database keeps",
}


def unstorable_value(exc: DBAPIError) -> str | None:
    """Why the database refused a value of the request, or None if the fault is not the value's."""
    code = getattr(exc.orig, "sqlstate", None)  # set by the asyncpg dialect
    if isinstance(code, str):
        return _VALUE_ERRORS.get(code)
    # asyncpg refuses an integer no PostgreSQL integer type holds before sending the query.
    cause = exc.orig.__cause__ if exc.orig is not None else None
    if isinstance(cause, asyncpg.DataError) and "out of int" in str(cause):
        return _VALUE_ERRORS["22003"]
    return None
