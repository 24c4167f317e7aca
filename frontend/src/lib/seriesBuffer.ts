/** Recent live points per sensor, bounded by age and count, kept in time order. */

export interface BufferLimits {
  maxAgeMs: number;
  maxPoints: number;
}

export const DEFAULT_LIMITS: BufferLimits = { maxAgeMs: 10 * 60 * 1000, maxPoints: 3000 };

export interface Samples {
  /** Epoch milliseconds, ascending. */
  t: number[];
  v: number[];
}

export class SeriesBuffer {
  private readonly series = new Map<string, Samples>();

  constructor(private readonly limits: BufferLimits = DEFAULT_LIMITS) {}

  /** Add a point; a point at a time already held replaces that value. */
  add(sensorId: string, t: number, value: number, now: number = t): void {
    let samples = this.series.get(sensorId);
    if (!samples) {
      samples = { t: [], v: [] };
      this.series.set(sensorId, samples);
    }
    const { t: times, v: values } = samples;
    const last = times.length - 1;
    if (last < 0 || t > (times[last] ?? -Infinity)) {
      times.push(t);
      values.push(value);
    } else {
      // Out of order (a poll and the socket can overlap): insert in place.
      let index = last;
      while (index >= 0 && (times[index] ?? -Infinity) > t) index -= 1;
      if (index >= 0 && times[index] === t) values[index] = value;
      else {
        times.splice(index + 1, 0, t);
        values.splice(index + 1, 0, value);
      }
    }
    this.trim(samples, now);
  }

  private trim(samples: Samples, now: number): void {
    const oldest = now - this.limits.maxAgeMs;
    let drop = 0;
    while (drop < samples.t.length && (samples.t[drop] ?? Infinity) < oldest) drop += 1;
    drop = Math.max(drop, samples.t.length - this.limits.maxPoints);
    if (drop > 0) {
      samples.t.splice(0, drop);
      samples.v.splice(0, drop);
    }
  }

  /** Drop points older than the age limit from every sensor. */
  prune(now: number): void {
    for (const samples of this.series.values()) this.trim(samples, now);
  }

  get(sensorId: string): Samples {
    return this.series.get(sensorId) ?? { t: [], v: [] };
  }

  latest(sensorId: string): { t: number; value: number } | null {
    const samples = this.series.get(sensorId);
    const index = samples ? samples.t.length - 1 : -1;
    if (!samples || index < 0) return null;
    return { t: samples.t[index] as number, value: samples.v[index] as number };
  }

  size(sensorId: string): number {
    return this.series.get(sensorId)?.t.length ?? 0;
  }

  /** Keep only these sensors. */
  retain(sensorIds: readonly string[]): void {
    const keep = new Set(sensorIds);
    for (const id of [...this.series.keys()]) if (!keep.has(id)) this.series.delete(id);
  }

  clear(): void {
    this.series.clear();
  }
}
