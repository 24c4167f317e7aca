"""Commands for devices: framed for the uplink and handed to the device's live connection.

Only online devices can take a command for now; keeping commands for offline devices and
tracking their receipts is a later step.
"""

from __future__ import annotations

import json
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from cloud.services.errors import InvalidInputError
from revlink.channels import check_channel
from revlink.uplink.v1 import uplink_pb2 as pb

__all__ = ["MAX_COMMAND_BYTES", "command_frame"]

MAX_COMMAND_BYTES = 64 * 1024


def command_frame(
    channel: str, payload: dict[str, Any], expires_in: timedelta | None = None
) -> tuple[str, bytes]:
    """(command id, the CloudFrame carrying it); ValueError for a bad channel or payload."""
    check_channel(channel)
    text = json.dumps(payload, allow_nan=False)
    if len(text.encode()) > MAX_COMMAND_BYTES:
        raise InvalidInputError(f"command payload exceeds {MAX_COMMAND_BYTES} bytes")
    command_id = str(uuid.UUID(bytes=secrets.token_bytes(16), version=4))
    command = pb.Command(command_id=command_id, channel=channel, payload_json=text)
    now = datetime.now(UTC)
    command.issue_time.FromDatetime(now)
    if expires_in is not None:
        command.expire_time.FromDatetime(now + expires_in)
    return command_id, pb.CloudFrame(command=command).SerializeToString()
