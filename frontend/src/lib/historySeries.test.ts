import { describe, expect, it } from "vitest";
import type { Series } from "../api/types";
import { seriesCountText, seriesExtremes, seriesLine } from "./historySeries";

const point = (t: string, value: number, min = value, max = value, count = 1) => ({
  t,
  value,
  avg: value,
  min,
  max,
  count,
});

function series(overrides: Partial<Series> = {}): Series {
  return {
    sensor: "s1",
    name: "Level",
    unit: "%",
    start: "2026-01-01T00:00:00Z",
    end: "2026-01-01T01:00:00Z",
    downsampled: false,
    bucket_seconds: null,
    count: 2,
    points: [point("2026-01-01T00:00:00Z", 1), point("2026-01-01T00:00:01Z", 3)],
    ...overrides,
  };
}

describe("history series", () => {
  it("draws raw points as one line without a band", () => {
    const line = seriesLine(series());
    expect(line).toEqual({
      key: "s1",
      label: "Level",
      unit: "%",
      t: [Date.parse("2026-01-01T00:00:00Z"), Date.parse("2026-01-01T00:00:01Z")],
      values: [1, 3],
    });
  });

  it("draws buckets as their average with a min/max band", () => {
    const bucket = { ...point("2026-01-01T00:00:00Z", 0, 1, 9, 50), avg: 5 };
    const line = seriesLine(series({ downsampled: true, points: [bucket] }));
    expect(line.values).toEqual([5]);
    expect(line.min).toEqual([1]);
    expect(line.max).toEqual([9]);
  });

  it("says how many points or buckets are shown", () => {
    const en = { locale: "en-US" };
    expect(seriesCountText(series(), en)).toBe("2 points");
    expect(seriesCountText(series({ points: [point("2026-01-01T00:00:00Z", 1)] }), en)).toBe(
      "1 point",
    );
    const buckets = series({ downsampled: true, bucket_seconds: 60, count: 1200 });
    expect(seriesCountText(buckets, en)).toBe(
      "2 buckets of 1,200 points, 1 min each (min/max band, average line)",
    );
  });

  it("finds the extremes over the buckets' bounds", () => {
    const points = [point("2026-01-01T00:00:00Z", 2, -1, 4), point("2026-01-01T00:01:00Z", 3)];
    expect(seriesExtremes(series({ points }))).toEqual({ min: -1, max: 4 });
    expect(seriesExtremes(series({ points: [] }))).toBeNull();
  });
});
