"""The webhook address policy and signing, pure functions tested at their edges."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re

import pytest

from cloud.webhooks.addresses import check_url, literal_ip, parse_networks, refusal
from cloud.webhooks.signing import encode_body, sign, signed_headers, verify


def ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return ipaddress.ip_address(text)


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.255.255.255", "loopback"),
        ("10.0.0.0", "private"),
        ("10.255.255.255", "private"),
        ("172.16.0.0", "private"),
        ("172.31.255.255", "private"),
        ("192.168.1.1", "private"),
        ("100.64.0.0", "carrier-grade NAT"),
        ("100.127.255.255", "carrier-grade NAT"),
        ("169.254.169.254", "link-local"),  # cloud metadata
        ("169.254.0.1", "link-local"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("239.255.255.250", "multicast"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("192.0.2.1", "documentation"),
        ("198.18.0.1", "benchmarking"),
        ("::", "unspecified"),
        ("::1", "loopback"),
        ("fc00::1", "private"),
        ("fd12:3456::1", "private"),
        ("fe80::1", "link-local"),
        ("febf:ffff::1", "link-local"),
        ("ff02::1", "multicast"),
        ("2001:db8::1", "documentation"),
        ("::ffff:127.0.0.1", "loopback (inside ::ffff:7f00:1)"),
        ("::ffff:169.254.169.254", "link-local (inside ::ffff:a9fe:a9fe)"),
        ("64:ff9b::a00:1", "private (inside 64:ff9b::a00:1)"),  # NAT64 of 10.0.0.1
        ("2002:7f00:1::", "loopback (inside 2002:7f00:1::)"),  # 6to4 of 127.0.0.1
    ],
)
def test_non_public_addresses_are_refused_with_the_reason(address: str, reason: str) -> None:
    assert refusal(ip(address)) == reason


@pytest.mark.parametrize(
    "address",
    [
        "8.8.8.8",
        "1.1.1.1",
        "100.63.255.255",  # just below CGNAT
        "100.128.0.0",  # just above it
        "172.15.255.255",  # just below 172.16/12
        "172.32.0.0",  # just above it
        "169.253.255.255",
        "11.0.0.0",
        "2606:4700:4700::1111",
        "::ffff:8.8.8.8",
        "64:ff9b::808:808",  # NAT64 of 8.8.8.8
    ],
)
def test_public_addresses_pass(address: str) -> None:
    assert refusal(ip(address)) is None


def test_the_allowlist_admits_exactly_its_networks() -> None:
    allowed = parse_networks("127.0.0.1/32, 10.0.0.0/8")
    assert refusal(ip("127.0.0.1"), allowed) is None
    assert refusal(ip("127.0.0.2"), allowed) == "loopback"
    assert refusal(ip("10.200.1.1"), allowed) is None
    assert refusal(ip("11.0.0.1"), allowed) is None  # public anyway
    assert refusal(ip("::ffff:127.0.0.1"), allowed) is None  # the IPv4 inside is allowed
    assert refusal(ip("::1"), allowed) == "loopback"  # IPv4 networks do not cover IPv6
    assert refusal(ip("fe80::1"), parse_networks("fe80::/10")) is None


def test_parse_networks() -> None:
    assert parse_networks("") == ()
    assert parse_networks(" , ") == ()
    assert parse_networks("127.0.0.1") == (ipaddress.ip_network("127.0.0.1/32"),)
    assert parse_networks("::1/128,192.168.0.0/16") == (
        ipaddress.ip_network("::1/128"),
        ipaddress.ip_network("192.168.0.0/16"),
    )
    with pytest.raises(ValueError, match=re.escape("not a network in CIDR form: '10.0.0.1/8'")):
        parse_networks("10.0.0.1/8")  # host bits set: almost always a typo
    with pytest.raises(ValueError, match=re.escape("'example.com'")):
        parse_networks("10.0.0.0/8,example.com")


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("[::1]", "::1"),
        ("::ffff:127.0.0.1", "::ffff:7f00:1"),
        ("2130706433", "127.0.0.1"),  # decimal
        ("0x7f.1", "127.0.0.1"),  # hex and short forms
        ("127.1", "127.0.0.1"),
        ("017700000001", "127.0.0.1"),  # octal
        ("fe80::1%eth0", "fe80::1"),
        ("example.com", None),
        ("1e100.net", None),
        ("123.abc", None),
        ("localhost", None),
    ],
)
def test_literal_ip_knows_every_spelling_a_resolver_takes(host: str, expected: str | None) -> None:
    found = literal_ip(host)
    assert (str(found) if found else None) == expected


def test_check_url_at_creation() -> None:
    assert check_url("https://hooks.example.com/x?y=1").hostname == "hooks.example.com"
    assert check_url("http://localhost:8080/").hostname == "localhost"  # a name: checked later
    assert check_url("http://127.0.0.1:9/", parse_networks("127.0.0.1/32")).port == 9
    for url, message in (
        ("ftp://example.com/", "must start with http:// or https://"),
        ("http:///path", "has no host"),
        ("http://example.com:0/", "port must be 1..65535"),
        ("http://example.com:99999/", "not a valid URL"),
        ("http://127.0.0.1/", "address not allowed: 127.0.0.1 is loopback"),
        ("http://[::1]:80/", "address not allowed: ::1 is loopback"),
        ("http://0x7f000001/", "address not allowed: 127.0.0.1 is loopback"),
        ("http://169.254.169.254/", "address not allowed: 169.254.169.254 is link-local"),
    ):
        with pytest.raises(ValueError, match=re.escape(message)):
            check_url(url)


def test_signature_covers_the_timestamp_and_the_body() -> None:
    body = encode_body({"b": 1, "a": "é"})
    assert body == '{"a":"é","b":1}'.encode()  # compact, sorted: the same bytes every try
    headers = signed_headers("k", 1_700_000_000, body)
    assert headers["X-Webhook-Timestamp"] == "1700000000"
    assert headers["X-Webhook-Signature"] == sign("k", 1_700_000_000, body)
    # HMAC-SHA256 keyed with the secret over "<timestamp>." + body, as a receiver computes it:
    expected = hmac.new(b"k", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert headers["X-Webhook-Signature"] == expected
    ok = headers["X-Webhook-Signature"]
    assert verify("k", "1700000000", ok, body, now=1_700_000_100)
    assert not verify("k", "1700000001", ok, body, now=1_700_000_100)  # another timestamp
    assert not verify("k", "1700000000", ok, body + b" ", now=1_700_000_100)  # another body
    assert not verify("other", "1700000000", ok, body, now=1_700_000_100)
    assert not verify("k", "1700000000", ok, body, now=1_700_000_301)  # too old: a replay
    assert verify("k", "1700000000", ok, body, now=1_700_000_300)  # the edge still passes
    assert not verify("k", "soon", ok, body, now=1_700_000_000)
    assert "X-Webhook-Signature" not in signed_headers(None, 1, body)
