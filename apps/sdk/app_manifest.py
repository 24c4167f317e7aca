"""An app tells the cloud what it is: its entry in the device's ``app_manifests`` channel.

``{APP_KEY: {"display_name": ..., "config_schema": <JSON Schema 2020-12>, "sdk": ...}}``,
published when the app starts, so the cloud can offer a config form for it and check a
person's config against the schema before it is sent. The entry is a merge patch against
what the channel holds, so a schema that lost an element loses it in the cloud too. Channel
aggregates cannot hold JSON nulls (a null in a merge patch deletes), so schema members whose
value is null, such as ``"default": null``, are left out; they carry no rule.
"""

from __future__ import annotations

from typing import Any

from apps.sdk.agent import DeviceAgentInterface
from apps.sdk.config import Schema
from revlink import __version__
from revlink.channels import merge_diff, merge_patch

__all__ = ["MANIFEST_CHANNEL", "announce", "manifest_entry"]

MANIFEST_CHANNEL = "app_manifests"


def manifest_entry(
    display_name: str, config_cls: type[Schema] | None, app_key: str
) -> dict[str, Any]:
    entry: dict[str, Any] = {"sdk": f"revlink {__version__}"}
    if display_name:  # else the cloud names the app from its UI, or by its key
        entry["display_name"] = display_name
    if config_cls is not None:
        entry["config_schema"] = config_cls.to_json_schema(display_name or app_key)
    return merge_patch({}, entry)


async def announce(
    agent: DeviceAgentInterface, app_key: str, display_name: str, config_cls: type[Schema] | None
) -> bool:
    """Publish the app's entry if it changed; True when something was published."""
    entry = manifest_entry(display_name, config_cls, app_key)
    current = (await agent.get_channel_aggregate_async(MANIFEST_CHANNEL)).get(app_key)
    patch = merge_diff(current, entry) if isinstance(current, dict) else entry
    if not patch:
        return False
    await agent.publish_async(MANIFEST_CHANNEL, aggregate={app_key: patch}, datapoints=False)
    return True
