import { describe, expect, it } from "vitest";
import { SeriesBuffer } from "./seriesBuffer";

describe("SeriesBuffer", () => {
  it("keeps points in time order and replaces duplicates", () => {
    const buffer = new SeriesBuffer({ maxAgeMs: 1e9, maxPoints: 100 });
    buffer.add("s", 10, 1);
    buffer.add("s", 30, 3);
    buffer.add("s", 20, 2);
    buffer.add("s", 30, 4);
    buffer.add("s", 5, 0);
    expect(buffer.get("s")).toEqual({ t: [5, 10, 20, 30], v: [0, 1, 2, 4] });
    expect(buffer.latest("s")).toEqual({ t: 30, value: 4 });
    expect(buffer.latest("other")).toBeNull();
  });

  it("bounds each sensor by count and by age", () => {
    const buffer = new SeriesBuffer({ maxAgeMs: 100, maxPoints: 3 });
    for (let t = 0; t < 10; t += 1) buffer.add("s", t, t);
    expect(buffer.get("s").t).toEqual([7, 8, 9]);
    buffer.add("s", 150, 1);
    expect(buffer.get("s").t).toEqual([150]);
    buffer.add("b", 140, 1, 140);
    buffer.prune(300);
    expect(buffer.size("b")).toBe(0);
  });

  it("forgets sensors no longer shown", () => {
    const buffer = new SeriesBuffer();
    buffer.add("a", 1, 1);
    buffer.add("b", 1, 1);
    buffer.retain(["b"]);
    expect(buffer.size("a")).toBe(0);
    expect(buffer.size("b")).toBe(1);
  });
});
