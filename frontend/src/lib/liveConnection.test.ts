import { describe, expect, it } from "vitest";
import {
  BACKOFF_MAX_MS,
  backoffDelay,
  describeState,
  initialState,
  transition,
  type LiveEffect,
  type LiveEvent,
  type LiveState,
} from "./liveConnection";

const clock = { now: 1_000_000, random: 0.5 };

function run(events: LiveEvent[], from: LiveState = initialState) {
  let state = from;
  const effects: LiveEffect[][] = [];
  for (const event of events) {
    const next = transition(state, event, clock);
    state = next.state;
    effects.push(next.effects);
  }
  return { state, effects };
}

const closed = (code = 1006): LiveEvent => ({ type: "socket-closed", code });
const types = (effects: LiveEffect[] | undefined) => (effects ?? []).map((e) => e.type);

describe("backoffDelay", () => {
  it("starts at 1 s and doubles up to 30 s", () => {
    expect([1, 2, 3, 4, 5, 6, 7, 20].map((n) => backoffDelay(n, 0.5))).toEqual([
      1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000,
    ]);
  });

  it("adds up to ±25 % jitter and never exceeds 30 s", () => {
    expect(backoffDelay(1, 0)).toBe(750);
    expect(backoffDelay(1, 0.999999)).toBe(1250);
    expect(backoffDelay(10, 0.999999)).toBe(BACKOFF_MAX_MS);
    expect(backoffDelay(10, 0)).toBe(22500);
  });
});

describe("transition", () => {
  it("opens the socket on start and goes live only on connected", () => {
    const { state, effects } = run([{ type: "start" }]);
    expect(state).toEqual({ name: "connecting", failures: 0 });
    expect(types(effects[0])).toEqual(["open-socket"]);
    const live = transition(state, { type: "socket-connected" }, clock);
    expect(live.state.name).toBe("live");
    expect(types(live.effects)).toEqual(["start-ping"]);
  });

  it("counts a socket closing before connected as a failure and backs off", () => {
    const { state, effects } = run([{ type: "start" }, closed()]);
    expect(state).toEqual({ name: "reconnecting", failures: 1, retryAt: clock.now + 1000 });
    expect(effects[1]).toEqual([{ type: "schedule-retry", delayMs: 1000 }]);
    expect(describeState(state, clock.now)).toBe("Reconnecting in 1 s");
  });

  it("falls back to polling after 3 consecutive failures and keeps retrying", () => {
    const { state, effects } = run([
      { type: "start" },
      closed(),
      { type: "retry-due" },
      closed(),
      { type: "retry-due" },
      closed(),
    ]);
    expect(state).toEqual({ name: "polling", failures: 3, retryAt: clock.now + 4000 });
    expect(effects[5]).toEqual([
      { type: "schedule-retry", delayMs: 4000 },
      { type: "start-polling", intervalMs: 1500 },
    ]);
    expect(describeState(state, clock.now)).toBe("Polling (socket unavailable)");

    // The socket is still retried; polling is started only once.
    const retry = transition(state, { type: "retry-due" }, clock);
    expect(retry.state).toEqual({ name: "polling", failures: 3, retryAt: null });
    expect(types(retry.effects)).toEqual(["open-socket"]);
    const again = transition(retry.state, closed(), clock);
    expect(again.state).toEqual({ name: "polling", failures: 4, retryAt: clock.now + 8000 });
    expect(types(again.effects)).toEqual(["schedule-retry"]);
  });

  it("stops polling once the socket works again", () => {
    const polling: LiveState = { name: "polling", failures: 5, retryAt: null };
    const { state, effects } = transition(polling, { type: "socket-connected" }, clock);
    expect(state).toEqual({ name: "live", since: clock.now });
    expect(types(effects)).toEqual(["stop-polling", "start-ping"]);
  });

  it("starts over at 1 s when a working socket drops", () => {
    const live: LiveState = { name: "live", since: 0 };
    const { state, effects } = transition(live, closed(1011), clock);
    expect(state).toEqual({ name: "reconnecting", failures: 1, retryAt: clock.now + 1000 });
    expect(types(effects)).toEqual(["stop-ping", "schedule-retry"]);
  });

  it("ends the session on close code 1008", () => {
    const live: LiveState = { name: "live", since: 0 };
    const { state, effects } = transition(live, closed(1008), clock);
    expect(state).toEqual({ name: "offline", reason: "auth" });
    expect(types(effects)).toContain("session-ended");
    expect(types(effects)).toContain("stop-ping");
    const polling: LiveState = { name: "polling", failures: 3, retryAt: null };
    expect(types(transition(polling, closed(1008), clock).effects)).toEqual([
      "close-socket",
      "cancel-retry",
      "stop-polling",
      "session-ended",
    ]);
  });

  it("treats a connect timeout as a failure and closes the socket", () => {
    const { state, effects } = run([{ type: "start" }, { type: "connect-timeout" }]);
    expect(state.name).toBe("reconnecting");
    expect(types(effects[1])).toEqual(["close-socket", "schedule-retry"]);
  });

  it("ignores events that do not apply", () => {
    const waiting: LiveState = { name: "reconnecting", failures: 1, retryAt: 5 };
    expect(transition(waiting, closed(), clock)).toEqual({ state: waiting, effects: [] });
    expect(transition(waiting, { type: "socket-connected" }, clock).effects).toEqual([]);
    const live: LiveState = { name: "live", since: 0 };
    expect(transition(live, { type: "retry-due" }, clock).effects).toEqual([]);
    expect(transition(initialState, closed(), clock).effects).toEqual([]);
  });

  it("stops everything on stop, and goes offline without network", () => {
    const polling: LiveState = { name: "polling", failures: 3, retryAt: 10 };
    const stopped = transition(polling, { type: "stop" }, clock);
    expect(stopped.state).toEqual({ name: "offline", reason: "stopped" });
    expect(types(stopped.effects)).toEqual(["close-socket", "cancel-retry", "stop-polling"]);
    const lost = transition({ name: "live", since: 0 }, { type: "network-lost" }, clock);
    expect(lost.state).toEqual({ name: "offline", reason: "network" });
    expect(describeState(lost.state, 0)).toBe("Offline (no network)");
    const back = transition(lost.state, { type: "network-back" }, clock);
    expect(back.state).toEqual({ name: "connecting", failures: 0 });
    expect(types(back.effects)).toEqual(["open-socket"]);
  });
});
