"""Passwords (argon2), access tokens (JWT HS256), and device and API tokens (random, SHA-256
at rest)."""

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
    "API_TOKEN_PREFIX",
    "API_TOKEN_SHOWN_CHARS",
    "AccessClaims",
    "InvalidTokenError",
    "TokenRejectedError",
    "decode_access_token",
    "hash_api_token",
    "hash_device_token",
    "hash_password",
    "is_api_token",
    "issue_access_token",
    "new_api_token",
    "new_device_token",
    "verify_password",
]

_hasher = PasswordHasher()
DEVICE_TOKEN_PREFIX = "rld_"
# WebMACS's API-token prefix: it tells an API token from a JWT before any parsing, and makes
# a leaked one easy to spot (secret scanners key on such prefixes).
API_TOKEN_PREFIX = "wm_"
API_TOKEN_RANDOM_BYTES = 32
# How much of a token is kept in clear to tell tokens apart: the prefix and 8 characters
# (48 of its 256 random bits), far too few to help guess the rest.
API_TOKEN_SHOWN_CHARS = len(API_TOKEN_PREFIX) + 8


class InvalidTokenError(Exception):
    """The access token is malformed, badly signed or expired."""


class TokenRejectedError(Exception):
    """A token (JWT or API token) that must not be honoured; ``reason`` is WebMACS's wording,
    sent as the 401's detail and as the WebSocket's 1008 close reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_public_id: uuid.UUID
    role: str
    jti: str
    expires_at: datetime
    # The user's token_version when issued; tokens from before a bump are refused.
    version: int = 0


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def issue_access_token(
    user_public_id: uuid.UUID, role: str, secret: str, ttl: timedelta, version: int = 0
) -> tuple[str, AccessClaims]:
    now = datetime.now(UTC)
    claims = AccessClaims(user_public_id, role, secrets.token_hex(16), now + ttl, version)
    token = jwt.encode(
        {
            "sub": str(user_public_id),
            "role": role,
            "jti": claims.jti,
            "ver": version,
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
            # Tokens issued before versions existed count as version 0, the column's default.
            int(payload.get("ver", 0)),
        )
    except (jwt.PyJWTError, ValueError, KeyError, TypeError) as exc:
        raise InvalidTokenError(str(exc)) from None


def new_device_token() -> str:
    """A device token: shown once, stored only as its hash."""
    return DEVICE_TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_device_token(token: str) -> str:
    # Device tokens carry 256 random bits, so a fast hash is as strong as a slow one and
    # keeps the lookup on every uplink connection cheap.
    return hashlib.sha256(token.encode()).hexdigest()


def new_api_token() -> str:
    """An API token: ``wm_`` and 32 random bytes (43 URL-safe characters); shown once."""
    return API_TOKEN_PREFIX + secrets.token_urlsafe(API_TOKEN_RANDOM_BYTES)


def is_api_token(token: str) -> bool:
    return token.startswith(API_TOKEN_PREFIX)


def hash_api_token(token: str) -> str:
    # Why a fast hash and not argon2 as for passwords: slow hashes exist to make guessing a
    # low-entropy secret (a password) expensive. An API token carries 256 random bits, so
    # guessing is hopeless at any speed, and SHA-256 stays preimage-resistant; a salt would
    # not help either (no two tokens repeat) and would rule out looking the digest up by
    # index on every request.
    return hashlib.sha256(token.encode()).hexdigest()
