import { describe, expect, it } from "vitest";
import {
  emptyValue,
  fieldAt,
  formFromSchema,
  fromDatetimeLocal,
  getAt,
  initialValues,
  pathKey,
  serverErrors,
  setAt,
  toDatetimeLocal,
  validateForm,
  type SchemaField,
} from "./schemaForm";

/** A config schema as the SDK (pydoover's layout) exports it. */
const TANK = {
  $schema: "https://json-schema.org/draft/2020-12/schema",
  $id: "",
  title: "tank-app",
  type: "object",
  properties: {
    rate: {
      title: "Rate",
      "x-name": "rate",
      "x-hidden": false,
      type: "number",
      "x-required": true,
      "x-position": 2,
      minimum: 0.5,
      exclusiveMaximum: 10,
    },
    name: {
      title: "Name",
      "x-name": "name",
      "x-hidden": false,
      type: "string",
      "x-required": true,
      "x-position": 0,
      description: "Shown on the dashboard",
      maxLength: 8,
      pattern: "^[a-z]+$",
    },
    level: {
      title: "Level",
      "x-name": "level",
      "x-hidden": false,
      type: ["integer", "null"],
      "x-required": false,
      "x-position": 1,
      default: 50,
      minimum: 0,
      maximum: 100,
      multipleOf: 5,
    },
    enabled: {
      title: "Enabled",
      type: ["boolean", "null"],
      "x-hidden": true,
      default: true,
      "x-position": 3,
    },
    mode: {
      title: "Mode",
      type: ["string", "null"],
      default: "auto",
      enum: ["auto", "manual"],
      "x-position": 4,
    },
    setpoints: {
      title: "Setpoints",
      type: "array",
      items: { title: "Setpoint", type: "number", minimum: 0 },
      minItems: 1,
      uniqueItems: true,
      "x-position": 5,
    },
    pump: {
      title: "Pump",
      type: "object",
      "x-position": 6,
      properties: {
        pin: { title: "Pin", type: "integer", minimum: 0, "x-position": 1 },
        max_level: { title: "Max Level", type: "integer", maximum: 100, "x-position": 2 },
      },
      required: ["pin", "max_level"],
      additionalProperties: true,
    },
    starts: { title: "Starts at", type: ["string", "null"], format: "date-time" },
    extra: { type: "object", description: "free-form" },
    ratio: { type: "number", multipleOf: 0.1 },
  },
  required: ["name", "rate", "setpoints", "pump"],
  additionalProperties: true,
};

function form(): SchemaField {
  const root = formFromSchema(TANK);
  if (!root) throw new Error("no form");
  return root;
}

const GOOD = {
  name: "tank",
  rate: 2,
  setpoints: [1, 2.5],
  pump: { pin: 3, max_level: 80 },
  ratio: 0.3,
};

describe("formFromSchema", () => {
  it("makes one field per property, by x-position, with its kind and limits", () => {
    const root = form();
    expect(root.kind).toBe("object");
    expect(root.properties.map((f) => [f.key, f.kind, f.required])).toEqual([
      ["name", "string", true],
      ["level", "integer", false],
      ["rate", "number", true],
      ["enabled", "boolean", false],
      ["mode", "enum", false],
      ["setpoints", "array", true],
      ["pump", "object", true],
      ["starts", "datetime", false],
      ["extra", "json", false],
      ["ratio", "number", false],
    ]);
    expect(fieldAt(root, ["name"])).toMatchObject({
      label: "Name",
      description: "Shown on the dashboard",
      maxLength: 8,
      pattern: "^[a-z]+$",
    });
    expect(fieldAt(root, ["level"])).toMatchObject({
      nullable: true,
      hasDefault: true,
      default: 50,
      multipleOf: 5,
    });
    expect(fieldAt(root, ["enabled"])?.hidden).toBe(true);
    expect(fieldAt(root, ["mode"])?.options.map((o) => o.value)).toEqual(["auto", "manual"]);
    expect(fieldAt(root, ["setpoints", 0])).toMatchObject({ label: "Setpoint", minimum: 0 });
    expect(fieldAt(root, ["pump", "max_level"])).toMatchObject({
      label: "Max Level",
      required: true,
    });
    expect(fieldAt(root, ["ratio"])?.label).toBe("Ratio");
    expect(fieldAt(root, ["nope"])).toBeNull();
  });

  it("needs an object schema", () => {
    expect(formFromSchema(null)).toBeNull();
    expect(formFromSchema({ type: "string" })).toBeNull();
    expect(formFromSchema({ properties: {} })?.kind).toBe("object");
  });
});

describe("values at paths", () => {
  it("reads and writes without changing the original", () => {
    const config = { pump: { pin: 3 }, list: [1, 2], keep: "x" };
    expect(getAt(config, ["pump", "pin"])).toBe(3);
    expect(getAt(config, ["list", 1])).toBe(2);
    expect(getAt(config, ["pump", "nope", "deeper"])).toBeUndefined();

    const changed = setAt(config, ["pump", "pin"], 4);
    expect(changed).toEqual({ pump: { pin: 4 }, list: [1, 2], keep: "x" });
    expect(config.pump.pin).toBe(3);
    expect(setAt(config, ["new", "deep"], true)).toMatchObject({ new: { deep: true } });
    expect(setAt(config, ["list", 2], 3)).toMatchObject({ list: [1, 2, 3] });
    expect(setAt(config, ["keep"], undefined)).toEqual({ pump: { pin: 3 }, list: [1, 2] });
    expect(setAt(config, ["list", 0], undefined)).toMatchObject({ list: [2] });
    expect(pathKey(["channels", 0, "address"])).toBe("channels.0.address");
    expect(pathKey([])).toBe("");
  });

  it("starts from a copy of the config, and new items from the element's default", () => {
    const config = { a: { b: 1 } };
    const values = initialValues(config);
    expect(values).toEqual(config);
    expect(values.a).not.toBe(config.a);
    expect(initialValues(null)).toEqual({});
    const root = form();
    expect(emptyValue(fieldAt(root, ["pump"]) as SchemaField)).toEqual({});
    expect(emptyValue(fieldAt(root, ["mode"]) as SchemaField)).toBe("auto");
    expect(emptyValue(fieldAt(root, ["setpoints", 0]) as SchemaField)).toBeNull();
  });
});

describe("validateForm", () => {
  it("accepts a good config", () => {
    expect(validateForm(form(), GOOD)).toEqual({});
    expect(validateForm(form(), { ...GOOD, level: null, mode: null, starts: null })).toEqual({});
  });

  it("names each missing required field, also inside a missing group", () => {
    expect(validateForm(form(), {})).toEqual({
      name: "Required.",
      rate: "Required.",
      setpoints: "Required.",
      "pump.pin": "Required.",
      "pump.max_level": "Required.",
    });
  });

  it("says what is wrong with each value", () => {
    const errors = validateForm(form(), {
      name: "Tank 1 too long",
      level: 52,
      rate: 10,
      mode: "turbo",
      setpoints: [1, 1, -2],
      pump: { pin: 1.5, max_level: 101 },
      starts: "soon",
      ratio: 0.35,
      extra: { anything: [1] },
    });
    expect(errors).toEqual({
      name: "Enter at most 8 characters.",
      level: "Enter a multiple of 5.",
      rate: "Enter less than 10.",
      mode: "Choose one of the options.",
      setpoints: "Each item must be different.",
      "setpoints.2": "Enter 0 or more.",
      "pump.pin": "Enter a whole number.",
      "pump.max_level": "Enter 100 or less.",
      starts: "Enter a date and time.",
      ratio: "Enter a multiple of 0.1.",
    });
    expect(validateForm(form(), { ...GOOD, name: "ab1" }).name).toBe(
      "Does not match the pattern ^[a-z]+$.",
    );
    expect(validateForm(form(), { ...GOOD, name: "" }).name).toBe("Required.");
    expect(validateForm(form(), { ...GOOD, rate: "2" }).rate).toBe("Enter a number.");
    expect(validateForm(form(), { ...GOOD, rate: 0.4 }).rate).toBe("Enter 0.5 or more.");
    expect(validateForm(form(), { ...GOOD, setpoints: [1, null] })["setpoints.1"]).toBe(
      "Required.",
    );
    expect(validateForm(form(), { ...GOOD, setpoints: [] }).setpoints).toBe(
      "Add at least one item.",
    );
    expect(validateForm(form(), { ...GOOD, pump: 3 }).pump).toBe("Expected a group of settings.");
    expect(validateForm(form(), { ...GOOD, enabled: "yes" })).toEqual({}); // hidden: not checked
  });
});

describe("serverErrors", () => {
  it("puts the cloud's 422 items on the fields they name", () => {
    const result = serverErrors(form(), [
      { loc: ["body", "pump", "pin"], msg: "-1 is below the minimum 0" },
      { loc: ["body", "setpoints", 1], msg: "duplicate" },
      { loc: ["body", "setpoints", "0"], msg: "bad" },
      { loc: ["body", "pump", "nozzle", "size"], msg: "unknown" },
      { loc: ["body", "enabled"], msg: "hidden field" },
      { loc: ["body", "nope"], msg: "not allowed" },
      { loc: ["body"], msg: "exactly one of tcp or serial" },
    ]);
    expect(result.fields).toEqual({
      "pump.pin": "-1 is below the minimum 0",
      "setpoints.1": "duplicate",
      "setpoints.0": "bad",
      pump: "nozzle.size: unknown",
    });
    expect(result.other).toEqual([
      "enabled: hidden field",
      "nope: not allowed",
      "exactly one of tcp or serial",
    ]);
  });
});

describe("date-time fields", () => {
  it("round-trip between ISO 8601 and datetime-local", () => {
    const iso = fromDatetimeLocal("2026-05-01T06:30");
    expect(iso).toBe(new Date(2026, 4, 1, 6, 30).toISOString().replace(".000Z", "Z"));
    expect(toDatetimeLocal(iso)).toBe("2026-05-01T06:30:00");
    expect(fromDatetimeLocal("2026-02-30T06:30")).toBeNull();
    expect(fromDatetimeLocal("")).toBeNull();
    expect(toDatetimeLocal("not a date")).toBe("");
    expect(toDatetimeLocal(5)).toBe("");
  });
});
