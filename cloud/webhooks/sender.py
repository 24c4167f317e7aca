"""One webhook request: resolve, check every address, connect to the checked one, post.

The address check happens here, at delivery time, on every address the target's name
resolves to now (``loop.getaddrinfo``), not just at creation: a name that resolved to a
public address yesterday may resolve to 127.0.0.1 today (DNS rebinding). The request then
goes to the *checked* address (it is put into the URL as the host), with the name kept in
the ``Host`` header and as the TLS server name (SNI, also what the certificate is verified
against), so no second DNS lookup can sneak in between check and connect.

The client this module is given must not follow redirects (a redirect would skip the
check), must not use proxies from the environment, and must not keep connections alive
(a pooled connection is keyed by the IP, and would be reused for a different name).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from cloud.models.webhook import ERROR_MAX, AttemptOutcome
from cloud.webhooks.addresses import IPNetwork, literal_ip, refusal
from cloud.webhooks.signing import signed_headers

__all__ = ["USER_AGENT", "Request", "Result", "make_client", "send_once"]

USER_AGENT = "revlink-webhooks/1"
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class Request:
    url: str
    secret: str | None
    body: bytes
    event_type: str
    delivery_id: str
    attempt: int


@dataclass(frozen=True)
class Result:
    outcome: AttemptOutcome
    response_code: int | None = None
    latency_ms: int | None = None
    error: str | None = None

    @property
    def retryable(self) -> bool:
        return self.outcome not in (AttemptOutcome.DELIVERED, AttemptOutcome.REFUSED)


def make_client(concurrency: int) -> httpx.AsyncClient:
    """The client :func:`send_once` needs (see the module docstring for why each option)."""
    return httpx.AsyncClient(
        follow_redirects=False,
        trust_env=False,
        limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=0),
    )


class _RefusedError(Exception):
    pass


async def _checked_addresses(host: str, port: int, allowed: Sequence[IPNetwork]) -> list[str]:
    """Every address ``host`` has right now, in the resolver's order; refused if any one of
    them is not allowed (a name that also points inside is not a public target)."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[str] = []
    for info in infos:
        text = str(info[4][0])
        if text not in addresses:
            addresses.append(text)
    if not addresses:
        raise OSError(f"{host} has no address")
    for text in addresses:
        ip = literal_ip(text)
        reason = "not an IP address" if ip is None else refusal(ip, allowed)
        if reason:
            raise _RefusedError(f"address not allowed: {host} resolves to {text} ({reason})")
    return [text.split("%", 1)[0] for text in addresses]


def _from_tls(exc: BaseException) -> bool:
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLError):
            return True
        cause = cause.__cause__ or cause.__context__
    return False


def _error(text: str) -> str:
    return text if len(text) <= ERROR_MAX else text[: ERROR_MAX - 1] + "…"


async def send_once(
    client: httpx.AsyncClient,
    request: Request,
    *,
    allowed: Sequence[IPNetwork],
    timeout: float,
) -> Result:
    """Try ``request`` once. Never raises for anything the target or network does."""
    try:
        url = httpx.URL(request.url)
        host, port = url.host, url.port or _DEFAULT_PORTS[url.scheme]
    except (httpx.InvalidURL, KeyError):  # checked at creation; only an edited row gets here
        return Result(AttemptOutcome.REFUSED, error=_error(f"invalid URL: {request.url}"))
    started = time.perf_counter()

    def elapsed() -> int:
        return round((time.perf_counter() - started) * 1000)

    try:
        # One deadline for the whole try (DNS included): httpx's own timeouts are per
        # phase, so a target trickling bytes could otherwise hold a slot for far longer.
        async with asyncio.timeout(timeout):
            addresses = await _checked_addresses(host, port, allowed)
            timestamp = int(time.time())
            headers = {
                "Host": host if url.port is None else f"{host}:{url.port}",
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
                "X-Webhook-Event": request.event_type,
                "X-Webhook-Delivery": request.delivery_id,
                "X-Webhook-Attempt": str(request.attempt),
                **signed_headers(request.secret, timestamp, request.body),
            }
            extensions = {"sni_hostname": host} if url.scheme == "https" else {}
            for index, address in enumerate(addresses):
                try:
                    async with client.stream(
                        "POST",
                        url.copy_with(host=address),
                        content=request.body,
                        headers=headers,
                        extensions=extensions,
                        timeout=timeout,
                    ) as response:
                        code = response.status_code  # the body is never read, only the status
                    break
                except httpx.ConnectError as exc:
                    # Nothing listens there (e.g. ::1 first for a server on 127.0.0.1): the
                    # next checked address, as a browser would; nothing was sent yet. A TLS
                    # failure is the target's answer, not a wrong address: no next one.
                    if index == len(addresses) - 1 or _from_tls(exc):
                        raise
    except _RefusedError as exc:
        return Result(AttemptOutcome.REFUSED, error=_error(str(exc)))
    except (TimeoutError, httpx.TimeoutException):
        return Result(
            AttemptOutcome.TIMEOUT, latency_ms=elapsed(), error=f"timeout after {timeout:g} s"
        )
    except (httpx.TransportError, OSError) as exc:
        detail = str(exc) or type(exc).__name__
        return Result(
            AttemptOutcome.CONNECTION_ERROR,
            latency_ms=elapsed(),
            error=_error(f"connection failed: {detail}"),
        )
    if 200 <= code < 300:
        return Result(AttemptOutcome.DELIVERED, code, elapsed())
    return Result(AttemptOutcome.HTTP_ERROR, code, elapsed(), f"HTTP {code}")
