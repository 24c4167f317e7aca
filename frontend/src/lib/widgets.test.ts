import { describe, expect, it } from "vitest";
import type { WidgetSensor } from "../api/types";
import {
  CONFIG_MAX_BYTES,
  checkConfig,
  freshness,
  gaugeFraction,
  gaugeRange,
  isOn,
  mergeSeries,
  parseConfig,
  toggleDisabledReason,
  togglePatch,
  toggleTarget,
  toggleValues,
  windowMs,
} from "./widgets";

function sensor(overrides: Partial<WidgetSensor> = {}): WidgetSensor {
  return {
    public_id: "00000000-0000-4000-8000-000000000001",
    name: "Pump",
    unit: "",
    min_value: null,
    max_value: null,
    device_id: "00000000-0000-4000-8000-0000000000d1",
    key: "plant.pump.on",
    ...overrides,
  };
}

describe("config", () => {
  it("parses an object and nothing else", () => {
    expect(parseConfig('{"min": 1}')).toEqual({ min: 1 });
    expect(parseConfig("[1]")).toEqual({});
    expect(parseConfig("nope")).toEqual({});
    expect(parseConfig(null)).toEqual({});
  });

  it("checks what the cloud checks, at the size limit's edge", () => {
    const edge = `{"n":"${"a".repeat(CONFIG_MAX_BYTES - 8)}"}`;
    expect(new TextEncoder().encode(edge).length).toBe(CONFIG_MAX_BYTES);
    expect(checkConfig("stat_card", edge)).toBeNull();
    const over = `{"n":"é${"a".repeat(CONFIG_MAX_BYTES - 9)}"}`;
    expect(checkConfig("stat_card", over)).toBe(
      `is ${CONFIG_MAX_BYTES + 1} bytes; the limit is ${CONFIG_MAX_BYTES}`,
    );
    expect(checkConfig("stat_card", "")).toBeNull();
    expect(checkConfig("stat_card", "[]")).toBe("must be a JSON object ({…})");
    expect(checkConfig("stat_card", "{")).toMatch(/^is not valid JSON/);
    expect(checkConfig("gauge", '{"min": 5, "max": 5}')).toBe("min must be less than max");
    expect(checkConfig("gauge", '{"min": "low"}')).toBe("min must be a number");
    expect(checkConfig("actuator_toggle", '{"on_value": 2, "off_value": 2}')).toBe(
      "off_value and on_value must differ",
    );
    expect(checkConfig("line_chart", '{"minutes": 1440}')).toBeNull();
    expect(checkConfig("line_chart", '{"minutes": 0}')).toMatch(/^minutes must be/);
    expect(checkConfig("line_chart", '{"minutes": 1441}')).toMatch(/^minutes must be/);
  });

  it("gives a line chart its window", () => {
    expect(windowMs({})).toBe(10 * 60_000);
    expect(windowMs({ minutes: 60 })).toBe(3_600_000);
    expect(windowMs({ minutes: 0 })).toBe(10 * 60_000);
  });
});

describe("gauge", () => {
  it("takes the config's range over the sensor's", () => {
    const s = sensor({ min_value: 0, max_value: 80 });
    expect(gaugeRange(s, {})).toEqual({ min: 0, max: 80 });
    expect(gaugeRange(s, { min: -10 })).toEqual({ min: -10, max: 80 });
    expect(gaugeRange(sensor(), {})).toBeNull();
    expect(gaugeRange(null, { min: 5, max: 1 })).toBeNull();
  });

  it("clamps the fraction", () => {
    expect(gaugeFraction(40, { min: 0, max: 80 })).toBe(0.5);
    expect(gaugeFraction(-5, { min: 0, max: 80 })).toBe(0);
    expect(gaugeFraction(200, { min: 0, max: 80 })).toBe(1);
  });
});

describe("freshness", () => {
  it("is none, fresh, then stale", () => {
    expect(freshness(undefined, 1000)).toBe("none");
    expect(freshness(1000, 61_000)).toBe("fresh");
    expect(freshness(1000, 61_001)).toBe("stale");
  });
});

describe("actuator toggle", () => {
  it("finds the longest channel the key starts with", () => {
    const target = toggleTarget(sensor(), ["plant", "plant.pump", "other"]);
    expect(target).toEqual({
      deviceId: "00000000-0000-4000-8000-0000000000d1",
      channel: "plant.pump",
      path: ["on"],
    });
    expect(toggleTarget(sensor(), ["plant"])?.path).toEqual(["pump", "on"]);
    expect(toggleTarget(sensor(), ["plantx", "plant.pump.on"])).toBeNull();
    expect(toggleTarget(sensor({ device_id: null }), ["plant"])).toBeNull();
  });

  it("writes the field at its path", () => {
    expect(togglePatch(["on"], 1)).toEqual({ on: 1 });
    expect(togglePatch(["pump", "on"], 0)).toEqual({ pump: { on: 0 } });
  });

  it("switches between its two values", () => {
    expect(toggleValues({})).toEqual({ on: 1, off: 0 });
    expect(toggleValues({ on_value: 100, off_value: 5 })).toEqual({ on: 100, off: 5 });
    expect(toggleValues({ on_value: 3, off_value: 3 })).toEqual({ on: 1, off: 0 });
    expect(isOn(1, { on: 1, off: 0 })).toBe(true);
    expect(isOn(0.5, { on: 1, off: 0 })).toBe(false);
    expect(isOn(undefined, { on: 1, off: 0 })).toBe(false);
  });

  it("says why it is disabled", () => {
    const target = toggleTarget(sensor(), ["plant"]);
    const base = { canWrite: true, sensor: sensor(), target, channelsKnown: true };
    expect(toggleDisabledReason(base)).toBeNull();
    expect(toggleDisabledReason({ ...base, canWrite: false })).toMatch(/^Viewers/);
    expect(toggleDisabledReason({ ...base, sensor: sensor({ device_id: null }) })).toBe(
      "This sensor has no device to write to.",
    );
    expect(toggleDisabledReason({ ...base, target: null })).toMatch(/no channel/);
  });
});

describe("mergeSeries", () => {
  it("appends live points after the stored ones, in the window", () => {
    const iso = (ms: number) => new Date(ms).toISOString();
    const stored = [
      { t: iso(1000), value: 1 },
      { t: iso(2000), value: 2 },
      { t: iso(3000), value: 3 },
    ];
    const live = { t: [2500, 3000, 4000, 5000], v: [9, 9, 4, 5] };
    expect(mergeSeries(stored, live, 2000)).toEqual({
      t: [2000, 3000, 4000, 5000],
      values: [2, 3, 4, 5],
    });
    expect(mergeSeries([], live, 0)).toEqual({ t: live.t, values: live.v });
  });
});
