/** Messages of the cloud's live stream (`/ws/datapoints/stream`), checked before use. */
import type { RuleNotification } from "./rules";

export interface StreamPoint {
  sensorId: string;
  value: number;
  /** Epoch milliseconds. */
  t: number;
}

export type StreamMessage =
  | { kind: "connected" }
  | { kind: "pong" }
  | { kind: "batch"; points: StreamPoint[] }
  | { kind: "error"; message: string }
  | { kind: "notification"; notification: RuleNotification };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function parsePoint(raw: unknown): StreamPoint | null {
  if (!isRecord(raw)) return null;
  const { value, event_public_id: sensorId, timestamp } = raw;
  if (typeof value !== "number" || !Number.isFinite(value)) return null;
  if (typeof sensorId !== "string" || sensorId === "") return null;
  if (typeof timestamp !== "string") return null;
  const t = Date.parse(timestamp);
  if (Number.isNaN(t)) return null;
  return { sensorId, value, t };
}

/** A rule's `{"type":"notification", ...}` (see cloud/rules/actions.py); null if malformed. */
function parseNotification(raw: Record<string, unknown>): RuleNotification | null {
  const { message, rule_public_id, rule_name, event_public_id, value, timestamp } = raw;
  if (typeof message !== "string" || typeof rule_public_id !== "string") return null;
  if (typeof rule_name !== "string" || typeof event_public_id !== "string") return null;
  if (typeof value !== "number" || typeof timestamp !== "string") return null;
  const t = Date.parse(timestamp);
  if (Number.isNaN(t)) return null;
  return {
    message,
    ruleId: rule_public_id,
    ruleName: rule_name,
    sensorId: event_public_id,
    value,
    t,
  };
}

/** Parse one text frame; null for anything malformed or unknown (it is ignored). */
export function parseStreamMessage(text: string): StreamMessage | null {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return null;
  }
  if (!isRecord(raw)) return null;
  switch (raw.type) {
    case "connected":
      return { kind: "connected" };
    case "pong":
      return { kind: "pong" };
    case "error":
      return { kind: "error", message: typeof raw.message === "string" ? raw.message : "error" };
    case "datapoints_batch": {
      if (!Array.isArray(raw.datapoints)) return null;
      const points: StreamPoint[] = [];
      for (const item of raw.datapoints) {
        const point = parsePoint(item);
        if (point) points.push(point);
      }
      return { kind: "batch", points };
    }
    case "notification": {
      const notification = parseNotification(raw);
      return notification ? { kind: "notification", notification } : null;
    }
    default:
      return null;
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** True for a UUID; the stream refuses (1008) any filter that is not one. */
export function isUuid(value: string): boolean {
  return UUID.test(value);
}

/** The stream's URL (same origin; ws or wss after the page's scheme). */
export function streamUrl(
  origin: string,
  token: string,
  filter: { sensors: readonly string[]; devices: readonly string[] },
): string {
  const url = new URL("/ws/datapoints/stream", origin);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  url.searchParams.set("token", token);
  for (const sensor of filter.sensors.filter(isUuid)) url.searchParams.append("sensor", sensor);
  for (const device of filter.devices.filter(isUuid)) url.searchParams.append("device_id", device);
  return url.toString();
}
