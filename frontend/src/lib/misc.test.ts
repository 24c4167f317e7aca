import { describe, expect, it } from "vitest";
import { alignLines, chartShape } from "./chartData";
import { parseJsonObject, prettyJson } from "./jsonInput";
import { queryList, queryString } from "./query";
import { sortByText } from "./sorting";
import { fromLocalInput, quickRange, toLocalInput, validRange } from "./timeRange";

describe("parseJsonObject", () => {
  it("accepts objects only, with a clear message otherwise", () => {
    expect(parseJsonObject('{"a": 1}')).toEqual({ ok: true, value: { a: 1 } });
    expect(parseJsonObject("")).toEqual({ ok: false, message: "Enter a JSON object, e.g. {}." });
    const broken = parseJsonObject("{a: 1}");
    expect(broken.ok).toBe(false);
    if (!broken.ok) expect(broken.message).toMatch(/^Not valid JSON: /);
    expect(parseJsonObject("[1]")).toEqual({
      ok: false,
      message: "The payload must be a JSON object ({…}), not an array.",
    });
    expect(parseJsonObject("3")).toMatchObject({ ok: false });
    expect(parseJsonObject("null")).toMatchObject({ ok: false });
  });

  it("pretty prints", () => {
    expect(prettyJson({ a: [1, 2] })).toBe('{\n  "a": [\n    1,\n    2\n  ]\n}');
    expect(prettyJson(undefined)).toBe("—");
  });
});

describe("time ranges", () => {
  it("round-trips datetime-local values in the local zone", () => {
    const ms = new Date(2026, 11, 1, 9, 5, 7).getTime();
    expect(toLocalInput(ms)).toBe("2026-12-01T09:05:07");
    expect(fromLocalInput("2026-12-01T09:05:07")).toBe(ms);
    expect(fromLocalInput("2026-12-01T09:05")).toBe(new Date(2026, 11, 1, 9, 5).getTime());
    expect(fromLocalInput("2026-02-31T09:05")).toBeNull();
    expect(fromLocalInput("soon")).toBeNull();
  });

  it("builds quick ranges and checks ranges", () => {
    expect(quickRange("24h", 100_000_000)).toEqual({ start: 100_000_000 - 86_400_000, end: 1e8 });
    expect(validRange(2, 1)).toBe("The end must be after the start.");
    expect(validRange(null, 1)).toBe("Enter a valid start time.");
    expect(validRange(1, 2)).toBeNull();
  });
});

describe("query helpers", () => {
  it("reads lists and single values", () => {
    expect(queryList(["a", null, "b", "a"])).toEqual(["a", "b"]);
    expect(queryList("x")).toEqual(["x"]);
    expect(queryList(undefined)).toEqual([]);
    expect(queryString(["", "y"])).toBe("y");
    expect(queryString(null)).toBeNull();
  });
});

describe("alignLines", () => {
  it("joins lines on one time axis and counts plotted points", () => {
    const aligned = alignLines([
      { key: "a", label: "A", unit: "", t: [1000, 3000], values: [1, 3] },
      { key: "b", label: "B", unit: "V", t: [2000, 3000], values: [20, 30] },
    ]);
    expect(aligned.columns).toEqual([
      [1, 2, 3],
      [1, null, 3],
      [null, 20, 30],
    ]);
    expect(aligned.points).toBe(4);
    expect(aligned.bands).toEqual([]);
  });

  it("adds min and max columns and a band for buckets", () => {
    const line = {
      key: "h",
      label: "H",
      unit: "",
      t: [0, 60_000],
      values: [2, 3],
      min: [1, 2],
      max: [4, 5],
    };
    const aligned = alignLines([line]);
    expect(aligned.series.map((s) => s.role)).toEqual(["line", "min", "max"]);
    expect(aligned.bands).toEqual([[3, 2]]);
    expect(aligned.points).toBe(2);
    expect(chartShape([line])).toBe("h||b");
  });
});

describe("sortByText", () => {
  it("returns a sorted copy and leaves the input alone", () => {
    const input = [{ n: "b" }, { n: "ä" }, { n: "a" }];
    expect(sortByText(input, (item) => item.n).map((item) => item.n)).toEqual(["a", "ä", "b"]);
    expect(input.map((item) => item.n)).toEqual(["b", "ä", "a"]);
  });
});
