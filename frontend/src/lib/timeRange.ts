/** Time ranges: `datetime-local` values (browser zone) and the quick ranges. */

export interface TimeRange {
  /** Epoch milliseconds. */
  start: number;
  end: number;
}

export const QUICK_RANGES = [
  { key: "1h", label: "1 h", ms: 3600_000 },
  { key: "24h", label: "24 h", ms: 24 * 3600_000 },
  { key: "7d", label: "7 d", ms: 7 * 24 * 3600_000 },
] as const;

export type QuickRangeKey = (typeof QUICK_RANGES)[number]["key"];

export function quickRange(key: QuickRangeKey, now: number): TimeRange {
  const found = QUICK_RANGES.find((range) => range.key === key) ?? QUICK_RANGES[0];
  return { start: now - found.ms, end: now };
}

const pad = (value: number, width = 2) => String(value).padStart(width, "0");

/** Epoch ms → `YYYY-MM-DDTHH:mm:ss` in the browser's zone (for `<input type="datetime-local">`). */
export function toLocalInput(ms: number): string {
  const d = new Date(ms);
  if (Number.isNaN(d.getTime())) return "";
  return (
    `${pad(d.getFullYear(), 4)}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}` +
    `T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
  );
}

/** `YYYY-MM-DDTHH:mm[:ss[.sss]]` in the browser's zone → epoch ms, or null when invalid. */
export function fromLocalInput(value: string): number | null {
  const match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?$/.exec(
    value.trim(),
  );
  if (!match) return null;
  const [, y, mo, d, h, mi, s, frac] = match;
  const date = new Date(
    Number(y),
    Number(mo) - 1,
    Number(d),
    Number(h),
    Number(mi),
    Number(s ?? 0),
    Number((frac ?? "0").padEnd(3, "0")),
  );
  if (date.getMonth() !== Number(mo) - 1 || date.getDate() !== Number(d)) return null;
  return date.getTime();
}

/** An ISO timestamp from the URL → epoch ms, or null. */
export function parseIso(value: unknown): number | null {
  if (typeof value !== "string" || value === "") return null;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : ms;
}

export function toIso(ms: number): string {
  return new Date(ms).toISOString();
}

export function validRange(start: number | null, end: number | null): string | null {
  if (start === null) return "Enter a valid start time.";
  if (end === null) return "Enter a valid end time.";
  if (end <= start) return "The end must be after the start.";
  return null;
}
