import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { LiveState } from "./liveConnection";
import { LiveRunner, type SocketLike } from "./liveRunner";
import type { StreamPoint } from "./stream";

class FakeSocket implements SocketLike {
  onopen: ((event: Event) => void) | null = null;
  onmessage: ((event: MessageEvent) => void) | null = null;
  onclose: ((event: CloseEvent) => void) | null = null;
  onerror: ((event: Event) => void) | null = null;
  sent: string[] = [];
  closed = false;
  send(data: string) {
    this.sent.push(data);
  }
  close() {
    this.closed = true;
  }
  receive(data: unknown) {
    this.onmessage?.({ data: JSON.stringify(data) } as MessageEvent);
  }
  drop(code = 1006) {
    this.onclose?.({ code } as CloseEvent);
  }
}

function setup() {
  const sockets: FakeSocket[] = [];
  const states: LiveState[] = [];
  const points: StreamPoint[] = [];
  const poll = vi.fn();
  const ended = vi.fn();
  const runner = new LiveRunner({
    timers: {
      setTimeout: (cb, ms) => setTimeout(cb, ms),
      clearTimeout: (id) => clearTimeout(id),
      setInterval: (cb, ms) => setInterval(cb, ms),
      clearInterval: (id) => clearInterval(id),
    },
    now: () => Date.now(),
    random: () => 0.5,
    openSocket: () => {
      const socket = new FakeSocket();
      sockets.push(socket);
      return socket;
    },
    poll,
    onState: (state) => states.push(state),
    onPoints: (batch) => points.push(...batch),
    onSessionEnded: ended,
  });
  const last = () => sockets[sockets.length - 1] as FakeSocket;
  return { runner, sockets, states, points, poll, ended, last };
}

describe("LiveRunner", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("goes live on connected, forwards batches and pings every 25 s", () => {
    const { runner, last, points } = setup();
    runner.start();
    expect(runner.current.name).toBe("connecting");
    last().receive({ type: "connected", message: "hi" });
    expect(runner.current.name).toBe("live");
    last().receive({
      type: "datapoints_batch",
      datapoints: [
        { value: 1.5, event_public_id: "s1", timestamp: "2026-01-01T00:00:00Z" },
        { value: "bad", event_public_id: "s1", timestamp: "2026-01-01T00:00:00Z" },
      ],
    });
    last().onmessage?.({ data: "not json" } as MessageEvent);
    expect(points).toEqual([{ sensorId: "s1", value: 1.5, t: Date.parse("2026-01-01T00:00:00Z") }]);
    vi.advanceTimersByTime(25_000);
    expect(last().sent).toEqual(['{"type":"ping"}']);
  });

  it("polls every 1.5 s after three failures and stops when the socket is back", () => {
    const { runner, sockets, last, poll } = setup();
    runner.start();
    last().drop(); // failure 1, retry in 1 s
    vi.advanceTimersByTime(1000);
    last().drop(); // failure 2, retry in 2 s
    vi.advanceTimersByTime(2000);
    expect(poll).not.toHaveBeenCalled();
    last().drop(); // failure 3: polling
    expect(runner.current.name).toBe("polling");
    expect(poll).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(3000);
    expect(poll).toHaveBeenCalledTimes(3);
    vi.advanceTimersByTime(1000); // the 4 s retry opens a socket
    expect(sockets).toHaveLength(4);
    last().receive({ type: "connected" });
    expect(runner.current.name).toBe("live");
    const calls = poll.mock.calls.length;
    vi.advanceTimersByTime(10_000);
    expect(poll).toHaveBeenCalledTimes(calls);
  });

  it("times out a socket that never says connected", () => {
    const { runner, last } = setup();
    runner.start();
    const first = last();
    vi.advanceTimersByTime(10_000);
    expect(first.closed).toBe(true);
    expect(runner.current.name).toBe("reconnecting");
  });

  it("reports the session ended on 1008 and stops", () => {
    const { runner, last, ended, sockets } = setup();
    runner.start();
    last().receive({ type: "connected" });
    last().drop(1008);
    expect(ended).toHaveBeenCalledOnce();
    expect(runner.current).toEqual({ name: "offline", reason: "auth" });
    vi.advanceTimersByTime(60_000);
    expect(sockets).toHaveLength(1);
  });

  it("ignores a replaced socket's late close", () => {
    const { runner, last, sockets } = setup();
    runner.start();
    const old = last();
    runner.restart();
    old.drop();
    expect(sockets).toHaveLength(2);
    expect(runner.current.name).toBe("connecting");
  });
});
