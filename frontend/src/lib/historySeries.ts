/** What the history page draws and says about one answer of `GET /datapoints`. */
import type { Series } from "../api/types";
import type { ChartLine } from "./chartData";
import { formatCount, formatDuration, type FormatOptions } from "./format";

/** The chart line; a downsampled answer is the bucket averages with a min/max band. */
export function seriesLine(series: Series): ChartLine {
  const line: ChartLine = {
    key: series.sensor,
    label: series.name,
    unit: series.unit,
    t: series.points.map((p) => Date.parse(p.t)),
    values: series.points.map((p) => (series.downsampled ? p.avg : p.value)),
  };
  if (series.downsampled) {
    line.min = series.points.map((p) => p.min);
    line.max = series.points.map((p) => p.max);
  }
  return line;
}

/** `12 points`, or for buckets how many raw points they stand for (the `history-count` text). */
export function seriesCountText(series: Series, options: FormatOptions = {}): string {
  const shown = formatCount(series.points.length, options);
  if (!series.downsampled) return `${shown} point${series.points.length === 1 ? "" : "s"}`;
  const bucket = series.bucket_seconds
    ? `, ${formatDuration(series.bucket_seconds, options)} each`
    : "";
  return `${shown} buckets of ${formatCount(series.count, options)} points${bucket} (min/max band, average line)`;
}

/** The lowest and highest value in the range (over the buckets' min and max), if any. */
export function seriesExtremes(series: Series): { min: number; max: number } | null {
  if (series.points.length === 0) return null;
  let min = Infinity;
  let max = -Infinity;
  for (const p of series.points) {
    min = Math.min(min, p.min);
    max = Math.max(max, p.max);
  }
  return { min, max };
}
