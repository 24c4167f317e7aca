import { onBeforeUnmount, onMounted, ref, shallowRef, watch, type Ref } from "vue";
import { api, call } from "../api/client";
import { token, tokenRefused } from "../api/session";
import type { Latest } from "../api/types";
import { initialState, type LiveState } from "../lib/liveConnection";
import { LiveRunner } from "../lib/liveRunner";
import type { RuleNotification } from "../lib/rules";
import { DEFAULT_LIMITS, SeriesBuffer } from "../lib/seriesBuffer";
import { isUuid, streamUrl, type StreamPoint } from "../lib/stream";

export interface LatestValue {
  value: number;
  /** Epoch milliseconds. */
  t: number;
}

export interface LiveStreamOptions {
  /** Sensors to stream (empty: no sensor filter). */
  sensors: Ref<readonly string[]>;
  /** Devices to stream (empty: no device filter). */
  devices?: Ref<readonly string[]>;
  /** Sensors whose latest values are fetched to seed and while polling; default `sensors`. */
  pollSensors?: Ref<readonly string[]>;
  /** Seed each streamed sensor's buffer with its recent history (for charts). */
  seedHistory?: boolean;
  /** Called with each rule notification the stream pushes. */
  onNotification?: (notification: RuleNotification) => void;
  /** Poll the latest values while the socket is down (default); false for a socket kept
   * only for notifications, which polling cannot bring. */
  poll?: boolean;
}

export interface LiveStream {
  /** The connection's state, for the `connection-state` badge. */
  state: Readonly<Ref<LiveState>>;
  /** The newest value per sensor id. */
  latest: Readonly<Ref<Record<string, LatestValue>>>;
  /** Bumped whenever `buffer` changed (the buffer itself is not reactive). */
  version: Readonly<Ref<number>>;
  buffer: SeriesBuffer;
  pollError: Readonly<Ref<string | null>>;
}

/**
 * Live values: the WebSocket stream first, `/api/v1/datapoints/latest` polling when the
 * socket is unavailable (see `lib/liveConnection.ts`), merged into one bounded buffer.
 */
export function useLiveStream(options: LiveStreamOptions): LiveStream {
  const devices = options.devices ?? ref<readonly string[]>([]);
  const pollSensors = options.pollSensors ?? options.sensors;
  const state = shallowRef<LiveState>(initialState);
  const latest = shallowRef<Record<string, LatestValue>>({});
  /** Bumped whenever the buffer changed. */
  const version = ref(0);
  const pollError = ref<string | null>(null);
  const buffer = new SeriesBuffer();

  function addPoints(points: readonly StreamPoint[]): void {
    if (points.length === 0) return;
    const next = { ...latest.value };
    const now = Date.now();
    for (const point of points) {
      buffer.add(point.sensorId, point.t, point.value, now);
      const known = next[point.sensorId];
      if (!known || point.t >= known.t) next[point.sensorId] = { value: point.value, t: point.t };
    }
    latest.value = next;
    version.value += 1;
  }

  let fetching = false;
  async function fetchLatest(): Promise<void> {
    const wanted = pollSensors.value.filter(isUuid);
    if (wanted.length === 0 && (devices.value.length > 0 || pollSensors.value.length > 0)) return;
    if (fetching) return;
    fetching = true;
    try {
      const rows: Latest[] = await call(
        api.GET("/api/v1/datapoints/latest", {
          params: { query: wanted.length > 0 ? { sensor: wanted } : {} },
        }),
      );
      const allowed = new Set(wanted);
      addPoints(
        rows
          .filter((row) => allowed.size === 0 || allowed.has(row.sensor_public_id))
          .map((row) => ({
            sensorId: row.sensor_public_id,
            value: row.value,
            t: Date.parse(row.timestamp),
          })),
      );
      pollError.value = null;
    } catch (cause) {
      pollError.value = cause instanceof Error ? cause.message : String(cause);
    } finally {
      fetching = false;
    }
  }

  const seeded = new Set<string>();
  async function seedHistory(): Promise<void> {
    if (!options.seedHistory) return;
    const end = Date.now();
    const start = end - DEFAULT_LIMITS.maxAgeMs;
    const fresh = options.sensors.value.filter((id) => isUuid(id) && !seeded.has(id));
    await Promise.all(
      fresh.map(async (sensor) => {
        seeded.add(sensor);
        try {
          const series = await call(
            api.GET("/api/v1/datapoints", {
              params: {
                query: {
                  sensor,
                  start: new Date(start).toISOString(),
                  end: new Date(end).toISOString(),
                  max_points: 600,
                },
              },
            }),
          );
          addPoints(
            series.points.map((p) => ({ sensorId: sensor, value: p.value, t: Date.parse(p.t) })),
          );
        } catch {
          seeded.delete(sensor);
        }
      }),
    );
  }

  // The token the stream was opened with: a close for it says nothing of a newer one.
  let streamToken: string | null = null;

  /** The stream closed with 1008: end the session, unless the token still works (or this
   * tab has replaced it meanwhile). */
  async function confirmSessionEnded(): Promise<void> {
    const refused = streamToken;
    try {
      await call(api.GET("/api/v1/auth/me"));
    } catch {
      await tokenRefused(refused);
    }
  }

  const runner = new LiveRunner({
    timers: {
      setTimeout: (callback, ms) => setTimeout(callback, ms),
      clearTimeout: (id) => clearTimeout(id),
      setInterval: (callback, ms) => setInterval(callback, ms),
      clearInterval: (id) => clearInterval(id),
    },
    now: () => Date.now(),
    random: () => Math.random(),
    openSocket: () => {
      streamToken = token.value;
      return new WebSocket(
        streamUrl(window.location.origin, token.value ?? "", {
          sensors: options.sensors.value,
          devices: devices.value,
        }),
      );
    },
    poll: () => {
      if (options.poll !== false) void fetchLatest();
    },
    onState: (next) => (state.value = next),
    onPoints: addPoints,
    onNotification: options.onNotification,
    onSessionEnded: () => void confirmSessionEnded(),
  });

  const onOffline = () => runner.dispatch({ type: "network-lost" });
  const onOnline = () => runner.dispatch({ type: "network-back" });

  const socketKey = () => `${options.sensors.value.join(",")}|${devices.value.join(",")}`;
  const pollKey = () => pollSensors.value.join(",");

  watch(socketKey, () => {
    const keep = options.sensors.value.length > 0 ? options.sensors.value : pollSensors.value;
    buffer.retain(keep);
    for (const id of [...seeded]) if (!keep.includes(id)) seeded.delete(id);
    runner.restart();
    void fetchLatest();
    void seedHistory();
  });
  watch(pollKey, (_now, before) => {
    if (before !== undefined) void fetchLatest();
  });

  onMounted(() => {
    window.addEventListener("offline", onOffline);
    window.addEventListener("online", onOnline);
    runner.start();
    if (options.poll !== false) void fetchLatest();
    void seedHistory();
  });
  onBeforeUnmount(() => {
    window.removeEventListener("offline", onOffline);
    window.removeEventListener("online", onOnline);
    runner.stop();
  });

  return { state, latest, version, buffer, pollError };
}
