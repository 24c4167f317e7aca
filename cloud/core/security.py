"""Passwords (argon2), access tokens (JWT HS256) and device tokens (random, SHA-256 at rest)."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

__all__ = [
    "AccessClaims",
    "InvalidTokenError",
    "decode_access_token",
    "hash_device_token",
    "hash_password",
    "issue_access_token",
    "new_device_token",
    "verify_password",
]

_hasher = PasswordHasher()
DEVICE_TOKEN_PREFIX = "rld_"


class InvalidTokenError(Exception):
    """The access token is malformed, badly signed or expired."""


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_public_id: uuid.UUID
    role: str
    jti: str
    expires_at: datetime


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def issue_access_token(
    user_public_id: uuid.UUID, role: str, secret: str, ttl: timedelta
) -> tuple[str, AccessClaims]:
    now = datetime.now(UTC)
    claims = AccessClaims(user_public_id, role, secrets.token_hex(16), now + ttl)
    token = jwt.encode(
        {
            "sub": str(user_public_id),
            "role": role,
            "jti": claims.jti,
            "iat": now,
            "exp": claims.expires_at,
        },
        secret,
        algorithm="HS256",
    )
    return token, claims


def decode_access_token(token: str, secret: str) -> AccessClaims:
    try:
        payload = jwt.decode(
            token, secret, algorithms=["HS256"], options={"require": ["sub", "jti", "exp"]}
        )
        return AccessClaims(
            uuid.UUID(payload["sub"]),
            str(payload.get("role", "")),
            str(payload["jti"]),
            datetime.fromtimestamp(payload["exp"], UTC),
        )
    except (jwt.PyJWTError, ValueError, KeyError) as exc:
        raise InvalidTokenError(str(exc)) from None


def new_device_token() -> str:
    """A device token: shown once, stored only as its hash."""
    return DEVICE_TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_device_token(token: str) -> str:
    # Device tokens carry 256 random bits, so a fast hash is as strong as a slow one and
    # keeps the lookup on every uplink connection cheap.
    return hashlib.sha256(token.encode()).hexdigest()
