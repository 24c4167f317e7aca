"""API tokens: long-lived, revocable credentials for scripts and WebMACS controllers.

Shown once when created; stored only as a SHA-256 digest and a short prefix that is safe to
show. A token speaks for its owner with at most its own role (see :mod:`cloud.services.api_tokens`).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import ForeignKey, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cloud.db.base import Base, UTCDateTime
from cloud.models.user import Role, User

__all__ = ["NAME_MAX", "ApiToken"]

NAME_MAX = 100


def _now() -> datetime:
    return datetime.now(UTC)


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True, default=uuid.uuid4)
    user_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(NAME_MAX))
    # Hex SHA-256 of the whole plaintext: the lookup key when a token is presented.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The plaintext's first characters, to tell tokens apart in lists; too short to guess from.
    prefix: Mapped[str] = mapped_column(String(16))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_now)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Revoked tokens are kept (not deleted) so a client presenting one hears "revoked".
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    user: Mapped[User] = relationship(lazy="raise")

    @property
    def role_enum(self) -> Role:
        return Role(self.role)
