/**
 * What the dashboard's widgets show and send, as pure functions: their config, a gauge's
 * range, a value's freshness, and the channel write an actuator toggle makes.
 */
import type { WidgetSensor, WidgetType } from "../api/types";

export const WIDGET_TYPES: readonly { value: WidgetType; label: string; hint: string }[] = [
  { value: "stat_card", label: "Stat card", hint: "the latest value, big, with its age" },
  { value: "gauge", label: "Gauge", hint: "the latest value between a minimum and a maximum" },
  { value: "line_chart", label: "Line chart", hint: "the last minutes, updated live" },
  {
    value: "actuator_toggle",
    label: "Actuator toggle",
    hint: "switches a device's field between two values",
  },
];

export function widgetTypeLabel(type: WidgetType): string {
  return WIDGET_TYPES.find((t) => t.value === type)?.label ?? type;
}

/** The cloud's limits (`cloud/services/dashboards.py`, `cloud/models/dashboard.py`). */
export const CONFIG_MAX_BYTES = 4096;
export const TITLE_MAX = 255;
export const NAME_MAX = 255;
export const WINDOW_MINUTES_MAX = 24 * 60;
/** A line chart's window when its config names none. */
export const DEFAULT_WINDOW_MINUTES = 10;
/** A stat card's value older than this is marked stale. */
export const STALE_AFTER_MS = 60_000;

/** The config keys each type reads, as the editor's hint shows them. */
export const CONFIG_EXAMPLE: Record<WidgetType, string> = {
  stat_card: "{}",
  gauge: '{"min": 0, "max": 100}',
  line_chart: `{"minutes": ${DEFAULT_WINDOW_MINUTES}}`,
  actuator_toggle: '{"off_value": 0, "on_value": 1}',
};

export type Config = Record<string, unknown>;

const isNumber = (value: unknown): value is number =>
  typeof value === "number" && Number.isFinite(value);

/** A widget's `config_json` as an object; nothing for none or (never stored) bad text. */
export function parseConfig(text: string | null | undefined): Config {
  if (!text) return {};
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? (value as Config)
      : {};
  } catch {
    return {};
  }
}

/** What the cloud would refuse about a config text (its rules), or null when it is fine. */
export function checkConfig(type: WidgetType, text: string): string | null {
  if (text.trim() === "") return null;
  const bytes = new TextEncoder().encode(text).length;
  if (bytes > CONFIG_MAX_BYTES) return `is ${bytes} bytes; the limit is ${CONFIG_MAX_BYTES}`;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return `is not valid JSON (${error instanceof Error ? error.message : String(error)})`;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return "must be a JSON object ({…})";
  }
  const config = value as Config;
  const pair =
    type === "gauge" ? ["min", "max"] : type === "actuator_toggle" ? ["off_value", "on_value"] : [];
  for (const key of pair) {
    if (key in config && !isNumber(config[key])) return `${key} must be a number`;
  }
  const [low, high] = pair.map((key) => config[key]);
  if (type === "gauge" && isNumber(low) && isNumber(high) && !(low < high)) {
    return "min must be less than max";
  }
  if (type === "actuator_toggle" && isNumber(low) && isNumber(high) && low === high) {
    return "off_value and on_value must differ";
  }
  if (type === "line_chart" && "minutes" in config) {
    const minutes = config.minutes;
    if (!Number.isInteger(minutes) || (minutes as number) < 1 || (minutes as number) > 1440) {
      return `minutes must be a whole number from 1 to ${WINDOW_MINUTES_MAX}`;
    }
  }
  return null;
}

/** A line chart's window in milliseconds. */
export function windowMs(config: Config): number {
  const minutes = config.minutes;
  const whole =
    Number.isInteger(minutes) && (minutes as number) >= 1 && (minutes as number) <= 1440
      ? (minutes as number)
      : DEFAULT_WINDOW_MINUTES;
  return whole * 60_000;
}

export interface Range {
  min: number;
  max: number;
}

/** A gauge's range: the config's min/max, else the sensor's; null when either end is unknown. */
export function gaugeRange(sensor: WidgetSensor | null, config: Config): Range | null {
  const min = isNumber(config.min) ? config.min : (sensor?.min_value ?? null);
  const max = isNumber(config.max) ? config.max : (sensor?.max_value ?? null);
  if (min === null || max === null || !(min < max)) return null;
  return { min, max };
}

/** Where `value` sits in `range`, 0–1 (clamped: the needle stops at the ends). */
export function gaugeFraction(value: number, range: Range): number {
  return Math.min(1, Math.max(0, (value - range.min) / (range.max - range.min)));
}

export type Freshness = "none" | "fresh" | "stale";

export function freshness(t: number | undefined, now: number, staleAfter = STALE_AFTER_MS) {
  if (t === undefined) return "none" as Freshness;
  return (now - t > staleAfter ? "stale" : "fresh") as Freshness;
}

export interface ToggleValues {
  on: number;
  off: number;
}

export function toggleValues(config: Config): ToggleValues {
  const on = isNumber(config.on_value) ? config.on_value : 1;
  const off = isNumber(config.off_value) ? config.off_value : 0;
  return on === off ? { on: 1, off: 0 } : { on, off };
}

/** On when the latest value is the on value (anything else, or none, counts as off). */
export function isOn(value: number | undefined, values: ToggleValues): boolean {
  return value === values.on;
}

/** Where a toggle writes: the sensor's device channel and the field's path inside it. */
export interface ToggleTarget {
  deviceId: string;
  channel: string;
  path: string[];
}

/**
 * A device sensor's key is `<channel>.<field path>`, and channel names may hold dots too, so
 * the channel is the longest of the device's channels that the key starts with (then a dot).
 */
export function toggleTarget(
  sensor: WidgetSensor | null,
  channels: readonly string[],
): ToggleTarget | null {
  if (!sensor?.device_id || !sensor.key) return null;
  const key = sensor.key;
  const channel = [...channels]
    .filter((name) => key.startsWith(`${name}.`) && key.length > name.length + 1)
    .sort((a, b) => b.length - a.length)[0];
  if (channel === undefined) return null;
  return { deviceId: sensor.device_id, channel, path: key.slice(channel.length + 1).split(".") };
}

/** The merge patch that sets the field at `path` to `value`, e.g. `{"pump": {"on": 1}}`. */
export function togglePatch(path: readonly string[], value: number): Config {
  return path.reduceRight<unknown>((inner, part) => ({ [part]: inner }), value) as Config;
}

/** Why a toggle cannot be pressed, or null when it can. */
export function toggleDisabledReason(options: {
  canWrite: boolean;
  sensor: WidgetSensor | null;
  target: ToggleTarget | null;
  channelsKnown: boolean;
}): string | null {
  if (!options.canWrite) return "Viewers cannot switch actuators; an operator can.";
  if (!options.sensor) return "No sensor to switch.";
  if (!options.sensor.device_id) return "This sensor has no device to write to.";
  if (!options.channelsKnown) return "Looking up the device's channels…";
  if (!options.target) return "The device has no channel for this sensor yet.";
  return null;
}

export interface TimedValues {
  /** Epoch milliseconds, ascending. */
  t: number[];
  values: number[];
}

/**
 * A line chart's points: the stored series (from the series API) in the window, then the live
 * points that came after its last point, so neither gaps nor doubles show where they meet.
 */
export function mergeSeries(
  stored: readonly { t: string; value: number }[],
  live: { t: readonly number[]; v: readonly number[] },
  windowStart: number,
): TimedValues {
  const out: TimedValues = { t: [], values: [] };
  let last = -Infinity;
  for (const point of stored) {
    const t = Date.parse(point.t);
    if (t < windowStart || t <= last) continue;
    out.t.push(t);
    out.values.push(point.value);
    last = t;
  }
  live.t.forEach((t, i) => {
    const value = live.v[i];
    if (t < windowStart || t <= last || value === undefined) return;
    out.t.push(t);
    out.values.push(value);
    last = t;
  });
  return out;
}
