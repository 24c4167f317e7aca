import { describe, expect, it } from "vitest";
import { checkDraft, draftOf, parseBound } from "./sensorDraft";

describe("sensor drafts", () => {
  it("turns settings into text inputs", () => {
    expect(draftOf({ name: "Level", unit: "%", min_value: 0, max_value: null })).toEqual({
      name: "Level",
      unit: "%",
      min: "0",
      max: "",
    });
  });

  it("reads bounds: empty is none, a decimal comma works, words do not", () => {
    expect(parseBound("  ")).toBeNull();
    expect(parseBound("2,5")).toBe(2.5);
    expect(parseBound("-3")).toBe(-3);
    expect(parseBound("lots")).toBeUndefined();
  });

  it("trims and accepts a valid draft", () => {
    expect(checkDraft({ name: " Tank ", unit: " % ", min: "0", max: "100" })).toEqual({
      ok: true,
      update: { name: "Tank", unit: "%", min_value: 0, max_value: 100 },
    });
  });

  it("says the first problem", () => {
    const base = { name: "Tank", unit: "", min: "", max: "" };
    expect(checkDraft({ ...base, min: "x", max: "y" })).toEqual({
      ok: false,
      message: "Min must be a number or empty.",
    });
    expect(checkDraft({ ...base, max: "y" })).toEqual({
      ok: false,
      message: "Max must be a number or empty.",
    });
    expect(checkDraft({ ...base, name: " " })).toEqual({
      ok: false,
      message: "The name cannot be empty.",
    });
    expect(checkDraft({ ...base, min: "5", max: "1" })).toEqual({
      ok: false,
      message: "Min must not be greater than max.",
    });
  });
});
