// Scenario "fallback": with the live socket blocked, the live page falls back to polling
// /api/v1/datapoints/latest and keeps the value moving; unblocked, it goes live again.
import { expect, test } from "vitest";
import type { WebSocketRoute } from "playwright-core";
import { distinctTexts, env, loginAsRole, browserPerFile, shot, waitForAttribute } from "./support";

const browser = browserPerFile();

test("blocked socket → polling with moving values → live again", async () => {
  const { page } = browser;
  const sensor = env("E2E_LEVEL_SENSOR");
  let blocked = true;
  let refused = 0;
  await page.routeWebSocket(/\/ws\/datapoints\/stream/, (ws: WebSocketRoute) => {
    if (blocked) {
      refused += 1;
      void ws.close({ code: 1011, reason: "blocked by the test" });
    } else {
      ws.connectToServer();
    }
  });
  const polls: string[] = [];
  // Counted as they are answered: a poll in flight when counting starts shows its value after.
  page.on("response", (response) => {
    if (new URL(response.url()).pathname === "/api/v1/datapoints/latest") {
      polls.push(response.url());
    }
  });

  await page.goto(`/live?sensor=${sensor}`);
  await loginAsRole(page);
  await page.waitForURL((url) => url.pathname === "/live");

  const state = page.getByTestId("connection-state");
  // Backoff 1 s, 2 s, ... with jitter: the third failure comes within about 8 s.
  await waitForAttribute(state, "data-state", "polling", 25_000);
  expect(await state.textContent()).toMatch(/poll/i);
  expect(refused).toBeGreaterThanOrEqual(3);

  const value = page.locator(`[data-testid="live-value"][data-sensor-id="${sensor}"]`);
  const pollsBefore = polls.length;
  // Three readings (not the "no value yet" placeholder): two of them came with answers to
  // polls counted from here.
  await distinctTexts(value, 3, 10_000, (text) => /\d/.test(text));
  expect(polls.length - pollsBefore).toBeGreaterThanOrEqual(2);
  expect(polls.some((url) => new URL(url).searchParams.getAll("sensor").includes(sensor))).toBe(
    true,
  );
  await shot(page, "polling");

  // The socket works again: the page returns to live and stops polling.
  blocked = false;
  await waitForAttribute(state, "data-state", "live", 45_000);
  await page.waitForTimeout(500); // let a poll already in flight finish
  const pollsAtLive = polls.length;
  await distinctTexts(value, 2, 10_000);
  await page.waitForTimeout(3_500); // more than two polling periods (1.5 s)
  expect(polls.length, "polling continued after the socket came back").toBe(pollsAtLive);
  await shot(page, "live-again");

  expect(browser.pageErrors).toEqual([]);
});
