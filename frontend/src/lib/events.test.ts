import { describe, expect, it } from "vitest";
import type { LogEntry } from "../api/types";
import {
  DEFAULT_EVENT_FILTER,
  eventQuery,
  loggingBadge,
  markAllQuery,
  newestOf,
  sourceLabel,
  unreadCount,
  withStatus,
} from "./events";

function entry(overrides: Partial<LogEntry>): LogEntry {
  return {
    public_id: "00000000-0000-4000-8000-000000000001",
    content: "Device 'a' is online",
    logging_type: "info",
    status_type: "unread",
    created_on: "2026-01-01T10:00:00Z",
    user_public_id: null,
    username: null,
    source: "device",
    kind: "device.online",
    device_id: null,
    ...overrides,
  };
}

describe("eventQuery", () => {
  it("asks for everything by default", () => {
    expect(eventQuery(DEFAULT_EVENT_FILTER)).toEqual({ page: 1, page_size: 100 });
  });
  it("narrows by type and unread", () => {
    expect(eventQuery({ loggingType: "error", unreadOnly: true }, 10)).toEqual({
      page: 1,
      page_size: 10,
      logging_type: "error",
      status_type: "unread",
    });
  });
});

describe("markAllQuery", () => {
  it("stops at the newest entry shown", () => {
    const shown = [
      entry({ created_on: "2026-01-01T10:00:00Z" }),
      entry({ created_on: "2026-01-01T12:00:00+00:00" }),
      entry({ created_on: "2026-01-01T11:00:00Z" }),
    ];
    expect(markAllQuery({ loggingType: "warning", unreadOnly: true }, shown)).toEqual({
      logging_type: "warning",
      to_date: "2026-01-01T12:00:00+00:00",
    });
  });
  it("sends no bound when nothing is shown", () => {
    expect(markAllQuery(DEFAULT_EVENT_FILTER, [])).toEqual({});
    expect(newestOf([])).toBeNull();
  });
});

describe("entries", () => {
  it("counts the unread ones", () => {
    expect(unreadCount([entry({}), entry({ status_type: "read" }), entry({})])).toBe(2);
  });
  it("marks a copy, leaving the original", () => {
    const original = entry({});
    expect(withStatus(original, "read").status_type).toBe("read");
    expect(original.status_type).toBe("unread");
  });
  it("names sources and colours severities", () => {
    expect(sourceLabel("manual")).toBe("Note");
    expect(sourceLabel("rule")).toBe("Rule");
    expect(sourceLabel("token")).toBe("API token");
    expect(sourceLabel("firmware")).toBe("firmware");
    expect(loggingBadge("error")).toBe("badge-danger");
    expect(loggingBadge("warning")).toBe("badge-delivered");
    expect(loggingBadge("info")).toBe("badge-muted");
  });
});
