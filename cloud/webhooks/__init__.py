"""Outgoing webhooks: subscribed events, signed deliveries, retries and a delivery log.

``events`` is what the rest of the cloud calls (queue an event inside its own transaction);
``dispatcher`` delivers the queue off the request path; ``addresses`` and ``signing`` are the
pure rules it follows; ``service`` manages webhooks for the REST API.
"""

from __future__ import annotations

__all__: list[str] = []
