/** Turning lines with their own timestamps into uPlot's aligned columns. */

export interface ChartLine {
  key: string;
  label: string;
  unit: string;
  /** Epoch milliseconds, ascending. */
  t: readonly number[];
  values: readonly (number | null)[];
  /** Per-point lower and upper bounds (history buckets); drawn as a band. */
  min?: readonly (number | null)[];
  max?: readonly (number | null)[];
}

export type SeriesRole = "line" | "min" | "max";

export interface AlignedSeries {
  lineIndex: number;
  role: SeriesRole;
}

export interface Aligned {
  /** First column: x in seconds (uPlot's unit), then one column per series. */
  columns: (number | null)[][];
  series: AlignedSeries[];
  /** Pairs of column indices [upper, lower] to fill between. */
  bands: [number, number][];
  /** Points plotted, summed over the lines (bands add none). */
  points: number;
}

export function hasBand(line: ChartLine): boolean {
  return line.min !== undefined && line.max !== undefined;
}

export function alignLines(lines: readonly ChartLine[]): Aligned {
  const times = new Set<number>();
  for (const line of lines) for (const t of line.t) times.add(t);
  const xs = [...times].sort((a, b) => a - b);
  const position = new Map<number, number>();
  xs.forEach((t, index) => position.set(t, index));

  const columns: (number | null)[][] = [xs.map((t) => t / 1000)];
  const series: AlignedSeries[] = [];
  const bands: [number, number][] = [];
  let points = 0;

  const column = (line: ChartLine, source: readonly (number | null)[]) => {
    const out: (number | null)[] = new Array<number | null>(xs.length).fill(null);
    line.t.forEach((t, index) => {
      const at = position.get(t);
      const value = source[index];
      if (at !== undefined && value !== undefined) out[at] = value;
    });
    return out;
  };

  lines.forEach((line, lineIndex) => {
    const values = column(line, line.values);
    points += values.filter((value) => value !== null).length;
    columns.push(values);
    series.push({ lineIndex, role: "line" });
    if (line.min !== undefined && line.max !== undefined) {
      columns.push(column(line, line.min));
      series.push({ lineIndex, role: "min" });
      columns.push(column(line, line.max));
      series.push({ lineIndex, role: "max" });
      const maxIndex = columns.length - 1;
      bands.push([maxIndex, maxIndex - 1]);
    }
  });
  return { columns, series, bands, points };
}

/** What decides the chart's build (series, units, bands); data alone is updated in place. */
export function chartShape(lines: readonly ChartLine[]): string {
  return lines.map((line) => `${line.key}|${line.unit}|${hasBand(line) ? "b" : ""}`).join(",");
}
