"""The queue's pure rules: admission at every edge, publish validation, the aggregate merge."""

from __future__ import annotations

import json

import pytest

from bridges.agent.queue.admission import (
    MAX_IDEMPOTENCY_KEY_CHARS,
    Admission,
    FullPolicy,
    QueueLimits,
    apply_patch,
    check_publish,
    full_message,
    plan_admission,
)
from revlink.channels import InvalidPayloadError

DROP = QueueLimits(max_records=3, max_bytes=100, policy=FullPolicy.DROP_OLDEST)
REFUSE = QueueLimits(max_records=3, max_bytes=100, policy=FullPolicy.REFUSE_NEW)
FITS = Admission(accept=True, evict_records=0, evict_bytes=0)
REFUSED = Admission(accept=False, evict_records=0, evict_bytes=0)


def test_limits_defaults_and_validation() -> None:
    limits = QueueLimits()
    assert (limits.max_records, limits.max_bytes) == (100_000, 64 * 1024 * 1024)
    assert limits.policy is FullPolicy.DROP_OLDEST
    assert QueueLimits(max_records=1, max_bytes=1).max_bytes == 1
    with pytest.raises(ValueError, match="max_records must be at least 1"):
        QueueLimits(max_records=0)
    with pytest.raises(ValueError, match="max_bytes must be at least 1"):
        QueueLimits(max_bytes=0)


def test_policy_accepts_its_configuration_string() -> None:
    limits = QueueLimits(policy="refuse-new")  # type: ignore[arg-type]
    assert limits.policy is FullPolicy.REFUSE_NEW
    with pytest.raises(ValueError, match="keep-both"):
        QueueLimits(policy="keep-both")  # type: ignore[arg-type]


@pytest.mark.parametrize("limits", [DROP, REFUSE], ids=["drop-oldest", "refuse-new"])
@pytest.mark.parametrize(
    ("depth", "size_bytes", "new_size"),
    [
        (0, 0, 0),  # empty queue, empty record
        (0, 0, 100),  # one record exactly max_bytes
        (2, 50, 50),  # lands exactly on both limits
        (2, 99, 1),
    ],
)
def test_records_that_fit_evict_nothing(
    limits: QueueLimits, depth: int, size_bytes: int, new_size: int
) -> None:
    assert plan_admission(depth, size_bytes, new_size, limits) == FITS


@pytest.mark.parametrize(
    ("depth", "size_bytes", "new_size", "expected"),
    [
        (3, 30, 10, Admission(True, 1, 0)),  # depth == max: one record must go
        (5, 30, 10, Admission(True, 3, 0)),  # limits lowered below the depth on disk
        (1, 95, 10, Admission(True, 0, 5)),  # one byte count over: bytes, not records
        (0, 0, 101, REFUSED),  # larger than the whole queue
        (3, 100, 100, Admission(True, 1, 100)),  # both limits at once; exactly max_bytes
        (2, 91, 10, Admission(True, 0, 1)),  # one byte over
    ],
)
def test_drop_oldest_evicts_the_minimum(
    depth: int, size_bytes: int, new_size: int, expected: Admission
) -> None:
    assert plan_admission(depth, size_bytes, new_size, DROP) == expected


@pytest.mark.parametrize(
    ("depth", "size_bytes", "new_size"),
    [(3, 30, 10), (1, 95, 10), (2, 91, 10), (0, 1, 100), (0, 0, 101), (3, 100, 100)],
)
def test_refuse_new_refuses_without_evicting(depth: int, size_bytes: int, new_size: int) -> None:
    assert plan_admission(depth, size_bytes, new_size, REFUSE) == REFUSED


def test_negative_inputs_are_a_bug() -> None:
    with pytest.raises(ValueError, match=">= 0"):
        plan_admission(-1, 0, 0, DROP)
    with pytest.raises(ValueError, match=">= 0"):
        plan_admission(0, 0, -5, DROP)


def test_full_message_names_the_numbers() -> None:
    assert full_message(3, 40, 10, "tank", REFUSE) == (
        "queue full (refuse-new): 3/3 records, 40/100 bytes; refused a 10-byte record on 'tank'"
    )
    assert "exceeds the whole queue (100 B)" in full_message(0, 0, 101, "tank", DROP)


def test_check_publish_returns_patch_and_size() -> None:
    assert check_publish("tank", '{"a": 1}', "", "") == (None, 8 + 4)
    # Size counts UTF-8 bytes: "é" is two.
    assert check_publish("t", '{"s": "é"}', '{"b": null}', "k") == ({"b": None}, 11 + 11 + 1)
    assert check_publish("t", "", "{}", "") == ({}, 3)
    declared = '{"$fields": {"a.b": {"unit": "%", "name": "A"}, "c": null, "d": {}}}'
    assert check_publish("t", "", declared, "")[0] == json.loads(declared)
    assert check_publish("t", "", '{"$fields": null}', "")[0] == {"$fields": None}


@pytest.mark.parametrize(
    ("channel", "message", "aggregate", "key", "error"),
    [
        ("bad channel", '{"a": 1}', "", "", "must be 1-128 characters"),
        ("", '{"a": 1}', "", "", "must be 1-128 characters"),
        ("x" * 129, '{"a": 1}', "", "", "must be 1-128 characters"),
        ("tank", '{"a": NaN}', "", "", "message_json: NaN is not a number JSON allows"),
        ("tank", "", '{"a": Infinity}', "", "aggregate_json: Infinity is not a number"),
        ("tank", "[1, 2]", "", "", "message_json must be a JSON object, not list"),
        ("tank", "", '"text"', "", "aggregate_json must be a JSON object, not str"),
        ("tank", "{", "", "", "message_json is not valid JSON"),
        ("tank", "", "", "", "needs message_json, aggregate_json or both"),
        ("tank", "{}", "", "k" * (MAX_IDEMPOTENCY_KEY_CHARS + 1), "idempotency_key is longer"),
        # Field declarations: refused here, where the app hears why (the cloud skips them).
        ("tank", "", '{"$fields": [1]}', "", r"\$fields must be an object"),
        ("tank", "", '{"$fields": {"a": "degC"}}', "", r"\$fields.a must be an object"),
        ("tank", "", '{"$fields": {"a": {"unit": 1}}}', "", r"\$fields.a.unit must be a str"),
        ("tank", "", '{"$fields": {"a": {"unit": "' + "u" * 33 + '"}}}', "", "at most 32"),
        ("tank", "", '{"$fields": {"a": {"name": " "}}}', "", r"\$fields.a.name must be"),
        ("tank", "", '{"$fields": {"a": {"units": "V"}}}', "", "unknown members"),
        ("tank", "", '{"$fields": {"": {}}}', "", "field paths of 1-300"),
    ],
)
def test_check_publish_refuses_with_the_reason(
    channel: str, message: str, aggregate: str, key: str, error: str
) -> None:
    with pytest.raises(InvalidPayloadError, match=error):
        check_publish(channel, message, aggregate, key)


def test_apply_patch_merges_replaces_and_deletes_with_null() -> None:
    current = '{"a":1,"b":{"c":2,"d":3}}'
    assert apply_patch(current, {"b": {"c": None, "e": 4}, "f": "é"}, False) == (
        '{"a":1,"b":{"d":3,"e":4},"f":"é"}'
    )
    assert apply_patch(current, {"z": 1, "gone": None}, True) == '{"z":1}'
    assert apply_patch(current, {}, False) == '{"a":1,"b":{"c":2,"d":3}}'


def test_apply_patch_refuses_numbers_json_cannot_write_back() -> None:
    with pytest.raises(InvalidPayloadError, match="out of range"):
        apply_patch("{}", {"x": float("inf")}, False)
