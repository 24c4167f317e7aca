"""Starting ``revlink bridge agent`` as a real process for tests, and a door for it to reach."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from websockets.asyncio.server import Server, ServerConnection, serve

from revlink.agent.v1 import agent_pb2 as pb
from revlink.agent.v1 import agent_pb2_grpc as pb_grpc
from revlink.uplink.v1 import uplink_pb2 as upb
from tests.rig.bridges import BridgeProcess, free_port, python_module_argv, start_bridge

__all__ = ["AgentProcess", "CloudDoor", "agent", "agent_status", "cloud_door", "start_agent"]


@dataclass
class AgentProcess:
    process: BridgeProcess
    target: str
    metrics_url: str


def agent_status(target: str) -> pb.GetStatusResponse:
    with grpc.insecure_channel(target) as channel:
        return pb_grpc.DeviceAgentServiceStub(channel).GetStatus(pb.GetStatusRequest(), timeout=5)


@contextlib.contextmanager
def start_agent(
    data_dir: Path,
    log_dir: Path,
    cloud_url: str | None = None,
    token: str | None = None,
    env: Mapping[str, str] | None = None,
    target: str | None = None,
) -> Iterator[AgentProcess]:
    target = target or f"127.0.0.1:{free_port()}"
    metrics = f"127.0.0.1:{free_port()}"
    argv = python_module_argv("revlink", "bridge", "agent", "--listen", target)
    argv += ["--data-dir", str(data_dir)]
    if cloud_url:
        argv += ["--cloud-url", cloud_url]
    child_env = {"REVLINK_AGENT_METRICS_LISTEN": metrics, "REVLINK_LOG_FORMAT": "json"}
    if token:
        child_env["REVLINK_DEVICE_TOKEN"] = token
    with start_bridge(argv, target, log_dir, env={**child_env, **(env or {})}) as process:
        yield AgentProcess(process, target, f"http://{metrics}/metrics")


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[AgentProcess]:
    """A fresh agent for one test, offline (no cloud)."""
    with start_agent(tmp_path / "agent", tmp_path / "logs") as process:
        yield process


class CloudDoor:
    """The cloud's device door as an agent sees it, so cloud writes can reach a real agent
    without a cloud: the uplink protocol (revlink.uplink.v1) on loopback, in its own thread.

    It welcomes the agent, acks every batch and keeps its records (:attr:`records`), and
    sends a channel write with :meth:`write`, which returns the agent's ChannelWriteAck.
    Point an agent at it with ``cloud_url=door.url`` and any token.
    """

    def __init__(self) -> None:
        self.url = ""
        self.records: list[upb.Record] = []
        self._loop = asyncio.new_event_loop()
        self._connected = asyncio.Event()
        self._socket: ServerConnection | None = None
        self._server: Server | None = None
        self._acks: dict[int, asyncio.Future[upb.ChannelWriteAck]] = {}
        self._write_seq = self._committed = 0
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def open(self) -> None:
        async def listen() -> Server:
            return await serve(self._session, "127.0.0.1", 0, max_size=None)

        self._thread.start()
        self._server = self._run(listen())
        self.url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    def close(self) -> None:
        async def shut(server: Server) -> None:
            server.close()
            await server.wait_closed()

        if self._server is not None:
            self._run(shut(self._server))
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def write(self, channel: str, aggregate: Any, *, replace: bool = True) -> upb.ChannelWriteAck:
        """Write the channel's aggregate (whole by default) once the agent is connected."""
        ack: upb.ChannelWriteAck = self._run(self._write(channel, json.dumps(aggregate), replace))
        return ack

    def records_on(self, channel: str) -> list[upb.Record]:
        return [record for record in list(self.records) if record.channel == channel]

    def _run(self, coro: Any, timeout: float = 20) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    async def _write(self, channel: str, patch_json: str, replace: bool) -> upb.ChannelWriteAck:
        await asyncio.wait_for(self._connected.wait(), 15)
        assert self._socket is not None
        self._write_seq += 1
        ack = self._acks[self._write_seq] = self._loop.create_future()
        write = upb.ChannelWrite(
            seq=self._write_seq,
            write_id=str(uuid.uuid4()),
            channel=channel,
            patch_json=patch_json,
            replace=replace,
        )
        write.issue_time.GetCurrentTime()
        await self._socket.send(upb.CloudFrame(channel_write=write).SerializeToString())
        return await asyncio.wait_for(ack, 15)

    async def _session(self, socket: ServerConnection) -> None:
        hello = upb.DeviceFrame.FromString(await socket.recv()).hello
        self._write_seq = max(self._write_seq, hello.last_applied_write_seq)
        welcome = upb.Welcome(
            device_id=str(uuid.UUID(int=1)),
            last_committed_seq=self._committed,
            max_batch_size=500,
            max_frame_bytes=1 << 20,
        )
        await socket.send(upb.CloudFrame(welcome=welcome).SerializeToString())
        self._socket = socket
        self._connected.set()
        try:
            async for data in socket:
                frame = upb.DeviceFrame.FromString(data if isinstance(data, bytes) else b"")
                if frame.WhichOneof("frame") == "batch" and frame.batch.records:
                    self.records.extend(frame.batch.records)
                    self._committed = frame.batch.records[-1].seq
                    ack = upb.CloudFrame(ack=upb.Ack(up_to_seq=self._committed))
                    await socket.send(ack.SerializeToString())
                elif frame.WhichOneof("frame") == "channel_write_ack":
                    waiting = self._acks.pop(frame.channel_write_ack.seq, None)
                    if waiting is not None and not waiting.done():
                        waiting.set_result(frame.channel_write_ack)
        finally:
            self._connected.clear()
            self._socket = None


@contextlib.contextmanager
def cloud_door() -> Iterator[CloudDoor]:
    door = CloudDoor()
    door.open()
    try:
        yield door
    finally:
        door.close()
