"""Failed logins, while they count against an email (see cloud.services.ratelimit)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from cloud.db.base import Base, BigIntPK, UTCDateTime

__all__ = ["LoginFailure"]


class LoginFailure(Base):
    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_email_key_failed_at", "email_key", "failed_at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    email_key: Mapped[str] = mapped_column(String(320))
    failed_at: Mapped[datetime] = mapped_column(UTCDateTime)
