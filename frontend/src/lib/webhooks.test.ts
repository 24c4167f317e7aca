import { describe, expect, it } from "vitest";
import type { WebhookAttempt } from "../api/types";
import {
  WEBHOOK_EVENTS,
  WEBHOOK_SECRET_MAX,
  WEBHOOK_URL_MAX,
  attemptSummary,
  canRedeliver,
  checkWebhookDraft,
  deliveryBadge,
  eventGroups,
  eventsText,
  formatLatency,
  hasPending,
} from "./webhooks";

const draft = {
  url: "https://hooks.example.com/in",
  secret: "",
  events: ["device.online"] as const,
  enabled: true,
};

function attempt(overrides: Partial<WebhookAttempt>): WebhookAttempt {
  return {
    attempt: 1,
    outcome: "delivered",
    response_code: 200,
    latency_ms: 12,
    error: null,
    started_on: "2026-12-02T10:00:00Z",
    ...overrides,
  };
}

describe("checkWebhookDraft", () => {
  it("builds the body, trimming the URL and keeping the cloud's event order", () => {
    const checked = checkWebhookDraft({
      ...draft,
      url: "  https://hooks.example.com/in ",
      events: ["device.offline", "sensor.reading"],
    });
    expect(checked).toEqual({
      ok: true,
      body: {
        url: "https://hooks.example.com/in",
        events: ["sensor.reading", "device.offline"],
        enabled: true,
      },
    });
  });

  it("sends a secret only when one is typed", () => {
    const checked = checkWebhookDraft({ ...draft, secret: "s" });
    expect(checked.ok && checked.body.secret).toBe("s");
  });

  it("names the field and the problem", () => {
    expect(checkWebhookDraft({ ...draft, url: " " })).toMatchObject({ ok: false, field: "url" });
    expect(checkWebhookDraft({ ...draft, url: "ftp://x" })).toMatchObject({
      field: "url",
      message: "The URL must start with http:// or https://.",
    });
    expect(checkWebhookDraft({ ...draft, url: "http://" })).toMatchObject({ field: "url" });
    expect(checkWebhookDraft({ ...draft, events: [] })).toMatchObject({
      field: "events",
      message: "Choose at least one event.",
    });
  });

  it("holds the cloud's limits at their edges", () => {
    const base = "https://a.example.com/";
    const longest = base + "a".repeat(WEBHOOK_URL_MAX - base.length);
    expect(checkWebhookDraft({ ...draft, url: longest }).ok).toBe(true);
    expect(checkWebhookDraft({ ...draft, url: longest + "a" })).toMatchObject({ field: "url" });
    expect(checkWebhookDraft({ ...draft, secret: "x".repeat(WEBHOOK_SECRET_MAX) }).ok).toBe(true);
    expect(
      checkWebhookDraft({ ...draft, secret: "x".repeat(WEBHOOK_SECRET_MAX + 1) }),
    ).toMatchObject({ field: "secret" });
  });

  it("leaves private addresses to the cloud (its allowlist decides)", () => {
    expect(checkWebhookDraft({ ...draft, url: "http://127.0.0.1:9000/" }).ok).toBe(true);
  });
});

describe("delivery display", () => {
  it("badges by status", () => {
    expect(deliveryBadge("delivered")).toBe("badge-ok");
    expect(deliveryBadge("pending")).toBe("badge-pending");
    expect(deliveryBadge("dead_letter")).toBe("badge-danger");
    expect(deliveryBadge("failed")).toBe("badge-danger");
  });

  it("formats latency", () => {
    expect(formatLatency(null)).toBe("—");
    expect(formatLatency(0)).toBe("0 ms");
    expect(formatLatency(999)).toBe("999 ms");
    expect(formatLatency(1000)).toBe("1.00 s");
    expect(formatLatency(12_345)).toBe("12.3 s");
  });

  it("summarises an attempt", () => {
    expect(attemptSummary(attempt({}))).toBe("#1 HTTP 200 · 12 ms");
    expect(
      attemptSummary(
        attempt({ attempt: 3, outcome: "timeout", response_code: null, latency_ms: 10_000 }),
      ),
    ).toBe("#3 timeout · 10.0 s");
    expect(
      attemptSummary(attempt({ outcome: "refused", response_code: null, latency_ms: null })),
    ).toBe("#1 refused");
    expect(
      attemptSummary(attempt({ outcome: "connection_error", response_code: null, latency_ms: 3 })),
    ).toBe("#1 connection error · 3 ms");
  });

  it("knows which deliveries can be sent again and which still change", () => {
    expect(canRedeliver({ status: "dead_letter" })).toBe(true);
    expect(canRedeliver({ status: "failed" })).toBe(true);
    expect(canRedeliver({ status: "delivered" })).toBe(false);
    expect(canRedeliver({ status: "pending" })).toBe(false);
    expect(hasPending([{ status: "delivered" }, { status: "pending" }])).toBe(true);
    expect(hasPending([{ status: "delivered" }])).toBe(false);
  });
});

describe("events", () => {
  it("groups every event by what it is about", () => {
    const groups = eventGroups();
    expect(groups.map((g) => g.name)).toEqual(["sensor", "experiment", "device", "command"]);
    expect(groups.flatMap((g) => g.events)).toEqual(WEBHOOK_EVENTS);
  });

  it("words a webhook's events, keeping unknown names as they are", () => {
    expect(eventsText(["device.online", "x.y"])).toBe("Device online, x.y");
  });
});
