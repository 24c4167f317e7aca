"""How a webhook request is signed, so a receiver can trust it and refuse replays.

WebMACS's scheme, kept so its receivers verify ours unchanged:

- ``X-Webhook-Timestamp``: Unix time in whole seconds when the request was signed;
- ``X-Webhook-Signature``: lowercase hex HMAC-SHA256, keyed with the webhook's secret, of
  the string ``f"{timestamp}.{body}"`` (the timestamp, a dot, and the exact body bytes).

The timestamp is inside the signed string, so a receiver that refuses timestamps older than
a few minutes refuses a captured request replayed later. Without a secret there is no
signature header (as in WebMACS); the timestamp is sent anyway.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

__all__ = [
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "encode_body",
    "sign",
    "signed_headers",
    "verify",
]

TIMESTAMP_HEADER = "X-Webhook-Timestamp"
SIGNATURE_HEADER = "X-Webhook-Signature"


def encode_body(payload: dict[str, Any]) -> bytes:
    """The body bytes: compact JSON with sorted keys, so each try sends the same bytes."""
    return json.dumps(payload, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()


def sign(secret: str, timestamp: int, body: bytes) -> str:
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signed_headers(secret: str | None, timestamp: int, body: bytes) -> dict[str, str]:
    headers = {TIMESTAMP_HEADER: str(timestamp)}
    if secret:
        headers[SIGNATURE_HEADER] = sign(secret, timestamp, body)
    return headers


def verify(
    secret: str, timestamp: str, signature: str, body: bytes, *, now: int, tolerance: int = 300
) -> bool:
    """What a receiver does: the signature matches and the timestamp is recent."""
    try:
        sent = int(timestamp)
    except ValueError:
        return False
    if abs(now - sent) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, sent, body), signature)
