import { describe, expect, it } from "vitest";
import {
  formatDateTime,
  formatDuration,
  formatNumber,
  formatRelative,
  formatValue,
  nameParts,
} from "./format";

const en = { locale: "en-US" };

describe("formatValue", () => {
  it("adds the unit, or leaves it out", () => {
    expect(formatValue(21.456, "°C", en)).toBe("21.46 °C");
    expect(formatValue(42, "%", en)).toBe("42 %");
    expect(formatValue(1234.56, "", en)).toBe("1,234.6");
    expect(formatValue(0.012345, "bar", en)).toBe("0.0123 bar");
    expect(formatValue(null, "V", en)).toBe("—");
  });

  it("formats numbers in the locale", () => {
    expect(formatNumber(1234.5, { locale: "de-DE" })).toBe("1.234,5");
    expect(formatNumber(Number.NaN, en)).toBe("NaN");
  });
});

describe("times", () => {
  it("formats in the given zone", () => {
    const utc = formatDateTime("2026-12-01T20:28:08Z", { locale: "en-US", timeZone: "UTC" });
    expect(utc).toBe("Dec 1, 2026, 8:28:08 PM");
    const berlin = formatDateTime("2026-12-01T20:28:08Z", {
      locale: "en-US",
      timeZone: "Europe/Berlin",
    });
    expect(berlin).toBe("Dec 1, 2026, 9:28:08 PM");
    expect(formatDateTime("nope", en)).toBe("—");
  });

  it("says how long ago", () => {
    const now = Date.parse("2026-12-01T12:00:00Z");
    expect(formatRelative(null, now, en)).toBe("Never");
    expect(formatRelative(now - 2000, now, en)).toBe("now");
    expect(formatRelative(now - 42_000, now, en)).toBe("42 seconds ago");
    expect(formatRelative(now - 3 * 60_000, now, en)).toBe("3 minutes ago");
    expect(formatRelative(now - 2 * 3600_000, now, en)).toBe("2 hours ago");
    expect(formatRelative(now - 86400_000, now, en)).toBe("yesterday");
  });

  it("formats durations", () => {
    expect(formatDuration(30, en)).toBe("30 sec");
    expect(formatDuration(300, en)).toBe("5 min");
    expect(formatDuration(7200, en)).toBe("2 hr");
  });
});

describe("nameParts", () => {
  it("cuts a dotted key after its separators and keeps every character", () => {
    expect(nameParts("plugin.system.cpu_percent")).toEqual([
      "plugin.",
      "system.",
      "cpu_",
      "percent",
    ]);
    expect(nameParts("level")).toEqual(["level"]);
    expect(nameParts("a..b_")).toEqual(["a.", ".", "b_"]);
    expect(nameParts("").join("")).toBe("");
  });
});
