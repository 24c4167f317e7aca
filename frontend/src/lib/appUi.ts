/**
 * A device app's own UI, as pydoover 0.x publishes it in the `ui_state` channel: the element
 * dicts of `Element.to_dict()` (`{"name", "type", "displayString", "position", "hidden", ...}`,
 * containers with a `children` map), turned into a typed model to render, with the live values
 * of the interactions from `ui_cmds` and the person's writes that are still on their way.
 *
 * The element types are pydoover 0.x's (`pydoover/ui/*.py`). A type this dashboard does not
 * render becomes an "unsupported" node with its name and type, so nothing disappears silently.
 */
import type { ChannelWrite } from "../api/types";
import { formatDateTime, formatNumber, type FormatOptions } from "./format";

type Dict = Record<string, unknown>;

function isDict(value: unknown): value is Dict {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function text(value: unknown): string | null {
  return typeof value === "string" && value.trim() !== "" ? value : null;
}

function finite(value: unknown): number | null {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

function flag(value: unknown, fallback: boolean): boolean {
  return typeof value === "boolean" ? value : fallback;
}

// ---------------------------------------------------------------------------------------------
// The model

/** A colour band of a variable (pydoover `Range`: `label`, `min`, `max`, `colour`, `show_on_graph`). */
export interface UiRange {
  label: string | null;
  /** null: no lower end. */
  min: number | null;
  /** null: no upper end. */
  max: number | null;
  /** A CSS colour (pydoover's names such as "tomato", or a hex string), or null if unusable. */
  colour: string | null;
  showOnGraph: boolean;
}

/** A person's write to an interaction that the device has not confirmed yet. */
export interface PendingCommand {
  /** pending: stored in the cloud; delivered: on the device, not yet in the cloud's copy. */
  state: "pending" | "delivered";
  value: unknown;
  writeId: string;
  createdAt: string;
}

interface NodeBase {
  /** The element's key in its parent's `children` (unique among its siblings). */
  key: string;
  /** The element's `name`; for an interaction, its key in `ui_cmds`. */
  name: string;
  /** The pydoover type string, e.g. `uiVariable`. */
  type: string;
  /** `displayString`, else the name. */
  label: string;
  /** `helpString`, shown under the label. */
  help: string | null;
  /** False when the app marks the element unavailable (`isAvailable: false`). */
  available: boolean;
}

export interface VariableNode extends NodeBase {
  kind: "variable";
  /** `float`, `string`, `bool`, `time` (epoch seconds) or `timestamp` (epoch ms). */
  varType: string;
  value: unknown;
  /** The value as shown: `decPrecision` decimals and `units` for numbers. */
  text: string;
  precision: number | null;
  units: string | null;
  ranges: UiRange[];
  /** The range the value falls in, if any (ranges colour a scale; a value in none is
   * shown uncoloured, not as a warning: warnings are the app's warning indicators). */
  range: UiRange | null;
  /** A gauge to draw (`form` linearGauge/radialGauge with a known span), or null. */
  gauge: { min: number; max: number; value: number } | null;
}

interface InteractionBase extends NodeBase {
  /** What to show: a pending write's value, else `ui_cmds`, else the element's `currentValue`. */
  value: unknown;
  /** The value the device has confirmed (`ui_cmds`, else `currentValue`). */
  appliedValue: unknown;
  pending: PendingCommand | null;
}

export interface ActionNode extends InteractionBase {
  kind: "action";
  colour: string | null;
  requiresConfirm: boolean;
  disabled: boolean;
}

export interface SliderNode extends InteractionBase {
  kind: "slider";
  min: number;
  max: number;
  step: number;
  dual: boolean;
  inverted: boolean;
  icon: string | null;
  units: string | null;
}

export interface StateOption {
  value: string;
  label: string;
}

export interface StateCommandNode extends InteractionBase {
  kind: "stateCommand";
  options: StateOption[];
}

export interface FloatParamNode extends InteractionBase {
  kind: "floatParam";
  min: number | null;
  max: number | null;
  units: string | null;
}

export interface TextParamNode extends InteractionBase {
  kind: "textParam";
  textArea: boolean;
}

export interface DatetimeParamNode extends InteractionBase {
  kind: "datetimeParam";
  /** False: a date only. The value is epoch seconds (UTC), as pydoover stores it. */
  includeTime: boolean;
}

export interface WarningNode extends InteractionBase {
  kind: "warning";
  /** The person may dismiss it (pydoover `can_cancel`). */
  canCancel: boolean;
}

export interface ContainerNode extends NodeBase {
  /** submodule: collapsible group; container: a plain group. */
  kind: "submodule" | "container";
  children: UiNode[];
  /** `statusString`, shown next to the title. */
  status: string | null;
  statusIcon: string | null;
  defaultOpen: boolean;
}

export interface ConnectionInfoNode extends NodeBase {
  kind: "connectionInfo";
  /** constant, periodic or other. */
  connectionType: string;
  /** Seconds between connections (periodic). */
  period: number | null;
  /** Seconds after shutdown until the next connection. */
  nextConnection: number | null;
  /** Seconds without connection before the device counts as offline. */
  offlineAfter: number | null;
  allowedMisses: number | null;
}

export interface AlertStreamNode extends NodeBase {
  kind: "alertStream";
}

export interface PlotSeries {
  name: string;
  colour: string | null;
  active: boolean;
  /** The app's variable of that name, when it has one (for its current value). */
  variable: VariableNode | null;
}

export interface MultiPlotNode extends NodeBase {
  kind: "multiPlot";
  title: string | null;
  series: PlotSeries[];
}

export interface UnsupportedNode extends NodeBase {
  kind: "unsupported";
  reason: string;
}

export type InteractionNode =
  | ActionNode
  | SliderNode
  | StateCommandNode
  | FloatParamNode
  | TextParamNode
  | DatetimeParamNode
  | WarningNode;

export type UiNode =
  | VariableNode
  | InteractionNode
  | ContainerNode
  | ConnectionInfoNode
  | AlertStreamNode
  | MultiPlotNode
  | UnsupportedNode;

/** Something in an app's UI that needs attention, for the app's summary line. */
export interface AppWarning {
  name: string;
  label: string;
  /** Where it comes from: a shown warning indicator. */
  source: "indicator";
}

/** An app's UI (its `uiApplication` container) ready to render. */
export interface AppUi {
  name: string;
  label: string | null;
  /** `stacked` or `submodule` (pydoover ApplicationVariant), when the app sets it. */
  variant: string | null;
  status: string | null;
  statusIcon: string | null;
  children: UiNode[];
  /** How many elements the app hides (`hidden: true`, hidden values). */
  hiddenCount: number;
  warnings: AppWarning[];
}

export interface UiContext {
  /** The device's `ui_cmds` map (interaction name → value). */
  cmds?: Record<string, unknown>;
  /** Writes not applied yet (the app's `pending_writes`, plus ones just sent). */
  writes?: readonly ChannelWrite[];
  format?: FormatOptions;
}

// ---------------------------------------------------------------------------------------------
// Element types

type Kind = UiNode["kind"] | "hidden";

/**
 * pydoover 0.x type strings. The `...Parameter` spellings are accepted too, for apps that
 * spell the parameter types out (pydoover itself sends `uiFloatParam`, `uiTextParam`,
 * `uiDatetimeParam`).
 */
const KINDS: Record<string, Kind> = {
  uiVariable: "variable",
  uiTimestamp: "variable",
  uiAction: "action",
  uiSlider: "slider",
  uiStateCommand: "stateCommand",
  uiFloatParam: "floatParam",
  uiFloatParameter: "floatParam",
  uiTextParam: "textParam",
  uiTextParameter: "textParam",
  uiDatetimeParam: "datetimeParam",
  uiDatetimeParameter: "datetimeParam",
  uiWarningIndicator: "warning",
  uiHiddenValue: "hidden",
  uiSubmodule: "submodule",
  uiContainer: "container",
  uiApplication: "container",
  uiConnectionInfo: "connectionInfo",
  uiAlertStream: "alertStream",
  uiMultiPlot: "multiPlot",
};

/** Types known from pydoover that this dashboard shows only by name, and why. */
const NOT_SHOWN: Record<string, string> = {
  uiCamera: "Camera views are not shown in this dashboard.",
  uiCameraFeed: "Camera views are not shown in this dashboard.",
  uiCameraHistory: "Camera views are not shown in this dashboard.",
  uiCameraLiveView: "Camera views are not shown in this dashboard.",
  uiRemoteComponent: "Remote components are not loaded by this dashboard.",
  uiBoolParam: "Boolean parameters are not supported.",
};

const UNSUPPORTED = "This kind of element is not supported by this dashboard.";

// ---------------------------------------------------------------------------------------------
// Values

const SAFE_COLOUR = /^(#[0-9a-f]{3,8}|[a-z]{3,30}|(rgb|rgba|hsl|hsla)\([\d\s.,%/-]{1,60}\))$/i;

/** A colour the app gave, when it is a plain CSS colour (a name, hex or rgb/hsl). */
export function safeColour(value: unknown): string | null {
  const colour = text(value)?.trim();
  return colour && SAFE_COLOUR.test(colour) ? colour : null;
}

function parseRange(value: unknown): UiRange | null {
  if (!isDict(value)) return null;
  const min = finite(value.min);
  const max = finite(value.max);
  if (min === null && max === null) return null;
  return {
    label: text(value.label),
    min,
    max,
    colour: safeColour(value.colour),
    showOnGraph: flag(value.show_on_graph ?? value.showOnGraph, true),
  };
}

/**
 * The range `value` falls in: the first whose `min <= value < max`; a value at the top end of
 * a range that no other range starts at counts too (so 100 is in 50–100).
 */
export function rangeFor(value: unknown, ranges: readonly UiRange[]): UiRange | null {
  const v = finite(value);
  if (v === null) return null;
  const low = (r: UiRange) => r.min === null || r.min <= v;
  const inside = ranges.find((r) => low(r) && (r.max === null || v < r.max));
  return inside ?? ranges.find((r) => low(r) && r.max === v) ?? null;
}

function span(ranges: readonly UiRange[]): { min: number; max: number } | null {
  const ends = ranges.flatMap((r) => [r.min, r.max]).filter((n): n is number => n !== null);
  if (ends.length < 2) return null;
  const min = Math.min(...ends);
  const max = Math.max(...ends);
  return max > min ? { min, max } : null;
}

/** A number with `precision` decimals (pydoover `decPrecision`) and its units. */
export function formatUiNumber(
  value: number,
  precision: number | null,
  units: string | null,
  options: FormatOptions = {},
): string {
  let number: string;
  if (precision !== null && precision >= 0 && precision <= 20) {
    number = new Intl.NumberFormat(options.locale, {
      minimumFractionDigits: Math.trunc(precision),
      maximumFractionDigits: Math.trunc(precision),
    }).format(value);
  } else {
    number = formatNumber(value, options);
  }
  const unit = units?.trim();
  return unit ? `${number} ${unit}` : number;
}

/** Any value as short text, for the places that show a value as it is. */
export function valueText(value: unknown): string {
  if (value === null || value === undefined) return "—";
  if (typeof value === "string") return value === "" ? "—" : value;
  if (typeof value === "boolean") return value ? "Yes" : "No";
  if (typeof value === "number") return formatNumber(value);
  return JSON.stringify(value);
}

function variableText(
  value: unknown,
  varType: string,
  precision: number | null,
  units: string | null,
  options: FormatOptions,
): string {
  if (value === null || value === undefined || value === "") return "—";
  if (varType === "time" || varType === "timestamp") {
    const ms = typeof value === "number" ? (varType === "time" ? value * 1000 : value) : value;
    if (typeof ms === "number" || typeof ms === "string") return formatDateTime(ms, options);
  }
  if (typeof value === "number") return formatUiNumber(value, precision, units, options);
  if (typeof value === "boolean") return value ? "Yes" : "No";
  const shown = valueText(value);
  const unit = units?.trim();
  return unit && varType === "float" ? `${shown} ${unit}` : shown;
}

// ---------------------------------------------------------------------------------------------
// Pending writes

/**
 * The interactions with a write on `ui_cmds` that is not applied yet: the newest such write's
 * value for each name. (A write's patch is `{"cmds": {name: value}}`.)
 */
export function pendingCommands(writes: readonly ChannelWrite[] = []): Map<string, PendingCommand> {
  const pending = new Map<string, PendingCommand>();
  const ordered = [...writes].sort(
    (a, b) => a.seq - b.seq || a.created_at.localeCompare(b.created_at),
  );
  for (const write of ordered) {
    if (write.channel !== "ui_cmds" || write.state === "applied" || write.state === "refused") {
      continue;
    }
    const cmds = write.patch.cmds;
    if (!isDict(cmds)) continue;
    for (const [name, value] of Object.entries(cmds)) {
      pending.set(name, {
        state: write.state,
        value,
        writeId: write.id,
        createdAt: write.created_at,
      });
    }
  }
  return pending;
}

/** `ui_cmds` as it will be once the pending writes are applied (null removes, as in RFC 7396). */
export function mergePendingCommands(
  cmds: Record<string, unknown>,
  pending: ReadonlyMap<string, PendingCommand>,
): Record<string, unknown> {
  const merged = new Map(Object.entries(cmds));
  for (const [name, write] of pending) {
    if (write.value === null) merged.delete(name);
    else merged.set(name, write.value);
  }
  return Object.fromEntries(merged);
}

/** A saved config that the device has not confirmed yet (the newest such write). */
export interface PendingConfig {
  state: "pending" | "delivered";
  writeId: string;
  createdAt: string;
  /** The app's config as that write sets it (or merges it). */
  config: Record<string, unknown> | null;
}

export function pendingConfig(
  writes: readonly ChannelWrite[] = [],
  appKey: string,
): PendingConfig | null {
  let found: PendingConfig | null = null;
  for (const write of writes) {
    if (write.channel !== "deployment_config") continue;
    if (write.state === "applied" || write.state === "refused") continue;
    const apps = write.patch.applications;
    if (!isDict(apps) || !(appKey in apps)) continue;
    const config = apps[appKey];
    const candidate: PendingConfig = {
      state: write.state,
      writeId: write.id,
      createdAt: write.created_at,
      config: isDict(config) ? config : null,
    };
    if (found === null || write.created_at >= found.createdAt) found = candidate;
  }
  return found;
}

// ---------------------------------------------------------------------------------------------
// ui_cmds payloads

/** The body of the `ui_cmds` merge patch that sets one interaction. */
export function commandPayload(name: string, value: unknown): { cmds: Record<string, unknown> } {
  return { cmds: { [name]: value } };
}

/** What pressing an action button writes (the app resets it when it has handled it). */
export const ACTION_PRESSED = true;
/** What dismissing a warning indicator writes. */
export const WARNING_DISMISSED = false;

export type Parsed<T> = { ok: true; value: T } | { ok: false; message: string };

/** A typed number for a float parameter, within its `min`/`max`. */
export function parseFloatInput(
  input: string,
  node: Pick<FloatParamNode, "min" | "max">,
): Parsed<number> {
  const trimmed = input.trim();
  if (trimmed === "") return { ok: false, message: "Enter a number." };
  const value = Number(trimmed);
  if (!Number.isFinite(value)) return { ok: false, message: "Enter a number." };
  if (node.min !== null && value < node.min) {
    return { ok: false, message: `Enter at least ${formatNumber(node.min)}.` };
  }
  if (node.max !== null && value > node.max) {
    return { ok: false, message: `Enter at most ${formatNumber(node.max)}.` };
  }
  return { ok: true, value };
}

/** A slider position, clamped to the slider's span and snapped to its step. */
export function sliderValue(value: number, node: Pick<SliderNode, "min" | "max" | "step">): number {
  const clamped = Math.min(node.max, Math.max(node.min, value));
  if (!(node.step > 0)) return clamped;
  const steps = Math.round((clamped - node.min) / node.step);
  const snapped = node.min + steps * node.step;
  const decimals = (String(node.step).split(".")[1] ?? "").length;
  return Math.min(node.max, Number(snapped.toFixed(Math.min(decimals + 2, 12))));
}

const pad = (n: number, width = 2) => String(n).padStart(width, "0");

/**
 * Epoch seconds → the value of a `date` input (UTC day) or a `datetime-local` input (the
 * browser's zone); "" for no value.
 */
export function datetimeInputValue(value: unknown, includeTime: boolean): string {
  const seconds = finite(value);
  if (seconds === null) return "";
  const d = new Date(seconds * 1000);
  if (Number.isNaN(d.getTime())) return "";
  if (!includeTime) {
    return `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
  }
  return (
    `${pad(d.getFullYear(), 4)}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}` +
    `T${pad(d.getHours())}:${pad(d.getMinutes())}`
  );
}

/** A `date` (UTC midnight) or `datetime-local` input's value → epoch seconds. */
export function parseDatetimeInput(input: string, includeTime: boolean): Parsed<number> {
  const trimmed = input.trim();
  if (!includeTime) {
    const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(trimmed);
    if (!m) return { ok: false, message: "Enter a date." };
    const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
    const back = new Date(ms);
    if (back.getUTCMonth() !== Number(m[2]) - 1) return { ok: false, message: "Enter a date." };
    return { ok: true, value: ms / 1000 };
  }
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(trimmed);
  if (!m) return { ok: false, message: "Enter a date and time." };
  const date = new Date(
    Number(m[1]),
    Number(m[2]) - 1,
    Number(m[3]),
    Number(m[4]),
    Number(m[5]),
    Number(m[6] ?? 0),
  );
  if (Number.isNaN(date.getTime()) || date.getDate() !== Number(m[3])) {
    return { ok: false, message: "Enter a date and time." };
  }
  return { ok: true, value: Math.floor(date.getTime() / 1000) };
}

/** How an interaction's value reads, e.g. a state command's option label. */
export function interactionText(node: InteractionNode, value: unknown = node.value): string {
  if (value === null || value === undefined || value === "") return "—";
  switch (node.kind) {
    case "stateCommand":
      return node.options.find((o) => o.value === value)?.label ?? valueText(value);
    case "slider":
    case "floatParam":
      return typeof value === "number" ? formatUiNumber(value, null, node.units) : valueText(value);
    case "datetimeParam": {
      const seconds = finite(value);
      if (seconds === null) return valueText(value);
      if (node.includeTime) return formatDateTime(seconds * 1000);
      return new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeZone: "UTC" }).format(
        new Date(seconds * 1000),
      );
    }
    default:
      return valueText(value);
  }
}

// ---------------------------------------------------------------------------------------------
// Parsing

interface Walk {
  cmds: Record<string, unknown>;
  pending: Map<string, PendingCommand>;
  format: FormatOptions;
  hidden: number;
  variables: Map<string, VariableNode>;
  plots: MultiPlotNode[];
  warnings: AppWarning[];
}

function childEntries(children: unknown): [string, unknown][] {
  if (isDict(children)) return Object.entries(children);
  if (Array.isArray(children)) {
    return children.map((child, index) => [
      isDict(child) && typeof child.name === "string" ? child.name : String(index),
      child,
    ]);
  }
  return [];
}

function position(element: Dict): number | null {
  const raw = element.position;
  if (typeof raw === "number" && Number.isFinite(raw)) return raw;
  if (typeof raw === "string" && raw.trim() !== "" && Number.isFinite(Number(raw))) {
    return Number(raw);
  }
  return null;
}

/** The children of a container, sorted by `position` (then as listed), hidden ones left out. */
function parseChildren(children: unknown, walk: Walk): UiNode[] {
  const entries = childEntries(children).map(([key, element], index) => ({
    key,
    element,
    index,
    position: isDict(element) ? position(element) : null,
  }));
  entries.sort((a, b) => {
    if (a.position !== b.position) {
      if (a.position === null) return 1;
      if (b.position === null) return -1;
      return a.position - b.position;
    }
    return a.index - b.index;
  });
  const nodes: UiNode[] = [];
  for (const entry of entries) {
    const node = parseElement(entry.key, entry.element, walk);
    if (node !== null) nodes.push(node);
  }
  return nodes;
}

function base(key: string, element: Dict, type: string): NodeBase {
  const name = text(element.name) ?? key;
  return {
    key,
    name,
    type,
    label: text(element.displayString) ?? text(element.display_str) ?? name,
    help: text(element.helpString),
    available: element.isAvailable !== false,
  };
}

function interaction(common: NodeBase, element: Dict, walk: Walk): InteractionBase {
  const fromCmds = Object.prototype.hasOwnProperty.call(walk.cmds, common.name)
    ? walk.cmds[common.name]
    : undefined;
  const appliedValue = fromCmds !== undefined ? fromCmds : (element.currentValue ?? null);
  const pending = walk.pending.get(common.name) ?? null;
  return {
    ...common,
    appliedValue,
    pending,
    value: pending !== null ? pending.value : appliedValue,
  };
}

function parseVariable(common: NodeBase, element: Dict, walk: Walk): VariableNode {
  const varType = element.type === "uiTimestamp" ? "timestamp" : (text(element.varType) ?? "");
  const value = element.currentValue ?? null;
  const precision = finite(element.decPrecision);
  const units = text(element.units);
  const ranges = Array.isArray(element.ranges)
    ? element.ranges.map(parseRange).filter((r): r is UiRange => r !== null)
    : [];
  const number = finite(value);
  const range = rangeFor(number, ranges);
  const bounds = span(ranges);
  const gaugeForm = element.form === "linearGauge" || element.form === "radialGauge";
  const node: VariableNode = {
    ...common,
    kind: "variable",
    varType,
    value,
    text: variableText(value, varType, precision, units, walk.format),
    precision,
    units,
    ranges,
    range,
    gauge: gaugeForm && bounds && number !== null ? { ...bounds, value: number } : null,
  };
  walk.variables.set(node.name, node);
  return node;
}

function parseOptions(options: unknown): StateOption[] {
  return childEntries(options).map(([key, option]) => {
    const value = isDict(option) ? (text(option.name) ?? key) : key;
    const label = isDict(option)
      ? (text(option.displayString) ?? text(option.display_str) ?? value)
      : value;
    return { value, label };
  });
}

function parseElement(key: string, element: unknown, walk: Walk): UiNode | null {
  if (!isDict(element)) {
    return {
      kind: "unsupported",
      key,
      name: key,
      type: "",
      label: key,
      help: null,
      available: true,
      reason: "This element could not be read.",
    };
  }
  const type = text(element.type) ?? "";
  const kind = KINDS[type];
  if (element.hidden === true || kind === "hidden") {
    walk.hidden += 1;
    return null;
  }
  const common = base(key, element, type);
  switch (kind) {
    case "variable":
      return parseVariable(common, element, walk);
    case "action":
      return {
        ...interaction(common, element, walk),
        kind,
        colour: safeColour(element.colour),
        requiresConfirm: flag(element.requiresConfirm, true),
        disabled: flag(element.disabled, false),
      };
    case "slider": {
      const min = finite(element.min) ?? 0;
      const max = finite(element.max) ?? 100;
      const step = finite(element.stepSize);
      return {
        ...interaction(common, element, walk),
        kind,
        min: Math.min(min, max),
        max: Math.max(min, max),
        step: step !== null && step > 0 ? step : 0.1,
        dual: flag(element.dualSlider, true),
        inverted: flag(element.isInverted, false),
        icon: text(element.icon),
        units: text(element.units),
      };
    }
    case "stateCommand":
      return {
        ...interaction(common, element, walk),
        kind,
        options: parseOptions(element.userOptions),
      };
    case "floatParam":
      return {
        ...interaction(common, element, walk),
        kind,
        min: finite(element.min),
        max: finite(element.max),
        units: text(element.units),
      };
    case "textParam":
      return {
        ...interaction(common, element, walk),
        kind,
        textArea: flag(element.isTextArea, false),
      };
    case "datetimeParam":
      return {
        ...interaction(common, element, walk),
        kind,
        includeTime: flag(element.includeTime, false),
      };
    case "warning": {
      const node: WarningNode = {
        ...interaction(common, element, walk),
        kind,
        canCancel: flag(element.can_cancel ?? element.canCancel, true),
      };
      walk.warnings.push({ name: node.name, label: node.label, source: "indicator" });
      return node;
    }
    case "submodule":
    case "container":
      return {
        ...common,
        kind,
        children: parseChildren(element.children, walk),
        status: text(element.statusString),
        statusIcon: text(element.statusIcon),
        defaultOpen: flag(element.defaultOpen, true),
      };
    case "connectionInfo":
      return {
        ...common,
        label: text(element.displayString) ?? "Connection",
        kind,
        connectionType: text(element.connectionType) ?? "constant",
        period: finite(element.connectionPeriod),
        nextConnection: finite(element.nextConnection),
        offlineAfter: finite(element.offlineAfter),
        allowedMisses: finite(element.allowedMisses),
      };
    case "alertStream":
      return { ...common, kind };
    case "multiPlot": {
      const names = Array.isArray(element.series)
        ? element.series.filter((s): s is string => typeof s === "string")
        : [];
      const colours = Array.isArray(element.colours) ? element.colours : [];
      const active = Array.isArray(element.activeSeries) ? element.activeSeries : [];
      const node: MultiPlotNode = {
        ...common,
        kind,
        title: text(element.title),
        series: names.map((name, i) => ({
          name,
          colour: safeColour(colours[i]),
          active: flag(active[i], true),
          variable: null,
        })),
      };
      walk.plots.push(node);
      return node;
    }
    default:
      return { ...common, kind: "unsupported", reason: NOT_SHOWN[type] ?? UNSUPPORTED };
  }
}

/**
 * Parse an app's UI container (`ui_state.state.children[app_key]`); null when there is none.
 * Interactions take their values from `context.cmds` and the pending writes.
 */
export function parseAppUi(ui: unknown, context: UiContext = {}): AppUi | null {
  if (!isDict(ui)) return null;
  const walk: Walk = {
    cmds: context.cmds ?? {},
    pending: pendingCommands(context.writes),
    format: context.format ?? {},
    hidden: 0,
    variables: new Map(),
    plots: [],
    warnings: [],
  };
  const children = parseChildren(ui.children, walk);
  // A plot names the variables it draws; link them once every variable is known.
  for (const plot of walk.plots) {
    for (const series of plot.series) series.variable = walk.variables.get(series.name) ?? null;
  }
  return {
    name: text(ui.name) ?? "",
    label: text(ui.displayString),
    variant: text(ui.variant),
    status: text(ui.statusString),
    statusIcon: text(ui.statusIcon),
    children,
    hiddenCount: walk.hidden,
    warnings: walk.warnings,
  };
}

/** Every interaction of a UI tree, depth first (to find one by name). */
export function interactions(nodes: readonly UiNode[]): InteractionNode[] {
  const found: InteractionNode[] = [];
  for (const node of nodes) {
    if (node.kind === "submodule" || node.kind === "container") {
      found.push(...interactions(node.children));
    } else if ("appliedValue" in node) {
      found.push(node);
    }
  }
  return found;
}

/** The text of an alert message: pydoover apps publish plain text (kept as
 * `{"message": text}`) or an object with a `message`; anything else is shown as JSON. */
export function alertText(payload: Record<string, unknown>): string {
  const message = payload.message;
  if (typeof message === "string") return message;
  return JSON.stringify(payload);
}
