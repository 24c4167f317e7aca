"""WebMACS's browser client: ``useRealtimeDatapoints.ts`` on ``services/websocket.ts``, the
live datapoint map, WebSocket first and polling after three failed connections; and a relay
that a test switches off to block its socket."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from typing import Any, Literal
from urllib.parse import quote

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.rig.webmacs.api import (
    API_PREFIX,
    STREAM_PATH,
)

# ── frontend: services/websocket.ts + composables/useRealtimeDatapoints.ts ───────────

Mode = Literal["connecting", "websocket", "polling"]


class RealtimeDatapoints:
    """The dashboard's live map of the newest datapoint per ``event_public_id``.

    On start it fetches ``GET /datapoints/latest`` (Bearer JWT, a ``_t`` cache-buster as
    ``services/api.ts`` adds) and, at the same time, opens
    ``/ws/datapoints/stream?token=JWT``. An open socket resets the failure count, sets mode
    ``websocket`` and stops polling; each close or failed attempt counts one failure, and
    from the third in a row the map is refreshed from ``/latest`` every ``poll_interval``
    (mode ``polling``; the first fetch at once). Reconnects wait 1, 2, 4 … 30 s (reset when
    a socket opens); an open socket sends ``{"type":"ping"}`` every 25 s. A
    ``datapoints_batch`` merges its points into the map; a poll replaces the map with the
    answer. ``ws_base`` is where the socket goes (default: the API's host), as a browser
    behind a proxy that blocks WebSockets would see it.
    """

    def __init__(
        self,
        api_base: str,
        token: str,
        *,
        ws_base: str | None = None,
        poll_interval: float = 1.5,
        reconnect_delay: float = 1.0,
        max_reconnect_delay: float = 30.0,
        ping_interval: float = 25.0,
        max_fails: int = 3,
    ) -> None:
        self.api_base = api_base.rstrip("/")
        ws_root = (ws_base or self.api_base).rstrip("/")
        ws_root = ws_root.replace("http://", "ws://", 1).replace("https://", "wss://", 1)
        self.stream_url = f"{ws_root}{STREAM_PATH}?token={quote(token)}"
        self._token = token
        self.poll_interval = poll_interval
        self.reconnect_delay = reconnect_delay
        self.max_reconnect_delay = max_reconnect_delay
        self.ping_interval = ping_interval
        self.max_fails = max_fails
        self._http = httpx.AsyncClient(
            base_url=self.api_base + API_PREFIX,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            timeout=10,
        )
        self.mode: Mode = "connecting"
        self.connected = False
        self.latest: dict[str, dict[str, Any]] = {}
        self.source: dict[str, Literal["http", "ws"]] = {}  # how each entry last arrived
        self.seed: list[dict[str, Any]] | None = None  # the first /latest answer
        self.mode_history: list[tuple[float, Mode]] = [(time.monotonic(), "connecting")]
        self.ws_opens = 0
        self.ws_failures = 0  # closes and failed attempts, all told
        self.fail_count = 0  # in a row, as the composable counts them
        self.polls = 0
        self.poll_errors: list[str] = []
        self.stale_retries = 0
        self.messages: list[dict[str, Any]] = []  # every JSON message but pongs
        self.pongs = 0
        self.pings_sent = 0
        self.changed = asyncio.Event()  # set on every change of the map or the mode
        self._poll_task: asyncio.Task[None] | None = None
        self._fetches: set[asyncio.Task[None]] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._disposed = False

    async def __aenter__(self) -> RealtimeDatapoints:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._fetch_latest()),
            asyncio.create_task(self._ws_client()),
        ]

    async def stop(self) -> None:
        self._disposed = True
        self._stop_polling()
        tasks = [*self._tasks, *self._fetches]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._http.aclose()

    async def wait_for(self, condition: Callable[[], bool], timeout: float) -> None:
        """Until ``condition()`` holds (checked at every change); TimeoutError after
        ``timeout`` s."""
        async with asyncio.timeout(timeout):
            while not condition():
                self.changed.clear()
                await self.changed.wait()

    def modes(self) -> list[Mode]:
        return [mode for _, mode in self.mode_history]

    def _notify(self) -> None:
        self.changed.set()

    def _set_mode(self, mode: Mode) -> None:
        if mode != self.mode:
            self.mode = mode
            self.mode_history.append((time.monotonic(), mode))
        self._notify()

    # ── HTTP ──

    async def _get_latest(self) -> httpx.Response:
        """A browser sends a GET again when a reused keep-alive connection turns out to be
        closed before any answer; httpx does not, so that retry is made here."""
        params = {"_t": int(time.time() * 1000)}
        try:
            return await self._http.get("/datapoints/latest", params=params)
        except httpx.RemoteProtocolError:
            self.stale_retries += 1
            return await self._http.get("/datapoints/latest", params=params)

    async def _fetch_latest(self) -> None:
        try:
            reply = await self._get_latest()
            reply.raise_for_status()
            data = reply.json()
        except Exception as exc:  # the composable retries on the next tick, silently
            self.poll_errors.append(repr(exc))
            return
        self.polls += 1
        if self.seed is None:
            self.seed = data
        self.latest = {dp["event_public_id"]: dp for dp in data}
        self.source = dict.fromkeys(self.latest, "http")
        self._notify()

    async def _poll(self) -> None:
        """``setInterval(fetchLatestHttp, 1500)`` after one fetch at once: a fetch every
        interval however long the last one takes."""
        while True:
            fetch = asyncio.create_task(self._fetch_latest())
            self._fetches.add(fetch)
            fetch.add_done_callback(self._fetches.discard)
            await asyncio.sleep(self.poll_interval)

    def _start_polling(self) -> None:
        if self._poll_task is not None:
            return
        self._set_mode("polling")
        self._poll_task = asyncio.create_task(self._poll())

    def _stop_polling(self) -> None:
        if self._poll_task is not None:
            self._poll_task.cancel()
            self._poll_task = None

    # ── WebSocket ──

    def _state_change(self, connected: bool) -> None:
        self.connected = connected
        if connected:
            self.ws_opens += 1
            self.fail_count = 0
            self._set_mode("websocket")
            self._stop_polling()
        else:
            self.ws_failures += 1
            self.fail_count += 1
            if self.fail_count >= self.max_fails:
                self._start_polling()
            self._notify()

    def _on_message(self, raw: str | bytes) -> None:
        try:
            message = json.loads(raw)
        except ValueError:
            return
        if not isinstance(message, dict):
            return
        if message.get("type") == "pong":
            self.pongs += 1
            self._notify()
            return
        self.messages.append(message)
        points = message.get("datapoints")
        if message.get("type") == "datapoints_batch" and isinstance(points, list):
            for point in points:
                self.latest[point["event_public_id"]] = point
                self.source[point["event_public_id"]] = "ws"
        self._notify()

    async def _ping(self, ws: ClientConnection) -> None:
        while True:
            await asyncio.sleep(self.ping_interval)
            with contextlib.suppress(ConnectionClosed):
                await ws.send(json.dumps({"type": "ping"}))
                self.pings_sent += 1
                self._notify()

    async def _ws_client(self) -> None:
        delay = self.reconnect_delay
        while not self._disposed:
            try:
                # A browser sends no protocol pings of its own; it answers the server's.
                ws = await connect(self.stream_url, ping_interval=None, open_timeout=10)
            except Exception:
                self._state_change(False)  # onerror, then onclose
            else:
                delay = self.reconnect_delay
                self._state_change(True)
                pinger = asyncio.create_task(self._ping(ws))
                try:
                    async for raw in ws:
                        self._on_message(raw)
                except ConnectionClosed:
                    pass
                finally:
                    pinger.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await pinger
                    await ws.close()
                self._state_change(False)
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.max_reconnect_delay)


# ── a WebSocket-blocking proxy for the browser's fallback ───────────────────────────


class TcpRelay:
    """A TCP relay on 127.0.0.1 to ``target`` (HOST:PORT) that can be switched off (open
    connections cut, new ones refused) and on again at the same port."""

    def __init__(self, target: str, port: int) -> None:
        host, _, target_port = target.rpartition(":")
        self._target = host, int(target_port)
        self.port = port
        self._server: asyncio.Server | None = None
        self._live: set[asyncio.StreamWriter] = set()
        self._pumps: set[asyncio.Task[None]] = set()
        self.accepted = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def open(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    async def close(self) -> None:
        """Refuse new connections and reset the open ones."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._live):
            writer.transport.abort()
        self._live.clear()
        if self._pumps:
            await asyncio.wait(self._pumps, timeout=5)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._target)
        except OSError:
            writer.transport.abort()
            return
        self._live |= {writer, up_writer}

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.transport.abort()
                self._live.discard(dst)

        tasks = [
            asyncio.create_task(pump(reader, up_writer)),
            asyncio.create_task(pump(up_reader, writer)),
        ]
        self._pumps.update(tasks)
        for task in tasks:
            task.add_done_callback(self._pumps.discard)
        await asyncio.gather(*tasks)
