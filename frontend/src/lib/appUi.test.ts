import { describe, expect, it } from "vitest";
import type { ChannelWrite } from "../api/types";
import {
  alertText,
  commandPayload,
  datetimeInputValue,
  formatUiNumber,
  interactionText,
  interactions,
  mergePendingCommands,
  parseAppUi,
  parseDatetimeInput,
  parseFloatInput,
  pendingCommands,
  pendingConfig,
  rangeFor,
  safeColour,
  sliderValue,
  type ContainerNode,
  type UiNode,
  type UiRange,
  type VariableNode,
} from "./appUi";

const EN = { format: { locale: "en-US" } };

/** A tank app's UI as pydoover 0.x's `Application.to_dict()` publishes it. */
function tankUi(): Record<string, unknown> {
  return {
    name: "tank_1",
    type: "uiApplication",
    displayString: "Tank 1",
    children: {
      level: {
        name: "level",
        type: "uiVariable",
        displayString: "Level",
        varType: "float",
        currentValue: 42.456,
        decPrecision: 1,
        units: "%",
        form: "linearGauge",
        position: 101,
        ranges: [
          { label: "Low", min: 0, max: 20, colour: "red", show_on_graph: true },
          { label: "Normal", min: 20, max: 80, colour: "green", show_on_graph: true },
          { label: "High", min: 80, max: 100, colour: "tomato", show_on_graph: false },
        ],
      },
      tank_1_pump: {
        name: "tank_1_pump",
        type: "uiAction",
        displayString: "Start pump",
        colour: "green",
        requiresConfirm: true,
        disabled: false,
        position: 104,
      },
      tank_1_setpoint: {
        name: "tank_1_setpoint",
        type: "uiSlider",
        displayString: "Setpoint",
        currentValue: 50,
        min: 0,
        max: 100,
        stepSize: 0.5,
        dualSlider: true,
        isInverted: false,
        position: 102,
      },
      tank_1_mode: {
        name: "tank_1_mode",
        type: "uiStateCommand",
        displayString: "Mode",
        currentValue: "auto",
        userOptions: {
          auto: { name: "auto", displayString: "Automatic", type: "uiElement" },
          manual: { name: "manual", displayString: "Manual", type: "uiElement" },
        },
        position: 103,
      },
      secret: { name: "secret", type: "uiVariable", varType: "float", hidden: true },
      tank_1_session: { name: "tank_1_session", type: "uiHiddenValue" },
      details: {
        name: "details",
        type: "uiSubmodule",
        displayString: "Details",
        statusString: "All good",
        defaultOpen: false,
        position: 105,
        children: {
          // Children keep the key they were added with; the manager then prefixes the name.
          limit: {
            name: "tank_1_limit",
            type: "uiFloatParam",
            displayString: "Limit",
            min: 0,
            max: 10,
            currentValue: 5,
          },
          note: { name: "tank_1_note", type: "uiTextParam", isTextArea: true },
          start: { name: "tank_1_start", type: "uiDatetimeParam", includeTime: false },
          alarm: { name: "tank_1_alarm", type: "uiWarningIndicator", displayString: "Overflow" },
        },
      },
      history: { name: "history", type: "uiCameraHistory", displayString: "History" },
      fancy: { name: "fancy", type: "uiSomethingNew", displayString: "Fancy" },
      broken: 5,
    },
  };
}

function byName(nodes: readonly UiNode[], name: string): UiNode {
  const all: UiNode[] = [];
  const walk = (list: readonly UiNode[]) =>
    list.forEach((n) => {
      all.push(n);
      if (n.kind === "submodule" || n.kind === "container") walk(n.children);
    });
  walk(nodes);
  const found = all.find((n) => n.name === name);
  if (!found) throw new Error(`no ${name}`);
  return found;
}

function write(patch: Record<string, unknown>, extra: Partial<ChannelWrite> = {}): ChannelWrite {
  return {
    id: "w1",
    device_id: "d1",
    channel: "ui_cmds",
    seq: 1,
    detail: null,
    patch,
    replace: false,
    state: "pending",
    created_at: "2026-01-01T00:00:00Z",
    created_by: "op@example.com",
    delivered_at: null,
    applied_at: null,
    ...extra,
  };
}

describe("parseAppUi", () => {
  it("keeps every element, sorted by position, and leaves the hidden ones out", () => {
    const ui = parseAppUi(tankUi(), EN);
    expect(ui).not.toBeNull();
    if (!ui) return;
    expect(ui.name).toBe("tank_1");
    expect(ui.label).toBe("Tank 1");
    expect(ui.children.map((n) => [n.key, n.kind])).toEqual([
      ["level", "variable"],
      ["tank_1_setpoint", "slider"],
      ["tank_1_mode", "stateCommand"],
      ["tank_1_pump", "action"],
      ["details", "submodule"],
      ["history", "unsupported"],
      ["fancy", "unsupported"],
      ["broken", "unsupported"],
    ]);
    expect(ui.hiddenCount).toBe(2);
    const camera = byName(ui.children, "history");
    expect(camera).toMatchObject({ type: "uiCameraHistory", label: "History" });
    expect(camera.kind === "unsupported" && camera.reason).toMatch(/Camera/);
    expect(byName(ui.children, "fancy")).toMatchObject({ type: "uiSomethingNew", label: "Fancy" });
    expect(byName(ui.children, "broken")).toMatchObject({
      kind: "unsupported",
      reason: "This element could not be read.",
    });
    expect(parseAppUi(null)).toBeNull();
    expect(parseAppUi("x")).toBeNull();
  });

  it("formats a variable with its precision and units, and finds its colour range", () => {
    const ui = parseAppUi(tankUi(), EN);
    const level = byName(ui?.children ?? [], "level") as VariableNode;
    expect(level.text).toBe("42.5 %");
    expect(level.range).toMatchObject({ label: "Normal", colour: "green" });
    expect(level.ranges[2]).toMatchObject({ label: "High", colour: "tomato", showOnGraph: false });
    expect(level.gauge).toEqual({ min: 0, max: 100, value: 42.456 });
  });

  it("leaves a value outside every range uncoloured, and only indicators warn", () => {
    const source = tankUi();
    const children = source.children as Record<string, Record<string, unknown>>;
    children.level = { ...children.level, currentValue: 130 };
    const ui = parseAppUi(source, EN);
    const level = byName(ui?.children ?? [], "level") as VariableNode;
    expect(level.range).toBeNull();
    expect(ui?.warnings).toEqual([
      { name: "tank_1_alarm", label: "Overflow", source: "indicator" },
    ]);
  });

  it("reads the other variable types", () => {
    const ui = parseAppUi(
      {
        children: {
          on: { type: "uiVariable", varType: "bool", currentValue: true, displayString: "On" },
          name: { type: "uiVariable", varType: "string", currentValue: "north" },
          at: { type: "uiVariable", varType: "time", currentValue: 0 },
          none: { type: "uiVariable", varType: "float" },
          raw: { type: "uiVariable", varType: "float", currentValue: 3 },
        },
      },
      { format: { locale: "en-US", timeZone: "UTC" } },
    );
    const text = (ui?.children ?? []).map((n) => (n as VariableNode).text);
    expect(text[0]).toBe("Yes");
    expect(text[1]).toBe("north");
    expect(text[2]).toMatch(/1970/);
    expect(text[3]).toBe("—");
    expect(text[4]).toBe("3");
    expect(ui?.children[0]?.label).toBe("On");
    expect(ui?.children[1]?.label).toBe("name"); // no displayString: the name
  });

  it("takes an interaction's value from ui_cmds, else its currentValue", () => {
    const ui = parseAppUi(tankUi(), { cmds: { tank_1_setpoint: 70, tank_1_limit: 7 } });
    const nodes = ui?.children ?? [];
    expect(byName(nodes, "tank_1_setpoint")).toMatchObject({ value: 70, appliedValue: 70 });
    expect(byName(nodes, "tank_1_mode")).toMatchObject({ value: "auto", pending: null });
    // The submodule's child is found by its prefixed name, not the key it was added with.
    expect(byName(nodes, "tank_1_limit")).toMatchObject({ key: "limit", value: 7 });
    const details = byName(nodes, "details") as ContainerNode;
    expect(details).toMatchObject({ status: "All good", defaultOpen: false });
    expect(details.children.map((n) => n.kind)).toEqual([
      "floatParam",
      "textParam",
      "datetimeParam",
      "warning",
    ]);
    expect(interactions(nodes).map((n) => n.name)).toEqual([
      "tank_1_setpoint",
      "tank_1_mode",
      "tank_1_pump",
      "tank_1_limit",
      "tank_1_note",
      "tank_1_start",
      "tank_1_alarm",
    ]);
  });

  it("shows a pending write's value as pending until it is applied", () => {
    const writes = [
      write({ cmds: { tank_1_mode: "manual" } }, { id: "a", seq: 1, state: "delivered" }),
      write({ cmds: { tank_1_setpoint: 80 } }, { id: "b", seq: 2 }),
      write({ cmds: { tank_1_setpoint: 90 } }, { id: "c", seq: 3, state: "applied" }),
    ];
    const ui = parseAppUi(tankUi(), { cmds: { tank_1_setpoint: 60 }, writes });
    const nodes = ui?.children ?? [];
    expect(byName(nodes, "tank_1_setpoint")).toMatchObject({
      value: 80,
      appliedValue: 60,
      pending: { state: "pending", value: 80, writeId: "b" },
    });
    expect(byName(nodes, "tank_1_mode")).toMatchObject({
      value: "manual",
      appliedValue: "auto",
      pending: { state: "delivered", writeId: "a" },
    });
  });

  it("reads the interactions' own keys", () => {
    const nodes = parseAppUi(tankUi())?.children ?? [];
    expect(byName(nodes, "tank_1_pump")).toMatchObject({
      kind: "action",
      colour: "green",
      requiresConfirm: true,
      disabled: false,
      label: "Start pump",
    });
    expect(byName(nodes, "tank_1_setpoint")).toMatchObject({
      min: 0,
      max: 100,
      step: 0.5,
      dual: true,
      inverted: false,
    });
    const mode = byName(nodes, "tank_1_mode");
    expect(mode.kind === "stateCommand" && mode.options).toEqual([
      { value: "auto", label: "Automatic" },
      { value: "manual", label: "Manual" },
    ]);
    if (mode.kind === "stateCommand") expect(interactionText(mode)).toBe("Automatic");
    expect(byName(nodes, "tank_1_note")).toMatchObject({ textArea: true, value: null });
    expect(byName(nodes, "tank_1_start")).toMatchObject({ includeTime: false });
    expect(byName(nodes, "tank_1_alarm")).toMatchObject({ kind: "warning", canCancel: true });
  });

  it("reads connection info, alert streams and plots (linked to their variables)", () => {
    const ui = parseAppUi({
      children: {
        connectionInfo: {
          name: "connectionInfo",
          type: "uiConnectionInfo",
          connectionType: "periodic",
          connectionPeriod: 900,
          offlineAfter: 3600,
        },
        significantEvent: { name: "significantEvent", type: "uiAlertStream" },
        plot: {
          name: "plot",
          type: "uiMultiPlot",
          displayString: "Levels",
          series: ["level", "other"],
          colours: ["blue", "url(x)"],
          activeSeries: [true, false],
          position: 1,
        },
        level: { name: "level", type: "uiVariable", varType: "float", currentValue: 2 },
      },
    });
    const [plot, info, alerts, level] = ui?.children ?? [];
    expect(plot).toMatchObject({ kind: "multiPlot", label: "Levels" });
    if (plot?.kind === "multiPlot") {
      expect(plot.series.map((s) => [s.name, s.colour, s.active])).toEqual([
        ["level", "blue", true],
        ["other", null, false],
      ]);
      expect(plot.series[0]?.variable).toBe(level);
    }
    expect(info).toMatchObject({
      kind: "connectionInfo",
      connectionType: "periodic",
      period: 900,
      offlineAfter: 3600,
      nextConnection: null,
    });
    expect(alerts).toMatchObject({ kind: "alertStream" });
  });

  it("accepts the parameter types spelled out, and children as a list", () => {
    const ui = parseAppUi({
      children: [
        { name: "a", type: "uiFloatParameter" },
        { name: "b", type: "uiTextParameter" },
        { name: "c", type: "uiDatetimeParameter", includeTime: true },
      ],
    });
    expect(ui?.children.map((n) => [n.key, n.kind])).toEqual([
      ["a", "floatParam"],
      ["b", "textParam"],
      ["c", "datetimeParam"],
    ]);
  });
});

describe("ranges and numbers", () => {
  const ranges: UiRange[] = [
    { label: "Low", min: null, max: 10, colour: "red", showOnGraph: true },
    { label: "Mid", min: 10, max: 20, colour: "green", showOnGraph: true },
    { label: "Top", min: 20, max: 30, colour: "blue", showOnGraph: true },
  ];

  it("puts a value in the range it starts, and the very top in the last one", () => {
    expect(rangeFor(-100, ranges)?.label).toBe("Low");
    expect(rangeFor(10, ranges)?.label).toBe("Mid");
    expect(rangeFor(19.99, ranges)?.label).toBe("Mid");
    expect(rangeFor(30, ranges)?.label).toBe("Top");
    expect(rangeFor(30.1, ranges)).toBeNull();
    expect(rangeFor("12", ranges)).toBeNull();
    expect(rangeFor(null, ranges)).toBeNull();
  });

  it("formats with decPrecision and units", () => {
    const en = { locale: "en-US" };
    expect(formatUiNumber(3.14159, 2, "V", en)).toBe("3.14 V");
    expect(formatUiNumber(3, 2, null, en)).toBe("3.00");
    expect(formatUiNumber(1234.5, 0, " m ", en)).toBe("1,235 m");
    expect(formatUiNumber(0.123456, null, "", en)).toBe("0.1235");
  });

  it("accepts plain CSS colours only", () => {
    expect(safeColour("tomato")).toBe("tomato");
    expect(safeColour("#1f6feb")).toBe("#1f6feb");
    expect(safeColour("rgb(10, 20, 30)")).toBe("rgb(10, 20, 30)");
    expect(safeColour("red;background:url(x)")).toBeNull();
    expect(safeColour(3)).toBeNull();
  });
});

describe("pending writes", () => {
  it("takes the newest unapplied ui_cmds write for each name", () => {
    const pending = pendingCommands([
      write({ cmds: { a: 2 } }, { id: "2", seq: 2 }),
      write({ cmds: { a: 1, b: true } }, { id: "1", seq: 1, state: "delivered" }),
      write({ cmds: { c: 1 } }, { id: "3", seq: 3, state: "applied" }),
      write({ applications: {} }, { id: "4", seq: 4, channel: "deployment_config" }),
      write({ other: 1 }, { id: "5", seq: 5 }),
    ]);
    expect([...pending.keys()]).toEqual(["a", "b"]);
    expect(pending.get("a")).toMatchObject({ value: 2, writeId: "2", state: "pending" });
    expect(pending.get("b")).toMatchObject({ value: true, state: "delivered" });
  });

  it("merges pending values over ui_cmds, null removing", () => {
    const pending = pendingCommands([write({ cmds: { a: 5, gone: null } })]);
    expect(mergePendingCommands({ a: 1, gone: 2, kept: 3 }, pending)).toEqual({ a: 5, kept: 3 });
  });

  it("finds an app's pending config", () => {
    const writes = [
      write(
        { applications: { tank_1: { level: 3 } } },
        { id: "x", channel: "deployment_config", created_at: "2026-01-01T00:00:01Z" },
      ),
      write(
        { applications: { tank_1: { level: 4 } } },
        {
          id: "y",
          channel: "deployment_config",
          state: "delivered",
          created_at: "2026-01-01T00:00:02Z",
        },
      ),
      write({ applications: { other: {} } }, { id: "z", channel: "deployment_config" }),
    ];
    expect(pendingConfig(writes, "tank_1")).toEqual({
      state: "delivered",
      writeId: "y",
      createdAt: "2026-01-01T00:00:02Z",
      config: { level: 4 },
    });
    expect(pendingConfig(writes, "none")).toBeNull();
    expect(pendingConfig([], "tank_1")).toBeNull();
  });
});

describe("ui_cmds payloads and inputs", () => {
  it("builds the merge patch of one interaction", () => {
    expect(commandPayload("tank_1_pump", true)).toEqual({ cmds: { tank_1_pump: true } });
    expect(commandPayload("tank_1_mode", "manual")).toEqual({ cmds: { tank_1_mode: "manual" } });
  });

  it("checks a float parameter's number against min and max", () => {
    const node = { min: 0, max: 10 };
    expect(parseFloatInput(" 2.5 ", node)).toEqual({ ok: true, value: 2.5 });
    expect(parseFloatInput("", node)).toEqual({ ok: false, message: "Enter a number." });
    expect(parseFloatInput("abc", node)).toEqual({ ok: false, message: "Enter a number." });
    expect(parseFloatInput("-1", node)).toEqual({ ok: false, message: "Enter at least 0." });
    expect(parseFloatInput("11", node)).toEqual({ ok: false, message: "Enter at most 10." });
    expect(parseFloatInput("1e3", { min: null, max: null })).toEqual({ ok: true, value: 1000 });
  });

  it("snaps a slider to its steps within its span", () => {
    const node = { min: 0, max: 10, step: 0.5 };
    expect(sliderValue(3.3, node)).toBe(3.5);
    expect(sliderValue(-4, node)).toBe(0);
    expect(sliderValue(12, node)).toBe(10);
    expect(sliderValue(0.1 + 0.2, { min: 0, max: 1, step: 0.1 })).toBe(0.3);
  });

  it("round-trips dates (UTC days) and local date-times as epoch seconds", () => {
    const day = parseDatetimeInput("2026-03-05", false);
    expect(day).toEqual({ ok: true, value: Date.UTC(2026, 2, 5) / 1000 });
    if (day.ok) expect(datetimeInputValue(day.value, false)).toBe("2026-03-05");
    const at = parseDatetimeInput("2026-03-05T07:08", true);
    expect(at).toEqual({ ok: true, value: new Date(2026, 2, 5, 7, 8).getTime() / 1000 });
    if (at.ok) expect(datetimeInputValue(at.value, true)).toBe("2026-03-05T07:08");
    expect(parseDatetimeInput("2026-02-31", false).ok).toBe(false);
    expect(parseDatetimeInput("soon", true).ok).toBe(false);
    expect(datetimeInputValue(null, true)).toBe("");
  });
});

describe("alertText", () => {
  it("shows an alert's message, else its JSON", () => {
    expect(alertText({ message: "Tank low" })).toBe("Tank low");
    expect(alertText({ level: 3 })).toBe('{"level":3}');
  });
});
