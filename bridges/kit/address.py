"""Listen addresses: ``HOST:PORT``, ``[IPv6]:PORT`` or ``unix:PATH``."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ListenAddress", "ListenAddressError"]


class ListenAddressError(ValueError):
    """A listen address that cannot be parsed."""


@dataclass(frozen=True, slots=True)
class ListenAddress:
    """Where a bridge listens: a TCP host and port, or a unix socket path."""

    host: str = ""
    port: int = 0
    unix_path: str = ""

    @classmethod
    def parse(cls, text: str) -> ListenAddress:
        text = text.strip()
        if text.startswith("unix:"):
            path = text.removeprefix("unix:").removeprefix("//")
            if not path:
                raise ListenAddressError(f"listen address {text!r}: unix socket path is empty")
            return cls(unix_path=path)
        host, sep, port_text = text.rpartition(":")
        if not sep or not host:
            raise ListenAddressError(
                f"listen address {text!r}: expected HOST:PORT, [IPv6]:PORT or unix:PATH"
            )
        try:
            port = int(port_text)
        except ValueError:
            raise ListenAddressError(f"listen address {text!r}: port is not a number") from None
        if not 0 <= port <= 65535:
            raise ListenAddressError(f"listen address {text!r}: port must be 0-65535")
        return cls(host=host, port=port)

    @property
    def is_unix(self) -> bool:
        return bool(self.unix_path)

    def with_port(self, port: int) -> ListenAddress:
        return ListenAddress(host=self.host, port=port)

    def grpc_target(self) -> str:
        """The address in gRPC's own notation, for servers and channels alike."""
        if self.is_unix:
            return f"unix:{self.unix_path}"
        return f"{self.host}:{self.port}"

    def __str__(self) -> str:
        return self.grpc_target()
