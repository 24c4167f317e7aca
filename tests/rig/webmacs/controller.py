"""WebMACS's edge controller: ``app.py``'s loops over ``services/telemetry.py`` and
``services/plugin_bridge.py``, with simulated plugins: each mapped input channel yields a
fresh, unique number per poll, and each write to an output channel is recorded."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote, urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.rig.webmacs.api import (
    API_PREFIX,
    TELEMETRY_PATH,
    EventListResponse,
    EventSchema,
    HttpCall,
    WebmacsApi,
)

# ── services/telemetry.py ────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class ConnectionEvent:
    """``connected``, ``connect_failed`` (detail: the error), ``closed`` (detail: who closed
    and the close frame)."""

    at: float
    kind: Literal["connected", "connect_failed", "closed"]
    detail: str = ""


class HttpTelemetry:
    """``POST /datapoints/batch`` per chunk; the answer's body is not looked at."""

    def __init__(self, api: WebmacsApi) -> None:
        self._api = api

    async def connect(self) -> None:
        return None

    async def send(self, datapoints: list[dict[str, Any]]) -> None:
        await self._api.post("/datapoints/batch", {"datapoints": datapoints})

    async def close(self) -> None:
        return None


class WsTelemetry:
    """One socket to ``/ws/controller/telemetry?token=JWT``, opened on first use and after a
    failed send, retried with waits of 1, 2, 4 … 30 s until it opens (the send waits).

    Like the original it never reads: whatever the server sends stays in the socket. The
    socket is opened with a small receive buffer and a one-message queue, so a server that
    did reply would soon find it full, block, and lose the connection to its keepalive. A
    watcher notes when the connection closes (it waits on the library's close, reading
    nothing); on :meth:`close` anything the server sent is read out into ``unread`` for the
    test to see.

    The token goes in the URL, as WebMACS's server requires; the stored versions of
    ``telemetry.py`` (7a7c2a2, 3770c78) take a token getter but connect without it.
    """

    def __init__(
        self,
        ws_base: str,
        token: Callable[[], str | None],
        recv_buffer: int = 4096,
        max_reconnect_delay: float = 30.0,
    ) -> None:
        self._ws_base = ws_base
        self._token = token
        self._recv_buffer = recv_buffer
        self._max_delay = max_reconnect_delay
        self._ws: ClientConnection | None = None
        self._watchers: set[asyncio.Task[None]] = set()
        self._closing = False
        self.events: list[ConnectionEvent] = []
        self.unread: list[str | bytes] = []

    @property
    def connects(self) -> int:
        return sum(1 for e in self.events if e.kind == "connected")

    async def _open(self) -> ClientConnection:
        token = self._token()
        url = f"{self._ws_base}{TELEMETRY_PATH}" + (f"?token={quote(token)}" if token else "")
        parts = urlsplit(url)
        host, port = parts.hostname or "127.0.0.1", parts.port or 80
        family, kind, proto, _, address = (
            await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        )[0]
        sock = socket.socket(family, kind, proto)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self._recv_buffer)
            sock.setblocking(False)
            await asyncio.get_running_loop().sock_connect(sock, address)
            return await connect(url, sock=sock, max_queue=1, compression=None)
        except BaseException:
            sock.close()
            raise

    async def _watch(self, ws: ClientConnection) -> None:
        await ws.wait_closed()
        who = "client" if self._closing else "server"
        frame = ws.close_code, ws.close_reason
        self.events.append(ConnectionEvent(time.monotonic(), "closed", f"{who}: {frame}"))

    async def _ensure_connected(self) -> ClientConnection:
        if self._ws is not None:
            return self._ws
        delay = 1.0
        while True:
            try:
                ws = await self._open()
            except Exception as exc:
                self.events.append(ConnectionEvent(time.monotonic(), "connect_failed", repr(exc)))
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._max_delay)
                continue
            self._ws = ws
            self.events.append(ConnectionEvent(time.monotonic(), "connected"))
            watcher = asyncio.create_task(self._watch(ws))
            self._watchers.add(watcher)
            watcher.add_done_callback(self._watchers.discard)
            return ws

    async def connect(self) -> None:
        await self._ensure_connected()

    async def send(self, datapoints: list[dict[str, Any]]) -> None:
        try:
            ws = await self._ensure_connected()
            await ws.send(json.dumps({"datapoints": datapoints}))
        except Exception:
            self._ws = None  # the next send connects again
            raise

    async def close(self) -> None:
        ws, self._ws = self._ws, None
        self._closing = True
        if ws is not None:
            with contextlib.suppress(TimeoutError, ConnectionClosed):
                for _ in range(100_000):
                    self.unread.append(await asyncio.wait_for(ws.recv(), 0.5))
            with contextlib.suppress(Exception):
                await ws.close()
        if self._watchers:
            await asyncio.wait(self._watchers, timeout=5)


# ── app.py and services/plugin_bridge.py ─────────────────────────────────────────────


@dataclass(frozen=True)
class MappedChannel:
    instance: str
    channel_id: str
    event_public_id: str
    direction: str


@dataclass(frozen=True)
class Sent:
    """A value the controller handed to its transport without an error."""

    at: float
    event_public_id: str
    value: float


@dataclass(frozen=True)
class Written:
    """A value the actuator loop wrote to an output channel."""

    at: float
    instance: str
    channel_id: str
    value: float


@dataclass(frozen=True)
class LoopError:
    at: float
    where: str
    error: str


class WebmacsController:
    """The WebMACS edge controller against ``server`` (``http://HOST:PORT``).

    :meth:`start` does what ``Application.run`` does before its loops, in production mode
    (no simulated device is seeded): log in, read ``GET /events`` (parsed strictly; any
    failure raises, as it ends the original), open the telemetry transport, load the plugin
    instances and their channel maps, ``POST /logging``, then start the loops: sensor and
    actuator every ``poll_interval``, plugin sync every ``sync_interval``, a failing loop
    waiting 2, 4 … 60 s. :meth:`stop` lets each loop finish its round, closes the transport
    and posts the shutdown log entry.

    Departures, to keep a run checkable: ``instances`` restricts the controller to those
    instance ids (the original runs every enabled one, so two controllers on one cloud
    would both run everything); ``GET /events`` and ``GET /plugins`` are read on every page
    (the original reads the first page only, i.e. 25 entries); every error the original
    only logs is kept in ``errors``. The rule engine (valve cycling on
    ``WEBMACS_RULE_EVENT_ID``, unset by default) is not run.

    The simulated plugins: every mapped ``input`` or ``bidirectional`` channel reads a new
    value each poll, ``value_base + n + 0.25`` with ``n`` counting up over all channels, so
    each value is unique; a write to an ``output`` or ``bidirectional`` channel is recorded
    in ``written``, one to an input channel is refused (the original's plugins raise and it
    logs) and counted in ``refused_writes``.
    """

    def __init__(
        self,
        server: str,
        email: str,
        password: str,
        *,
        telemetry_mode: Literal["http", "websocket"] = "http",
        poll_interval: float = 1.0,
        sync_interval: float = 10.0,
        max_batch_size: int = 100,
        request_timeout: float = 30.0,
        instances: Collection[str] | None = None,
        value_base: float = 0.0,
        installed_plugins: Collection[str] | None = None,
        ws_recv_buffer: int = 4096,
    ) -> None:
        if poll_interval < 0.2:
            raise ValueError("WEBMACS_POLL_INTERVAL must be >= 0.2")
        if not 1 <= max_batch_size <= 500:
            raise ValueError("WEBMACS_MAX_BATCH_SIZE must be in 1..500")
        self.server = server.rstrip("/")
        self._email, self._password = email, password
        self.telemetry_mode = telemetry_mode
        self.poll_interval = poll_interval
        self.sync_interval = sync_interval
        self.max_batch_size = max_batch_size
        self._only = set(instances) if instances is not None else None
        self._installed = set(installed_plugins) if installed_plugins is not None else None
        self._value_base = value_base
        self._counter = 0
        self.api = WebmacsApi(self.server + API_PREFIX, timeout=request_timeout)
        self.ws: WsTelemetry | None = None
        if telemetry_mode == "websocket":
            ws_base = self.server.replace("http://", "ws://", 1).replace("https://", "wss://", 1)
            self.ws = WsTelemetry(ws_base, lambda: self.api.token, recv_buffer=ws_recv_buffer)
        self._telemetry: HttpTelemetry | WsTelemetry = self.ws or HttpTelemetry(self.api)
        self.events: dict[str, EventSchema] = {}
        self.event_pages: list[EventListResponse] = []
        self.running_instances: dict[str, dict[str, Any]] = {}
        self.channel_map: dict[tuple[str, str], MappedChannel] = {}
        self._to_channel: dict[str, MappedChannel] = {}
        self._initialized = False
        self._last_read: dict[tuple[str, str], float] = {}
        self.sent: list[Sent] = []
        self.unsent: list[tuple[float, list[dict[str, Any]], str]] = []
        self.written: list[Written] = []
        self.refused_writes = 0
        self.errors: list[LoopError] = []
        self.syncs: list[tuple[float, int]] = []  # (at, mappings after the sync)
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    # ── lifecycle ──

    async def __aenter__(self) -> WebmacsController:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        try:
            await self.api.login(self._email, self._password)
            await self._fetch_events()
            await self._telemetry.connect()
            await self._initialize()
        except BaseException:
            await self._telemetry.close()
            await self.api.close()
            raise
        await self._post_log("Controller started \u2013 plugin sensor polling active", "info")
        self._tasks = [
            asyncio.create_task(self._loop("plugin_sensor", self._read_and_send, None)),
            asyncio.create_task(self._loop("plugin_actuator", self._receive_and_write, None)),
            asyncio.create_task(self._loop("plugin_sync", self._sync, self.sync_interval)),
        ]

    async def stop(self) -> None:
        self._stopping.set()
        if self._tasks:
            await asyncio.gather(*self._tasks)
        await self._telemetry.close()
        await self._post_log("Controller shutting down", "warning")
        await self.api.close()

    # ── what a test looks at ──

    @property
    def http_errors(self) -> list[HttpCall]:
        return [c for c in self.api.calls if c.status is None or c.status >= 400]

    def sent_values(self, event_public_id: str) -> list[float]:
        return [s.value for s in self.sent if s.event_public_id == event_public_id]

    def written_values(self, channel_id: str) -> list[tuple[float, float]]:
        """(time, value) of every write to ``channel_id``, oldest first."""
        return [(w.at, w.value) for w in self.written if w.channel_id == channel_id]

    # ── startup ──

    async def _fetch_events(self) -> None:
        """``GET /events`` as the original sends it, then the further pages (see above)."""
        first = EventListResponse.model_validate(await self.api.get("/events"))
        pages = [first]
        page = 1
        while sum(len(p.data) for p in pages) < first.total and pages[-1].data:
            page += 1
            params = {"page": page, "page_size": first.page_size}
            pages.append(EventListResponse.model_validate(await self.api.get("/events", params)))
        self.event_pages = pages
        self.events = {e.public_id: e for p in pages for e in p.data}

    async def _fetch_instances(self) -> list[dict[str, Any]]:
        """``GET /plugins``: the enabled instances (on every page, see above)."""
        body = await self.api.get("/plugins")
        if isinstance(body, list):
            found: list[dict[str, Any]] = body
        elif isinstance(body, dict) and "data" in body:
            found = list(body["data"])
            total, size, page = body.get("total", 0), body.get("page_size", 25), 1
            while len(found) < total:
                page += 1
                more = await self.api.get("/plugins", {"page": page, "page_size": size})
                if not more.get("data"):
                    break
                found += more["data"]
        else:
            return []
        enabled = [inst for inst in found if inst.get("enabled", True)]
        if self._only is not None:
            enabled = [inst for inst in enabled if inst.get("public_id") in self._only]
        return enabled

    async def _fetch_mappings(self, instance_id: str) -> list[dict[str, Any]]:
        body = await self.api.get(f"/plugins/{instance_id}/channels")
        return body if isinstance(body, list) else []

    def _can_run(self, instance: dict[str, Any]) -> bool:
        plugin_id = instance.get("plugin_id", "")
        if self._installed is not None and plugin_id not in self._installed:
            self._error("plugin_bridge", f"plugin_class_not_found {plugin_id!r}")
            return False
        return True

    @staticmethod
    def _add_mappings(
        into: dict[tuple[str, str], MappedChannel], instance_id: str, found: list[dict[str, Any]]
    ) -> None:
        for mapping in found:
            event, channel = mapping.get("event_public_id"), mapping.get("channel_id")
            if event and channel:
                direction = str(mapping.get("direction", "input"))
                into[(instance_id, channel)] = MappedChannel(
                    instance_id, channel, str(event), direction
                )

    def _use_map(self, new: dict[tuple[str, str], MappedChannel]) -> None:
        self.channel_map = new
        self._to_channel = {m.event_public_id: m for m in new.values()}

    async def _initialize(self) -> None:
        """``PluginBridge.initialize``: with no instance the bridge stays uninitialised, and
        (as in the original) then never sends or writes, even after a sync adds some."""
        instances = await self._fetch_instances()
        if not instances:
            return
        new: dict[tuple[str, str], MappedChannel] = {}
        for inst in instances:
            if not inst.get("enabled", True) or not self._can_run(inst):
                continue
            public_id = inst.get("public_id", "")
            self.running_instances[public_id] = inst
            try:
                self._add_mappings(new, public_id, await self._fetch_mappings(public_id))
            except Exception as exc:
                self._error("channel_mapping_fetch", repr(exc))
        self._use_map(new)
        self._initialized = True

    async def _post_log(self, content: str, logging_type: str) -> None:
        with contextlib.suppress(Exception):
            await self.api.post("/logging", {"content": content, "logging_type": logging_type})

    # ── loops ──

    def _error(self, where: str, error: str) -> None:
        self.errors.append(LoopError(time.monotonic(), where, error))

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def _loop(
        self, name: str, tick: Callable[[], Awaitable[None]], interval: float | None
    ) -> None:
        failures = 0
        while not self._stopping.is_set():
            try:
                await tick()
                failures = 0
            except Exception as exc:
                failures += 1
                self._error(name, repr(exc))
                await self._sleep(min(2.0**failures, 60.0))
                continue
            await self._sleep(self.poll_interval if interval is None else interval)

    def _next_value(self) -> float:
        self._counter += 1
        return self._value_base + self._counter + 0.25

    async def _read_and_send(self) -> None:
        if not self._initialized:
            return
        now = time.monotonic()
        points: list[dict[str, Any]] = []
        for key, channel in list(self.channel_map.items()):
            if channel.direction not in ("input", "bidirectional"):
                continue
            if now - self._last_read.get(key, 0.0) < self.poll_interval:
                continue
            self._last_read[key] = now
            points.append({"value": self._next_value(), "event_public_id": channel.event_public_id})
        for i in range(0, len(points), self.max_batch_size):
            chunk = points[i : i + self.max_batch_size]
            try:
                await self._telemetry.send(chunk)
            except Exception as exc:
                self.unsent.append((time.monotonic(), chunk, repr(exc)))
                raise
            at = time.monotonic()
            self.sent += [Sent(at, p["event_public_id"], p["value"]) for p in chunk]

    async def _receive_and_write(self) -> None:
        """The original catches and logs every error here: the loop never backs off."""
        if not self._initialized:
            return
        try:
            latest = await self.api.get("/datapoints/latest")
            if not isinstance(latest, list):
                self._error("plugin_actuator", f"/datapoints/latest is not a list: {latest!r}")
                return
            for item in latest:
                value = item.get("value")
                if value is None:
                    continue
                target = self._to_channel.get(item.get("event_public_id", ""))
                if target is None:
                    continue
                if target.direction == "input":
                    self.refused_writes += 1
                    continue
                self.written.append(
                    Written(time.monotonic(), target.instance, target.channel_id, float(value))
                )
        except Exception as exc:
            self._error("plugin_actuator", repr(exc))

    async def _sync(self) -> None:
        """``PluginBridge.sync``: drop removed instances, add new ones, rebuild the map; a
        failed fetch skips the round, a failed mapping fetch leaves that instance unmapped
        until the next."""
        try:
            backend = await self._fetch_instances()
        except Exception as exc:
            self._error("plugin_sync", repr(exc))
            return
        backend_ids = {inst["public_id"] for inst in backend}
        for gone in set(self.running_instances) - backend_ids:
            del self.running_instances[gone]
        for inst in backend:
            if inst["public_id"] not in self.running_instances and self._can_run(inst):
                self.running_instances[inst["public_id"]] = inst
        new: dict[tuple[str, str], MappedChannel] = {}
        for inst in backend:
            public_id = inst["public_id"]
            if public_id not in self.running_instances:
                continue
            try:
                self._add_mappings(new, public_id, await self._fetch_mappings(public_id))
            except Exception as exc:
                self._error("plugin_sync_mapping", repr(exc))
        self._use_map(new)
        self.syncs.append((time.monotonic(), len(new)))


def multiset_diff(sent: list[float], stored: list[float]) -> tuple[list[float], list[float]]:
    """(values sent but not stored, values stored more often than sent), each sorted."""
    want, have = Counter(sent), Counter(stored)
    return sorted((want - have).elements()), sorted((have - want).elements())
