"""Server configuration: a plain value object, and the settings base it is read from."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from bridges.kit.address import ListenAddress

__all__ = ["BridgeSettings", "ServerConfig"]

MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """Everything the kit needs to run one bridge's gRPC server."""

    listen: ListenAddress
    token: str | None = None
    grace_period_s: float = 5.0
    max_message_bytes: int = 4 * MIB
    # Server pings idle clients this often and drops them when no answer comes in time;
    # this is what detects half-open connections behind NAT or a pulled cable.
    keepalive_time_s: float = 30.0
    keepalive_timeout_s: float = 10.0
    # Clients (the SDK pings every 10 s on unary channels) may ping this often without
    # being sent GOAWAY "too_many_pings".
    min_client_ping_interval_s: float = 5.0

    def grpc_options(self) -> list[tuple[str, int]]:
        return [
            ("grpc.max_receive_message_length", self.max_message_bytes),
            ("grpc.max_send_message_length", self.max_message_bytes),
            ("grpc.keepalive_time_ms", int(self.keepalive_time_s * 1000)),
            ("grpc.keepalive_timeout_ms", int(self.keepalive_timeout_s * 1000)),
            ("grpc.keepalive_permit_without_calls", 1),
            ("grpc.http2.max_pings_without_data", 0),
            (
                "grpc.http2.min_ping_interval_without_data_ms",
                int(self.min_client_ping_interval_s * 1000),
            ),
            (
                "grpc.http2.min_recv_ping_interval_without_data_ms",
                int(self.min_client_ping_interval_s * 1000),
            ),
            # Without this, Linux lets a second bridge bind the same port silently and the
            # kernel splits connections between the two.
            ("grpc.so_reuseport", 0),
        ]


class BridgeSettings(BaseSettings):
    """Settings shared by every bridge, read from ``REVLINK_*`` environment variables.

    Each bridge subclasses this and adds its own ``listen`` default and options.
    """

    model_config = SettingsConfigDict(env_prefix="REVLINK_", extra="ignore")

    bridge_token: SecretStr | None = Field(
        default=None, description="Shared token every non-health call must present."
    )
    grace_period: float = Field(
        default=5.0, ge=0, description="Seconds in-flight calls get to finish on shutdown."
    )
    max_message_bytes: int = Field(
        default=4 * MIB, ge=1024, le=64 * MIB, description="Largest gRPC message accepted/sent."
    )
    keepalive_time: float = Field(default=30.0, gt=0, description="Server keepalive ping period.")
    keepalive_timeout: float = Field(
        default=10.0, gt=0, description="How long a keepalive ping may go unanswered."
    )

    def server_config(self, listen: str) -> ServerConfig:
        token = self.bridge_token.get_secret_value() if self.bridge_token else None
        return ServerConfig(
            listen=ListenAddress.parse(listen),
            token=token or None,
            grace_period_s=self.grace_period,
            max_message_bytes=self.max_message_bytes,
            keepalive_time_s=self.keepalive_time,
            keepalive_timeout_s=self.keepalive_timeout,
        )
