/**
 * The live connection's state machine, free of I/O: events in, the next state and the
 * effects to carry out come back. Time and randomness are passed in with each event.
 *
 * - The WebSocket is tried first; it counts as working only once `{"type":"connected"}`
 *   arrived. A socket that closes (or times out) before that is a failure.
 * - Reconnects back off from 1 s, doubling up to 30 s, with ±25 % jitter.
 * - After {@link POLL_AFTER_FAILURES} consecutive failures the latest values are polled
 *   every {@link POLL_INTERVAL_MS} while the socket keeps being retried; once the socket
 *   works again, polling stops.
 * - Close code 1008 means the cloud refused the token: the session has ended.
 */

export const BACKOFF_BASE_MS = 1_000;
export const BACKOFF_MAX_MS = 30_000;
export const BACKOFF_JITTER = 0.25;
export const POLL_AFTER_FAILURES = 3;
export const POLL_INTERVAL_MS = 1_500;
export const PING_INTERVAL_MS = 25_000;
export const CONNECT_TIMEOUT_MS = 10_000;
export const AUTH_CLOSE_CODE = 1008;

export type LiveStateName = "connecting" | "live" | "reconnecting" | "polling" | "offline";

export type OfflineReason = "stopped" | "auth" | "network";

export type LiveState =
  | { name: "connecting"; failures: number }
  | { name: "live"; since: number }
  /** Waiting `retryAt` (epoch ms) for the next socket attempt. */
  | { name: "reconnecting"; failures: number; retryAt: number }
  /** Polling; `retryAt` is null while a socket attempt is under way. */
  | { name: "polling"; failures: number; retryAt: number | null }
  | { name: "offline"; reason: OfflineReason };

export type LiveEvent =
  | { type: "start" }
  | { type: "stop" }
  | { type: "socket-connected" }
  | { type: "socket-closed"; code: number }
  | { type: "connect-timeout" }
  | { type: "retry-due" }
  | { type: "network-lost" }
  | { type: "network-back" };

export type LiveEffect =
  | { type: "open-socket" }
  | { type: "close-socket" }
  | { type: "schedule-retry"; delayMs: number }
  | { type: "cancel-retry" }
  | { type: "start-polling"; intervalMs: number }
  | { type: "stop-polling" }
  | { type: "start-ping"; intervalMs: number }
  | { type: "stop-ping" }
  | { type: "session-ended" };

export interface Transition {
  state: LiveState;
  effects: LiveEffect[];
}

export interface Clock {
  /** Epoch milliseconds. */
  now: number;
  /** A number in [0, 1). */
  random: number;
}

export const initialState: LiveState = { name: "offline", reason: "stopped" };

/** The wait before retry number `failures` (1-based): 1 s, 2 s, 4 s … 30 s, with jitter. */
export function backoffDelay(failures: number, random: number): number {
  const exponent = Math.max(0, failures - 1);
  const base = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** Math.min(exponent, 30));
  const jitter = 1 + BACKOFF_JITTER * (2 * random - 1);
  return Math.round(Math.min(BACKOFF_MAX_MS, base * jitter));
}

export function isPolling(state: LiveState): boolean {
  return state.name === "polling";
}

function shutdown(state: LiveState): LiveEffect[] {
  const effects: LiveEffect[] = [{ type: "close-socket" }, { type: "cancel-retry" }];
  if (state.name === "polling") effects.push({ type: "stop-polling" });
  if (state.name === "live") effects.push({ type: "stop-ping" });
  return effects;
}

function fail(state: LiveState, failures: number, clock: Clock): Transition {
  const delayMs = backoffDelay(failures, clock.random);
  const retryAt = clock.now + delayMs;
  const effects: LiveEffect[] = [{ type: "schedule-retry", delayMs }];
  if (failures >= POLL_AFTER_FAILURES) {
    if (state.name !== "polling") {
      effects.push({ type: "start-polling", intervalMs: POLL_INTERVAL_MS });
    }
    return { state: { name: "polling", failures, retryAt }, effects };
  }
  return { state: { name: "reconnecting", failures, retryAt }, effects };
}

function attempting(state: LiveState): boolean {
  return state.name === "connecting" || (state.name === "polling" && state.retryAt === null);
}

export function transition(state: LiveState, event: LiveEvent, clock: Clock): Transition {
  switch (event.type) {
    case "start":
      if (state.name !== "offline") return { state, effects: [] };
      return { state: { name: "connecting", failures: 0 }, effects: [{ type: "open-socket" }] };

    case "stop":
      if (state.name === "offline") return { state, effects: [] };
      return { state: { name: "offline", reason: "stopped" }, effects: shutdown(state) };

    case "network-lost":
      if (state.name === "offline") return { state, effects: [] };
      return { state: { name: "offline", reason: "network" }, effects: shutdown(state) };

    case "network-back":
      if (state.name !== "offline" || state.reason !== "network") return { state, effects: [] };
      return { state: { name: "connecting", failures: 0 }, effects: [{ type: "open-socket" }] };

    case "socket-connected": {
      if (!attempting(state)) return { state, effects: [] };
      const effects: LiveEffect[] = [];
      if (state.name === "polling") effects.push({ type: "stop-polling" });
      effects.push({ type: "start-ping", intervalMs: PING_INTERVAL_MS });
      return { state: { name: "live", since: clock.now }, effects };
    }

    case "socket-closed": {
      if (state.name === "offline") return { state, effects: [] };
      if (event.code === AUTH_CLOSE_CODE) {
        return {
          state: { name: "offline", reason: "auth" },
          effects: [...shutdown(state), { type: "session-ended" }],
        };
      }
      if (state.name === "live") {
        // The socket had worked: start over with the shortest wait.
        const next = fail(state, 1, clock);
        return { state: next.state, effects: [{ type: "stop-ping" }, ...next.effects] };
      }
      if (!attempting(state)) return { state, effects: [] };
      const failures = state.name === "connecting" || state.name === "polling" ? state.failures : 0;
      return fail(state, failures + 1, clock);
    }

    case "connect-timeout": {
      if (!attempting(state)) return { state, effects: [] };
      const failures = state.name === "connecting" || state.name === "polling" ? state.failures : 0;
      const next = fail(state, failures + 1, clock);
      return { state: next.state, effects: [{ type: "close-socket" }, ...next.effects] };
    }

    case "retry-due":
      if (state.name === "reconnecting") {
        return {
          state: { name: "connecting", failures: state.failures },
          effects: [{ type: "open-socket" }],
        };
      }
      if (state.name === "polling" && state.retryAt !== null) {
        return {
          state: { name: "polling", failures: state.failures, retryAt: null },
          effects: [{ type: "open-socket" }],
        };
      }
      return { state, effects: [] };
  }
}

/** The state in words, for the connection badge. */
export function describeState(state: LiveState, now: number): string {
  switch (state.name) {
    case "connecting":
      return state.failures === 0 ? "Connecting…" : "Reconnecting…";
    case "live":
      return "Live";
    case "reconnecting":
      return `Reconnecting in ${Math.max(1, Math.ceil((state.retryAt - now) / 1000))} s`;
    case "polling":
      return "Polling (socket unavailable)";
    case "offline":
      if (state.reason === "auth") return "Offline (session ended)";
      if (state.reason === "network") return "Offline (no network)";
      return "Offline";
  }
}
