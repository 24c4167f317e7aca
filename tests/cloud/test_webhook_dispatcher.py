"""The webhook dispatcher on real PostgreSQL (and SQLite) against a real loopback receiver:
signed deliveries and their log, retries with backoff then dead letter, timeouts, the
concurrency bound, exactly-once with two dispatchers on one database, a crashed claim
retried after its lease, the address check at delivery time (and TLS to the checked address
with the name as SNI), disabled webhooks."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cloud.db.migrate import upgrade
from cloud.db.session import Database
from cloud.models import AttemptOutcome
from cloud.webhooks import service
from cloud.webhooks.dispatcher import DISABLED_ERROR, WebhookDispatcher, retry_delay
from cloud.webhooks.sender import Result
from tests.rig.platform import wait_for
from tests.rig.webhooks import (
    SECRET,
    Receiver,
    add_hook,
    attempts,
    database_url_fixture,
    db_fixture,
    emit,
    receiver_fixture,
    rows,
    running,
    settings,
    until,
    verify_signature,
)

__all__ = ["database_url_fixture", "db_fixture", "receiver_fixture"]  # fixtures, used by name


async def test_a_delivery_is_signed_over_timestamp_and_body_and_logged(
    db: Database, receiver: Receiver
) -> None:
    hook = await add_hook(db, receiver.url())
    async with running(db, settings()):
        assert await emit(db) == 1
        [delivery] = await until(db, hook, {"delivered"})
    [request] = receiver.on("/ok")
    assert verify_signature(request, SECRET)
    assert int(request.headers["x-webhook-timestamp"]) > 0
    assert not verify_signature(
        type(request)(request.path, request.headers, request.body + b" "), SECRET
    )
    assert request.headers["host"] == f"127.0.0.1:{receiver.port}"
    assert request.headers["user-agent"] == "revlink-webhooks/1"
    assert request.headers["x-webhook-delivery"] == str(delivery.public_id)
    body = request.json()
    assert body["type"] == "device.online"
    assert body["n"] == 0
    assert body == delivery.payload
    assert (delivery.attempts, delivery.response_code, delivery.last_error) == (1, 200, None)
    assert delivery.delivered_on is not None
    assert delivery.lease_until is None
    [attempt] = await attempts(db, delivery)
    assert (attempt.attempt, attempt.outcome, attempt.response_code, attempt.error) == (
        1,
        "delivered",
        200,
        None,
    )
    assert attempt.latency_ms is not None
    assert attempt.latency_ms >= 0


async def test_no_secret_means_no_signature_but_a_timestamp(
    db: Database, receiver: Receiver
) -> None:
    await add_hook(db, receiver.url(), secret=None)
    async with running(db, settings()):
        await emit(db)
        await asyncio.to_thread(receiver_waits, receiver, "/ok", 1)
    [request] = receiver.on("/ok")
    assert "x-webhook-signature" not in request.headers
    assert "x-webhook-timestamp" in request.headers


def receiver_waits(target: Receiver, path: str, count: int) -> None:
    wait_for(lambda: len(target.on(path)) >= count, 15, f"{count} requests on {path}")


async def test_a_500_target_is_retried_with_backoff_then_dead_lettered(
    db: Database, receiver: Receiver
) -> None:
    receiver.set("/fail", status=500)
    config = settings(webhook_backoff_seconds=0.2, webhook_max_attempts=4)
    hook = await add_hook(db, receiver.url("/fail"))
    async with running(db, config):
        await emit(db)
        [delivery] = await until(db, hook, {"dead_letter"})
    assert len(receiver.on("/fail")) == 4
    assert [r.headers["x-webhook-attempt"] for r in receiver.on("/fail")] == ["1", "2", "3", "4"]
    assert (delivery.attempts, delivery.response_code, delivery.last_error) == (4, 500, "HTTP 500")
    tries = await attempts(db, delivery)
    assert [(a.attempt, a.outcome, a.response_code) for a in tries] == [
        (n, "http_error", 500) for n in (1, 2, 3, 4)
    ]
    # Each retry waited at least its backoff: 0.2, 0.4, 0.8 s (WebMACS's 2, 4, 8 s, scaled).
    assert [retry_delay(config, n) for n in (1, 2, 3)] == [0.2, 0.4, 0.8]
    for n, (before, after) in enumerate(itertools.pairwise(tries), start=1):
        gap = (after.started_at - before.started_at).total_seconds()
        assert gap >= retry_delay(config, n) - 0.01, (n, gap)


async def test_a_slow_target_is_a_timeout_attempt_and_is_retried(
    db: Database, receiver: Receiver
) -> None:
    receiver.set("/slow", delay=2.0)
    hook = await add_hook(db, receiver.url("/slow"))
    async with running(db, settings(webhook_timeout_seconds=0.3, webhook_max_attempts=2)):
        await emit(db)
        [delivery] = await until(db, hook, {"dead_letter"})
    tries = await attempts(db, delivery)
    assert [(a.outcome, a.response_code, a.error) for a in tries] == [
        ("timeout", None, "timeout after 0.3 s"),
        ("timeout", None, "timeout after 0.3 s"),
    ]
    assert all(a.latency_ms is not None and a.latency_ms >= 300 for a in tries)
    assert len(receiver.on("/slow")) == 2


async def test_no_more_than_the_concurrency_setting_are_in_flight(
    db: Database, receiver: Receiver
) -> None:
    receiver.set("/busy", delay=0.3)
    hook = await add_hook(db, receiver.url("/busy"))
    async with running(
        db, settings(webhook_concurrency=3, webhook_timeout_seconds=2, webhook_lease_seconds=5)
    ) as one:
        await emit(db, 12)
        await until(db, hook, {"delivered"})
    assert len(receiver.on("/busy")) == 12
    assert receiver.max_in_flight == 3  # the bound, and reached: they do run side by side
    assert one.max_inflight_seen == 3


async def test_two_dispatchers_on_one_database_deliver_each_exactly_once(
    database_url: str, db: Database, receiver: Receiver
) -> None:
    """Two dispatchers, each with its own engine, as two cloud replicas would have."""
    other = Database(database_url)
    hook = await add_hook(db, receiver.url())
    try:
        async with (
            running(db, settings(webhook_concurrency=4)) as one,
            running(other, settings(webhook_concurrency=4)) as two,
        ):
            await emit(db, 40)
            found = await until(db, hook, {"delivered"})
            await asyncio.sleep(0.5)  # a duplicate would have had time to arrive
    finally:
        await other.dispose()
    sent = [r.headers["x-webhook-delivery"] for r in receiver.on("/ok")]
    assert len(found) == 40
    assert sorted(sent) == sorted(str(d.public_id) for d in found)  # each once, none twice
    assert one.max_inflight_seen > 0
    assert two.max_inflight_seen > 0  # both took part


async def test_a_claim_whose_replica_died_is_retried_after_the_lease(
    db: Database, receiver: Receiver
) -> None:
    hook = await add_hook(db, receiver.url())
    config = settings(webhook_lease_seconds=1.0)
    await emit(db)
    crashed = WebhookDispatcher(db, config)
    [claim] = await crashed.claim(10)  # claimed, then "killed" before sending
    assert await WebhookDispatcher(db, config).claim(10) == []  # leased: nobody else takes it
    async with running(db, config):
        [delivery] = await until(db, hook, {"delivered"})
    assert len(receiver.on("/ok")) == 1
    assert delivery.attempts == 1
    # The dead replica's late answer cannot overwrite the newer claim's result.

    late = Result(AttemptOutcome.HTTP_ERROR, 500, 1, "HTTP 500")
    assert await crashed.record(claim, late, datetime.now(UTC)) is False
    [after] = await rows(db, hook)
    assert (after.status, after.response_code) == ("delivered", 200)


async def test_a_name_resolving_to_loopback_is_refused_at_delivery_without_the_allowlist(
    db: Database, receiver: Receiver
) -> None:
    """``localhost`` passes the creation check (it is a name), but it resolves to loopback."""
    hook = await add_hook(db, receiver.url(host="localhost"), allowed="")
    async with running(db, settings(webhook_allowed_networks="")):
        await emit(db)
        [delivery] = await until(db, hook, {"failed"})
    assert receiver.requests == []
    assert delivery.attempts == 1  # not retried
    assert delivery.last_error is not None
    assert delivery.last_error.startswith("address not allowed: localhost resolves to ")
    [attempt] = await attempts(db, delivery)
    assert (attempt.outcome, attempt.response_code, attempt.latency_ms) == ("refused", None, None)


async def test_the_same_name_is_delivered_with_the_allowlist(
    db: Database, receiver: Receiver
) -> None:
    # localhost may resolve to ::1 too; every resolved address must be allowed.
    allowed = "127.0.0.1/32,::1/128"
    hook = await add_hook(db, receiver.url(host="localhost"), allowed=allowed)
    async with running(db, settings(webhook_allowed_networks=allowed)):
        await emit(db)
        await until(db, hook, {"delivered"})
    [request] = receiver.on("/ok")
    assert request.headers["host"] == f"localhost:{receiver.port}"  # the name, not the address


async def test_deliveries_of_a_disabled_webhook_are_not_sent(
    db: Database, receiver: Receiver
) -> None:
    hook = await add_hook(db, receiver.url())
    await emit(db)
    async with db.transaction() as session:
        await service.update_webhook(
            session, hook.public_id, service.WebhookChanges(enabled=False), ()
        )
    async with running(db, settings()):
        [delivery] = await until(db, hook, {"failed"})
    assert delivery.last_error == DISABLED_ERROR
    assert receiver.requests == []


async def test_sqlite_delivers_too(tmp_path: Path, receiver: Receiver) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cloud.db'}"
    await asyncio.to_thread(upgrade, url)
    lite = Database(url)
    try:
        hook = await add_hook(lite, receiver.url())
        async with running(lite, settings()):
            await emit(lite, 3)
            found = await until(lite, hook, {"delivered"})
    finally:
        await lite.dispose()
    assert len(found) == 3
    assert len(receiver.on("/ok")) == 3
    assert all(verify_signature(r, SECRET) for r in receiver.on("/ok"))


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[int, list[str | None]]]:
    """A TLS listener on 127.0.0.1 with a self-signed certificate (which no public CA vouches
    for) that records the server name (SNI) each client asks for."""
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    names: list[str | None] = []
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    context.sni_callback = lambda _sock, name, _ctx: names.append(name)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(10)

    def serve() -> None:
        with contextlib.suppress(OSError):
            conn, _ = listener.accept()
            with contextlib.suppress(ssl.SSLError, OSError):
                context.wrap_socket(conn, server_side=True).close()
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1], names
    listener.close()
    thread.join(5)


async def test_https_connects_to_the_checked_address_with_the_name_as_sni(
    db: Database, tls_server: tuple[int, list[str | None]]
) -> None:
    """The request goes to the address that was checked, while TLS still asks for (and
    verifies the certificate against) the name: an untrusted certificate fails the try."""
    port, names = tls_server
    allowed = "127.0.0.1/32,::1/128"
    hook = await add_hook(db, f"https://localhost:{port}/hook", allowed=allowed)
    async with running(db, settings(webhook_allowed_networks=allowed, webhook_max_attempts=1)):
        await emit(db)
        [delivery] = await until(db, hook, {"dead_letter"})
    assert names == ["localhost"]
    [attempt] = await attempts(db, delivery)
    assert attempt.outcome == "connection_error"
    assert attempt.error is not None
    assert "CERTIFICATE_VERIFY_FAILED" in attempt.error
