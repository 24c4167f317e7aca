"""The experiments page in a real browser against the real cloud and a streaming device:
an operator creates, starts, stops and exports an experiment; a viewer only reads."""

from __future__ import annotations

import csv
import io
import time

from tests.e2e.conftest import Stack
from tests.e2e.harness import run_script
from tests.rig.cloud import unique

BASE = "/api/v1/experiments"


def test_operator_runs_an_experiment_and_a_viewer_only_reads(stack: Stack) -> None:
    name = unique("e2e-run")
    with stack.cloud.http(stack.cloud.admin_token()) as client:
        for experiment in client.get(BASE, params={"page_size": 100}).json()["data"]:
            if experiment["state"] == "running":  # the cloud is shared: start from none
                assert client.put(f"{BASE}/{experiment['public_id']}/stop").status_code == 200
    env = {
        **stack.env("operator"),
        "E2E_EXPERIMENT_NAME": name,
        "E2E_VIEWER_EMAIL": stack.viewer.email,
        "E2E_VIEWER_PASSWORD": stack.viewer.password,
    }
    run_script("experiments.e2e.ts", "experiments", env, timeout=120)

    with stack.cloud.http(stack.cloud.admin_token()) as client:
        listed = client.get(BASE, params={"page_size": 100}).json()["data"]
        (experiment,) = [e for e in listed if e["name"] == name]
        assert experiment["state"] == "stopped"
        assert not [e for e in listed if e["name"] == f"{name}-second"]
        export = f"{BASE}/{experiment['public_id']}/export/csv"
        first = client.get(export).text
        time.sleep(1.5)  # the device keeps streaming; none of that belongs to the experiment
        assert client.get(export).text == first
    rows = list(csv.DictReader(io.StringIO(first)))
    assert rows
    assert {r["event_public_id"] for r in rows} <= {stack.level_sensor, stack.temperature_sensor}
