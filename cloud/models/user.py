"""Users, their roles, and revoked access tokens (logouts)."""

from __future__ import annotations

import enum
import uuid
from datetime import UTC, datetime

from sqlalchemy import Boolean, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from cloud.db.base import Base, UTCDateTime

__all__ = ["RevokedToken", "Role", "User"]


class Role(enum.StrEnum):
    """admin > operator > viewer: each role may do everything the ones below it may."""

    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def at_least(self, other: Role) -> bool:
        return self.rank >= other.rank


def _now() -> datetime:
    return datetime.now(UTC)


_ROLE_CAP = "_revlink_role_cap"


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True, default=uuid.uuid4)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    username: Mapped[str] = mapped_column(String(128))
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16), default=Role.VIEWER.value)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_now)
    # Carried in every access token (claim "ver") and compared on each use: bumping it ends
    # all the user's sessions at once (password changed, role lowered, deactivated).
    token_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    @property
    def role_enum(self) -> Role:
        """The role this request may act with: the user's role, lowered to the role of the
        API token the request came with (see :meth:`limit_role`)."""
        role = Role(self.role)
        cap: Role | None = self.__dict__.get(_ROLE_CAP)
        return cap if cap is not None and cap.rank < role.rank else role

    def limit_role(self, cap: Role) -> None:
        """Act with at most ``cap`` for the rest of this session (an API token's role).

        A plain instance attribute, never a column: it is not flushed, and it lives only as
        long as this session's object, i.e. one request or one token check.
        """
        self.__dict__[_ROLE_CAP] = cap


class RevokedToken(Base):
    """Access tokens ended by logout before their expiry, by JWT id."""

    __tablename__ = "revoked_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    revoked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_now)
