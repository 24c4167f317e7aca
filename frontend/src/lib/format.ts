/** Numbers, values with units and times, in the browser's locale and time zone. */

export interface FormatOptions {
  locale?: string;
  timeZone?: string;
}

function fractionDigits(value: number): number {
  const magnitude = Math.abs(value);
  if (magnitude === 0 || Number.isInteger(value)) return 0;
  if (magnitude >= 1000) return 1;
  if (magnitude >= 1) return 2;
  return 4;
}

export function formatNumber(value: number, options: FormatOptions = {}): string {
  if (!Number.isFinite(value)) return String(value);
  return new Intl.NumberFormat(options.locale, {
    maximumFractionDigits: fractionDigits(value),
  }).format(value);
}

/** `21.5 °C`, `42 %`, or the bare number when the sensor has no unit. */
export function formatValue(
  value: number | null | undefined,
  unit: string,
  options: FormatOptions = {},
): string {
  if (value === null || value === undefined) return "—";
  const number = formatNumber(value, options);
  return unit.trim() ? `${number} ${unit.trim()}` : number;
}

function toDate(value: Date | string | number): Date {
  return value instanceof Date ? value : new Date(value);
}

/** Date and time, e.g. `Dec 1, 2026, 9:28:08 PM`, in the browser's zone. */
export function formatDateTime(value: Date | string | number, options: FormatOptions = {}): string {
  const date = toDate(value);
  if (Number.isNaN(date.getTime())) return "—";
  return new Intl.DateTimeFormat(options.locale, {
    dateStyle: "medium",
    timeStyle: "medium",
    timeZone: options.timeZone,
  }).format(date);
}

/** Time of day, e.g. `9:28:08 PM`. */
export function formatTime(value: Date | string | number, options: FormatOptions = {}): string {
  const date = toDate(value);
  if (Number.isNaN(date.getTime())) return "—";
  return new Intl.DateTimeFormat(options.locale, {
    timeStyle: "medium",
    timeZone: options.timeZone,
  }).format(date);
}

const UNITS: [Intl.RelativeTimeFormatUnit, number][] = [
  ["year", 365 * 24 * 3600],
  ["month", 30 * 24 * 3600],
  ["week", 7 * 24 * 3600],
  ["day", 24 * 3600],
  ["hour", 3600],
  ["minute", 60],
  ["second", 1],
];

/** `5 seconds ago`, `3 minutes ago`, `now`; `Never` for no time at all. */
export function formatRelative(
  value: Date | string | number | null | undefined,
  now: number,
  options: FormatOptions = {},
): string {
  if (value === null || value === undefined) return "Never";
  const time = toDate(value).getTime();
  if (Number.isNaN(time)) return "—";
  const seconds = Math.round((time - now) / 1000);
  const format = new Intl.RelativeTimeFormat(options.locale, { numeric: "auto" });
  if (Math.abs(seconds) < 5) return format.format(0, "second");
  for (const [unit, size] of UNITS) {
    if (Math.abs(seconds) >= size) return format.format(Math.trunc(seconds / size), unit);
  }
  return format.format(seconds, "second");
}

/** A duration in seconds in words, e.g. `30 s`, `5 min`, `2 h`. */
export function formatDuration(seconds: number, options: FormatOptions = {}): string {
  const unit = (value: number, name: "second" | "minute" | "hour" | "day") =>
    new Intl.NumberFormat(options.locale, {
      style: "unit",
      unit: name,
      unitDisplay: "short",
      maximumFractionDigits: 1,
    }).format(value);
  if (seconds < 60) return unit(seconds, "second");
  if (seconds < 3600) return unit(seconds / 60, "minute");
  if (seconds < 86400) return unit(seconds / 3600, "hour");
  return unit(seconds / 86400, "day");
}

export function formatCount(value: number, options: FormatOptions = {}): string {
  return new Intl.NumberFormat(options.locale).format(value);
}

/**
 * A dotted key ("plugin.system.cpu_percent") cut after each "." and "_", so a narrow column
 * can wrap it between words instead of mid-word; joined, the parts are the key again.
 */
export function nameParts(name: string): string[] {
  return name.match(/[^._]*[._]|[^._]+$/g) ?? [name];
}
