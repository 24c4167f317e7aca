import type {
  WebhookAttempt,
  WebhookCreate,
  WebhookDelivery,
  WebhookDeliveryStatus,
  WebhookEvent,
} from "../api/types";

/** The cloud's limits (cloud/models/webhook.py). */
export const WEBHOOK_URL_MAX = 2048;
export const WEBHOOK_SECRET_MAX = 255;

/** Every event a webhook may subscribe to, in the cloud's order, with what it means. */
export const WEBHOOK_EVENT_TEXT: Record<WebhookEvent, string> = {
  "sensor.threshold_exceeded": "A rule fired",
  "sensor.reading": "Sensor readings (throttled)",
  "experiment.started": "Experiment started",
  "experiment.stopped": "Experiment stopped",
  "device.online": "Device online",
  "device.offline": "Device offline",
  "command.delivered": "Command delivered",
  "command.refused": "Command refused",
  "command.expired": "Command expired",
};

export const WEBHOOK_EVENTS = Object.keys(WEBHOOK_EVENT_TEXT) as WebhookEvent[];

/** The events in groups by what they are about (sensor, experiment, device, command). */
export function eventGroups(
  events: readonly WebhookEvent[] = WEBHOOK_EVENTS,
): { name: string; events: WebhookEvent[] }[] {
  const groups = new Map<string, WebhookEvent[]>();
  for (const event of events) {
    const name = event.split(".")[0] ?? event;
    groups.set(name, [...(groups.get(name) ?? []), event]);
  }
  return [...groups].map(([name, members]) => ({ name, events: members }));
}

export interface WebhookDraft {
  url: string;
  secret: string;
  events: readonly WebhookEvent[];
  enabled: boolean;
}

export type DraftCheck =
  | { ok: true; body: WebhookCreate }
  | { ok: false; field: "url" | "secret" | "events"; message: string };

/**
 * The create form checked as the cloud will check it, so the common mistakes are named before
 * a round trip. Whether the target's address is allowed is the cloud's call alone (its
 * allowlist), so a private address is left for it to refuse.
 */
export function checkWebhookDraft(draft: WebhookDraft): DraftCheck {
  const url = draft.url.trim();
  if (!url) return { ok: false, field: "url", message: "Enter the URL to send events to." };
  if (!/^https?:\/\//i.test(url)) {
    return { ok: false, field: "url", message: "The URL must start with http:// or https://." };
  }
  let host = "";
  try {
    host = new URL(url).hostname;
  } catch {
    host = "";
  }
  if (!host) return { ok: false, field: "url", message: "The URL has no valid host." };
  if (url.length > WEBHOOK_URL_MAX) {
    return {
      ok: false,
      field: "url",
      message: `The URL is longer than ${WEBHOOK_URL_MAX} characters.`,
    };
  }
  if (draft.secret.length > WEBHOOK_SECRET_MAX) {
    return {
      ok: false,
      field: "secret",
      message: `The secret is longer than ${WEBHOOK_SECRET_MAX} characters.`,
    };
  }
  if (draft.events.length === 0) {
    return { ok: false, field: "events", message: "Choose at least one event." };
  }
  const events = WEBHOOK_EVENTS.filter((e) => draft.events.includes(e));
  const body: WebhookCreate = { url, events, enabled: draft.enabled };
  if (draft.secret) body.secret = draft.secret;
  return { ok: true, body };
}

/** The badge class of a delivery's status. */
export function deliveryBadge(status: WebhookDeliveryStatus): string {
  if (status === "delivered") return "badge-ok";
  if (status === "pending") return "badge-pending";
  return "badge-danger";
}

export const DELIVERY_STATUS_LABEL: Record<WebhookDeliveryStatus, string> = {
  pending: "pending",
  delivered: "delivered",
  failed: "failed",
  dead_letter: "dead letter",
};

/** What each status means, shown as the badge's title. */
export const DELIVERY_STATUS_TEXT: Record<WebhookDeliveryStatus, string> = {
  pending: "Not delivered yet; tried again after a backoff.",
  delivered: "The target answered 2xx.",
  failed: "Not sent and not retried (the address is not allowed, or the webhook was disabled).",
  dead_letter: "Every try failed; send it again once the target works.",
};

/** `12 ms`, `1.5 s`, or `—` when there was no answer to time. */
export function formatLatency(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

/** One try in words: `#2 HTTP 500 · 34 ms`, `#1 timeout · 10.0 s`. */
export function attemptSummary(attempt: WebhookAttempt): string {
  const what =
    attempt.response_code !== null
      ? `HTTP ${attempt.response_code}`
      : attempt.outcome.replace("_", " ");
  const latency = attempt.latency_ms !== null ? ` · ${formatLatency(attempt.latency_ms)}` : "";
  return `#${attempt.attempt} ${what}${latency}`;
}

/** A dead-lettered or failed delivery can be sent again (the cloud refuses the others). */
export function canRedeliver(delivery: Pick<WebhookDelivery, "status">): boolean {
  return delivery.status === "dead_letter" || delivery.status === "failed";
}

/** Whether a delivery log still changes by itself (worth polling faster). */
export function hasPending(deliveries: readonly Pick<WebhookDelivery, "status">[]): boolean {
  return deliveries.some((d) => d.status === "pending");
}

/** The events of a webhook in words, for its row: `Device online, Device offline`. */
export function eventsText(events: readonly string[]): string {
  return events
    .map((e) => (e in WEBHOOK_EVENT_TEXT ? WEBHOOK_EVENT_TEXT[e as WebhookEvent] : e))
    .join(", ");
}
