// The browser half of tests/bench/bench_dashboard.py (run it through that; it owns the stack).
// E2E_BENCH_MODE=history: navigation → first chart paint on the history page, against the
// same navigation's first contentful paint and the bare /api/v1/datapoints request.
// E2E_BENCH_MODE=live: frame times and value changes on the live page, idle and under load.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import type { Page } from "playwright-core";
import { TOKEN_KEY, env, openBrowser, outputDir, signal, waitForAnswer } from "../support";
import type { Browser } from "../support";

const mode = process.env.E2E_BENCH_MODE ?? "";
let browser: Browser;

beforeAll(async () => {
  if (!mode) return;
  browser = await openBrowser();
  // Signed in before the first byte, so the timings are the page's, not the login form's.
  await browser.context.addInitScript(
    ([key, token]) => {
      if (location.protocol.startsWith("http")) localStorage.setItem(key, token);
    },
    [TOKEN_KEY, env("E2E_TOKEN")] as const,
  );
});

afterAll(async () => {
  await browser?.close();
});

function save(name: string, data: unknown): void {
  writeFileSync(join(outputDir(), name), JSON.stringify(data, null, 2));
}

interface HistoryRun {
  fcp: number;
  painted: number;
  pageRequest: number;
  bareRequest: number;
  points: number;
  requests: string[];
}

async function historyRun(page: Page, path: string): Promise<HistoryRun> {
  const requests: string[] = [];
  page.on("request", (r) => {
    if (new URL(r.url()).pathname === "/api/v1/datapoints") requests.push(r.url());
  });
  await page.goto(path);
  await page.waitForFunction(
    () => performance.getEntriesByName("revlink:chart-painted").length > 0,
    undefined,
    { timeout: 60_000, polling: 50 },
  );
  const timings = await page.evaluate(() => {
    const painted = performance.getEntriesByName("revlink:chart-painted")[0]?.startTime ?? NaN;
    const fcp = performance.getEntriesByName("first-contentful-paint")[0]?.startTime ?? NaN;
    const api = performance
      .getEntriesByType("resource")
      .filter((e) => new URL(e.name).pathname === "/api/v1/datapoints")
      .map((e) => (e as PerformanceResourceTiming).responseEnd - e.startTime);
    return { painted, fcp, pageRequest: api[0] ?? NaN };
  });
  const points = Number(await page.getByTestId("history-chart").getAttribute("data-points"));
  // The same request the page made, alone: fetch + JSON parse, timed in the page.
  const url = requests[0];
  expect(url, "the history page did not call /api/v1/datapoints").toBeTruthy();
  const bareRequest = await page.evaluate(
    async ([u, key]) => {
      const began = performance.now();
      const reply = await fetch(u, {
        headers: { Authorization: `Bearer ${localStorage.getItem(key)}` },
      });
      await reply.json();
      return performance.now() - began;
    },
    [url ?? "", TOKEN_KEY] as const,
  );
  return { ...timings, bareRequest, points, requests };
}

test.runIf(mode === "history")(
  "history: navigation to first chart paint",
  async () => {
    const runs = Number(env("E2E_BENCH_RUNS"));
    const path = env("E2E_HISTORY_PATH");
    const results: HistoryRun[] = [];
    for (let i = 0; i < runs + 1; i += 1) {
      const page = await browser.context.newPage();
      const run = await historyRun(page, path);
      await page.close();
      if (i > 0) results.push(run); // the first run warms the HTTP cache and the cloud
    }
    save("history.json", results);
    expect(browser.pageErrors).toEqual([]);
  },
  300_000,
);

interface Phase {
  frames: number[];
  changes: number;
  socketPoints: number;
  seconds: number;
}

test.runIf(mode === "live")(
  "live: frame times and dropped updates, idle vs loaded",
  async () => {
    const seconds = Number(env("E2E_BENCH_SECONDS"));
    const sensors = env("E2E_SENSORS").split(",");
    const page = browser.page;
    let socketPoints = 0;
    const watched = new Set(sensors);
    page.on("websocket", (ws) => {
      if (!ws.url().includes("/ws/datapoints/stream")) return;
      ws.on("framereceived", ({ payload }) => {
        if (typeof payload !== "string") return;
        const frame = JSON.parse(payload) as {
          type?: string;
          datapoints?: { event_public_id: string }[];
        };
        if (frame.type !== "datapoints_batch") return;
        for (const p of frame.datapoints ?? []) if (watched.has(p.event_public_id)) socketPoints++;
      });
    });
    await page.goto(`/live?${sensors.map((s) => `sensor=${s}`).join("&")}`);
    await expect
      .poll(() => page.getByTestId("connection-state").getAttribute("data-state"), {
        timeout: 20_000,
      })
      .toBe("live");
    await expect
      .poll(() => page.getByTestId("live-value").count(), { timeout: 20_000 })
      .toBe(sensors.length);
    await page.waitForTimeout(1_000);

    // In the page: rAF deltas and text changes of the live values, from start() to stop().
    await page.evaluate(() => {
      const w = window as unknown as Record<string, unknown>;
      const state = { frames: [] as number[], changes: 0, running: false, last: 0 };
      w.__bench = state;
      const tick = (t: number) => {
        if (state.running && state.last) state.frames.push(t - state.last);
        state.last = t;
        requestAnimationFrame(tick);
      };
      requestAnimationFrame(tick);
      const texts = new Map<Element, string>();
      const values = document.querySelectorAll('[data-testid="live-value"]');
      values.forEach((el) => texts.set(el, el.textContent ?? ""));
      const observer = new MutationObserver((records) => {
        const touched = new Set<Element>();
        for (const r of records) {
          let node: Node | null = r.target;
          while (node && !(node instanceof Element && texts.has(node))) node = node.parentNode;
          if (node) touched.add(node as Element);
        }
        for (const el of touched) {
          const text = el.textContent ?? "";
          if (text !== texts.get(el)) {
            texts.set(el, text);
            if (state.running) state.changes += 1;
          }
        }
      });
      values.forEach((el) =>
        observer.observe(el, { subtree: true, childList: true, characterData: true }),
      );
    });

    const measure = async (during: () => Promise<void>): Promise<Phase> => {
      const socketBefore = socketPoints;
      await page.evaluate(() => {
        const s = (window as unknown as { __bench: { running: boolean; last: number } }).__bench;
        s.last = 0;
        s.running = true;
      });
      const began = Date.now();
      await during();
      const result = await page.evaluate(() => {
        const s = (
          window as unknown as {
            __bench: { running: boolean; frames: number[]; changes: number };
          }
        ).__bench;
        s.running = false;
        const out = { frames: s.frames, changes: s.changes };
        s.frames = [];
        s.changes = 0;
        return out;
      });
      return {
        ...result,
        socketPoints: socketPoints - socketBefore,
        seconds: (Date.now() - began) / 1000,
      };
    };

    const idle = await measure(() => page.waitForTimeout(seconds * 1000));
    let sent: unknown = null;
    const loaded = await measure(async () => {
      signal("load-start");
      sent = await waitForAnswer("load-start", (seconds + 60) * 1000);
      await page.waitForTimeout(2_000); // the last updates on their way
    });
    save("live.json", { idle, loaded, sent });
    expect(browser.pageErrors).toEqual([]);
  },
  3_600_000,
);
