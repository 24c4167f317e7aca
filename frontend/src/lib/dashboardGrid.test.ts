import { describe, expect, it } from "vitest";
import {
  GRID_COLUMNS,
  canMove,
  canResize,
  checkPlacement,
  firstFreeSpot,
  gridArea,
  moved,
  overlapping,
  readingOrder,
  resized,
} from "./dashboardGrid";

const at = (x: number, y: number, w = 4, h = 3) => ({ x, y, w, h });

describe("checkPlacement", () => {
  it("takes the grid's edges", () => {
    expect(checkPlacement(at(0, 0, 12, 12))).toEqual({});
    expect(checkPlacement(at(11, 0, 1, 1))).toEqual({});
    expect(checkPlacement(at(0, 988, 1, 12))).toEqual({});
  });

  it("names x + w past 12 at w, with the cloud's words", () => {
    expect(checkPlacement(at(11, 0, 2))).toEqual({
      w: "x + w is 13: the grid has 12 columns, so a widget at x=11 spans at most 1",
    });
  });

  it("refuses negative, fractional and out-of-range values by field", () => {
    const problems = checkPlacement({ x: -1, y: 1.5, w: 0, h: 13 });
    expect(Object.keys(problems).sort()).toEqual(["h", "w", "x", "y"]);
    expect(checkPlacement(at(0, 989, 1, 12)).y).toBe("y + h is 1001; the grid has 1000 rows");
  });
});

describe("layout", () => {
  it("places by 1-based grid lines", () => {
    expect(gridArea(at(2, 0, 4, 3))).toEqual({ gridColumn: "3 / span 4", gridRow: "1 / span 3" });
  });

  it("orders by row, then column (the phone's stack)", () => {
    const items = [at(8, 3), at(0, 3), at(6, 0), at(0, 0)];
    expect(readingOrder(items)).toEqual([at(0, 0), at(6, 0), at(0, 3), at(8, 3)]);
    expect(items[0]).toEqual(at(8, 3)); // not sorted in place
  });

  it("finds overlaps, and only those", () => {
    expect(overlapping([at(0, 0), at(4, 0), at(0, 3)])).toEqual(new Set());
    expect(overlapping([at(0, 0), at(3, 2), at(8, 8)])).toEqual(new Set([0, 1]));
  });

  it("puts a new widget in the first free spot, row by row", () => {
    expect(firstFreeSpot([], 4, 3)).toEqual({ x: 0, y: 0 });
    expect(firstFreeSpot([at(0, 0)], 4, 3)).toEqual({ x: 4, y: 0 });
    const full = [at(0, 0), at(4, 0), at(8, 0)];
    expect(firstFreeSpot(full, 4, 3)).toEqual({ x: 0, y: 3 });
    expect(firstFreeSpot([at(0, 0, 12, 2)], 13, 1)).toEqual({ x: 0, y: 2 });
  });
});

describe("keyboard moves and resizes", () => {
  it("moves one step and stops at the edges", () => {
    expect(moved(at(0, 0), "right")).toEqual(at(1, 0));
    expect(moved(at(0, 0), "left")).toEqual(at(0, 0));
    expect(moved(at(8, 0), "right")).toEqual(at(8, 0));
    expect(moved(at(0, 0), "up")).toEqual(at(0, 0));
    expect(moved(at(0, 0), "down")).toEqual(at(0, 1));
    expect(canMove(at(8, 0), "right")).toBe(false);
    expect(canMove(at(7, 0), "right")).toBe(true);
  });

  it("resizes within 1–12 and the columns left", () => {
    expect(resized(at(0, 0, 4, 3), "wider")).toEqual(at(0, 0, 5, 3));
    expect(resized(at(8, 0, 4, 3), "wider")).toEqual(at(8, 0, 4, 3));
    expect(resized(at(0, 0, 1, 1), "narrower")).toEqual(at(0, 0, 1, 1));
    expect(resized(at(0, 0, 4, 12), "taller")).toEqual(at(0, 0, 4, 12));
    expect(resized(at(0, 0, 4, 3), "shorter")).toEqual(at(0, 0, 4, 2));
    expect(canResize(at(0, 0, GRID_COLUMNS, 3), "wider")).toBe(false);
  });
});
