import { describe, expect, it } from "vitest";
import { parseStreamMessage, streamUrl } from "./stream";

describe("parseStreamMessage", () => {
  it("reads connected, pong and batches", () => {
    expect(parseStreamMessage('{"type":"connected","message":"x"}')).toEqual({ kind: "connected" });
    expect(parseStreamMessage('{"type":"pong"}')).toEqual({ kind: "pong" });
    const batch = parseStreamMessage(
      JSON.stringify({
        type: "datapoints_batch",
        datapoints: [
          {
            value: 2,
            event_public_id: "a",
            timestamp: "2026-03-01T10:00:00.5Z",
            experiment_public_id: null,
          },
        ],
      }),
    );
    expect(batch).toEqual({
      kind: "batch",
      points: [{ sensorId: "a", value: 2, t: Date.parse("2026-03-01T10:00:00.5Z") }],
    });
  });

  it("ignores malformed messages and points", () => {
    expect(parseStreamMessage("{")).toBeNull();
    expect(parseStreamMessage("[]")).toBeNull();
    expect(parseStreamMessage('{"type":"other"}')).toBeNull();
    expect(parseStreamMessage('{"type":"datapoints_batch","datapoints":{}}')).toBeNull();
    const bad = parseStreamMessage(
      JSON.stringify({
        type: "datapoints_batch",
        datapoints: [
          null,
          { value: null, event_public_id: "a", timestamp: "2026-03-01T10:00:00Z" },
          { value: 1, event_public_id: 3, timestamp: "2026-03-01T10:00:00Z" },
          { value: 1, event_public_id: "a", timestamp: "yesterday" },
          { value: 1, event_public_id: "a", timestamp: "2026-03-01T10:00:00Z" },
        ],
      }),
    );
    expect(bad).toEqual({
      kind: "batch",
      points: [{ sensorId: "a", value: 1, t: Date.parse("2026-03-01T10:00:00Z") }],
    });
  });
});

describe("streamUrl", () => {
  it("derives ws/wss from the page and repeats filters", () => {
    const s1 = "59814ef5-9a8e-4ee6-a6ea-e06f7348d1ac";
    const d = "16bf9674-beec-4af8-8580-973cb72f2de9";
    expect(streamUrl("http://h:5173", "t k", { sensors: [s1, "nope"], devices: [d] })).toBe(
      `ws://h:5173/ws/datapoints/stream?token=t+k&sensor=${s1}&device_id=${d}`,
    );
    expect(streamUrl("https://cloud.example", "t", { sensors: [], devices: [] })).toBe(
      "wss://cloud.example/ws/datapoints/stream?token=t",
    );
  });
});
