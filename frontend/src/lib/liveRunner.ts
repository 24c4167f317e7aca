/**
 * Carries out the live connection's effects. Everything it touches (timers, clock, the
 * socket factory, polling) is handed in, so it runs the same under fake timers in tests.
 */
import {
  CONNECT_TIMEOUT_MS,
  initialState,
  transition,
  type LiveEffect,
  type LiveEvent,
  type LiveState,
} from "./liveConnection";
import type { RuleNotification } from "./rules";
import { parseStreamMessage, type StreamPoint } from "./stream";

/** The part of `WebSocket` the runner uses. */
export interface SocketLike {
  onopen: ((event: Event) => void) | null;
  onmessage: ((event: MessageEvent) => void) | null;
  onclose: ((event: CloseEvent) => void) | null;
  onerror: ((event: Event) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export type TimerId = ReturnType<typeof setTimeout>;

export interface Timers {
  setTimeout(callback: () => void, ms: number): TimerId;
  clearTimeout(id: TimerId): void;
  setInterval(callback: () => void, ms: number): TimerId;
  clearInterval(id: TimerId): void;
}

export interface LiveRunnerDeps {
  timers: Timers;
  now(): number;
  random(): number;
  openSocket(): SocketLike;
  /** Fetch the latest values once (while the socket is unavailable). */
  poll(): void;
  onState(state: LiveState): void;
  onPoints(points: StreamPoint[]): void;
  /** A rule's notification pushed on the stream (optional: most views ignore them). */
  onNotification?(notification: RuleNotification): void;
  onSessionEnded(): void;
}

export class LiveRunner {
  private state: LiveState = initialState;
  private socket: SocketLike | null = null;
  private retryTimer: TimerId | null = null;
  private connectTimer: TimerId | null = null;
  private pollTimer: TimerId | null = null;
  private pingTimer: TimerId | null = null;

  constructor(private readonly deps: LiveRunnerDeps) {}

  get current(): LiveState {
    return this.state;
  }

  start(): void {
    this.dispatch({ type: "start" });
  }

  stop(): void {
    this.dispatch({ type: "stop" });
  }

  /** Reconnect from scratch, e.g. after the filter changed. */
  restart(): void {
    this.stop();
    this.start();
  }

  dispatch(event: LiveEvent): void {
    const { state, effects } = transition(this.state, event, {
      now: this.deps.now(),
      random: this.deps.random(),
    });
    const changed = state !== this.state;
    this.state = state;
    for (const effect of effects) this.perform(effect);
    if (changed) this.deps.onState(state);
  }

  private perform(effect: LiveEffect): void {
    const { timers } = this.deps;
    switch (effect.type) {
      case "open-socket":
        this.open();
        break;
      case "close-socket":
        this.closeSocket();
        break;
      case "schedule-retry":
        this.clearRetry();
        this.retryTimer = timers.setTimeout(() => {
          this.retryTimer = null;
          this.dispatch({ type: "retry-due" });
        }, effect.delayMs);
        break;
      case "cancel-retry":
        this.clearRetry();
        break;
      case "start-polling":
        this.stopPolling();
        this.deps.poll();
        this.pollTimer = timers.setInterval(() => this.deps.poll(), effect.intervalMs);
        break;
      case "stop-polling":
        this.stopPolling();
        break;
      case "start-ping":
        this.stopPing();
        this.pingTimer = timers.setInterval(() => this.send({ type: "ping" }), effect.intervalMs);
        break;
      case "stop-ping":
        this.stopPing();
        break;
      case "session-ended":
        this.deps.onSessionEnded();
        break;
    }
  }

  private open(): void {
    this.closeSocket();
    let socket: SocketLike;
    try {
      socket = this.deps.openSocket();
    } catch {
      // An invalid URL or a blocked socket is a failed attempt like any other.
      this.deps.timers.setTimeout(() => this.dispatch({ type: "socket-closed", code: 1006 }), 0);
      return;
    }
    this.socket = socket;
    this.connectTimer = this.deps.timers.setTimeout(() => {
      this.connectTimer = null;
      this.dispatch({ type: "connect-timeout" });
    }, CONNECT_TIMEOUT_MS);
    socket.onmessage = (event: MessageEvent) => {
      if (this.socket !== socket || typeof event.data !== "string") return;
      const message = parseStreamMessage(event.data);
      if (message === null) return;
      if (message.kind === "connected") {
        this.clearConnectTimer();
        this.dispatch({ type: "socket-connected" });
      } else if (message.kind === "batch" && message.points.length > 0) {
        this.deps.onPoints(message.points);
      } else if (message.kind === "notification") {
        this.deps.onNotification?.(message.notification);
      }
    };
    socket.onclose = (event: CloseEvent) => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.clearConnectTimer();
      this.dispatch({ type: "socket-closed", code: event.code });
    };
    socket.onerror = () => undefined;
  }

  private send(message: { type: string }): void {
    try {
      this.socket?.send(JSON.stringify(message));
    } catch {
      // A socket that cannot send is about to report its close.
    }
  }

  private closeSocket(): void {
    this.clearConnectTimer();
    const socket = this.socket;
    if (!socket) return;
    this.socket = null;
    socket.onopen = socket.onmessage = socket.onclose = socket.onerror = null;
    try {
      socket.close(1000, "client closed");
    } catch {
      // Already closed.
    }
  }

  private clearRetry(): void {
    if (this.retryTimer !== null) this.deps.timers.clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  private clearConnectTimer(): void {
    if (this.connectTimer !== null) this.deps.timers.clearTimeout(this.connectTimer);
    this.connectTimer = null;
  }

  private stopPolling(): void {
    if (this.pollTimer !== null) this.deps.timers.clearInterval(this.pollTimer);
    this.pollTimer = null;
  }

  private stopPing(): void {
    if (this.pingTimer !== null) this.deps.timers.clearInterval(this.pingTimer);
    this.pingTimer = null;
  }
}
