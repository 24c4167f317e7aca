"""The app's health endpoint: 200 once a loop has succeeded, 503 before and after failures.

A few lines of asyncio streams rather than a web framework: it answers one question, on
``HEALTHCHECK_PORT``, to Docker's healthcheck or an orchestrator's probe.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

__all__ = ["HealthPortError", "HealthServer"]


class HealthPortError(OSError):
    """The health port cannot be bound (another app or the demo holds it)."""


class HealthServer:
    def __init__(self, healthy: Callable[[], bool], host: str = "127.0.0.1", port: int = 49200):
        self.healthy = healthy
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        try:
            self._server = await asyncio.start_server(self._answer, self.host, self.port)
        except OSError as exc:
            raise HealthPortError(
                exc.errno,
                f"cannot serve the health endpoint on {self.host}:{self.port} ({exc.strerror}); "
                "another app may hold it: choose a free port with --healthcheck-port or "
                "HEALTHCHECK_PORT",
            ) from None
        sockets = self._server.sockets
        if sockets and self.port == 0:
            self.port = sockets[0].getsockname()[1]

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError, TimeoutError):
            await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            ok = self.healthy()
            body = b"ok\n" if ok else b"not ready\n"
            status = b"200 OK" if ok else b"503 Service Unavailable"
            writer.write(
                b"HTTP/1.1 " + status + b"\r\nContent-Type: text/plain\r\n"
                b"Content-Length: "
                + str(len(body)).encode()
                + b"\r\nConnection: close\r\n\r\n"
                + body
            )
            await writer.drain()
        writer.close()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
