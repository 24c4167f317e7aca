import { describe, expect, it } from "vitest";
import { maxPointsForWidth } from "./sizing";

describe("maxPointsForWidth", () => {
  it("asks for one point per two pixels", () => {
    expect(maxPointsForWidth(1200)).toBe(600);
    expect(maxPointsForWidth(351)).toBe(176);
    expect(maxPointsForWidth(1200, 1)).toBe(1200);
  });

  it("clamps to 1..10000", () => {
    expect(maxPointsForWidth(0)).toBe(1);
    expect(maxPointsForWidth(-5)).toBe(1);
    expect(maxPointsForWidth(Number.NaN)).toBe(1);
    expect(maxPointsForWidth(1)).toBe(1);
    expect(maxPointsForWidth(50_000, 1)).toBe(10_000);
    expect(maxPointsForWidth(Infinity)).toBe(1);
  });
});
