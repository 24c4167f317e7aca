import { describe, expect, it } from "vitest";
import type { Experiment } from "../api/types";
import {
  EXPERIMENT_NAME_MAX,
  checkExperimentName,
  experimentBadge,
  experimentCsvPath,
  experimentDuration,
  runningOf,
} from "./experiments";

function experiment(overrides: Partial<Experiment>): Experiment {
  return {
    public_id: "00000000-0000-4000-8000-000000000001",
    name: "run",
    started_on: null,
    stopped_on: null,
    user_public_id: null,
    state: "planned",
    created_on: "2026-12-01T10:00:00Z",
    ...overrides,
  };
}

describe("experiments", () => {
  it("checks a name as the cloud does", () => {
    expect(checkExperimentName("  Bed 3  ")).toEqual({ ok: true, name: "Bed 3" });
    expect(checkExperimentName("   ")).toEqual({
      ok: false,
      message: "Enter a name for the experiment.",
    });
    expect(checkExperimentName("x".repeat(EXPERIMENT_NAME_MAX)).ok).toBe(true);
    expect(checkExperimentName("x".repeat(EXPERIMENT_NAME_MAX + 1)).ok).toBe(false);
  });

  it("badges each state", () => {
    expect(experimentBadge("running")).toBe("badge-ok");
    expect(experimentBadge("planned")).toBe("badge-pending");
    expect(experimentBadge("stopped")).toBe("badge-muted");
  });

  it("measures how long it ran, or runs until now", () => {
    expect(experimentDuration(experiment({}))).toBeNull();
    const ran = experiment({
      started_on: "2026-12-01T10:00:00Z",
      stopped_on: "2026-12-01T10:05:00Z",
    });
    expect(experimentDuration(ran)).toMatch(/^5\s?min/);
    const running = experiment({ started_on: "2026-12-01T10:00:00Z" });
    expect(experimentDuration(running, Date.parse("2026-12-01T12:00:00Z"))).toMatch(/^2\s?hr?/);
    // A clock behind the cloud's never shows a negative time.
    expect(experimentDuration(running, Date.parse("2026-12-01T09:00:00Z"))).toMatch(/^0\s?s/);
  });

  it("finds the running one and its CSV path", () => {
    const a = experiment({ public_id: "a", state: "stopped" });
    const b = experiment({ public_id: "b", state: "running" });
    expect(runningOf([a, b])).toBe(b);
    expect(runningOf([a])).toBeNull();
    expect(experimentCsvPath("a b")).toBe("/api/v1/experiments/a%20b/export/csv");
  });
});
