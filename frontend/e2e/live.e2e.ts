// Scenario "live": choose the tank level sensor, the socket goes live, the value changes on
// screen and the chart's point count grows.
import { expect, test } from "vitest";
import {
  distinctTexts,
  env,
  firstNumber,
  loginAsRole,
  numericAttribute,
  browserPerFile,
  shot,
  waitForAttribute,
} from "./support";

const browser = browserPerFile();

test("live value and chart of a chosen sensor over the stream", async () => {
  const { page } = browser;
  const sensor = env("E2E_LEVEL_SENSOR");
  await page.goto("/fleet");
  await loginAsRole(page);
  await page.getByTestId("nav-live").click();
  await page.waitForURL((url) => url.pathname === "/live");

  const option = page.locator(`[data-testid="live-sensor-option"][data-sensor-id="${sensor}"]`);
  await option.check();
  // The choice is in the URL, so the view can be bookmarked and shared.
  await expect
    .poll(() => new URL(page.url()).searchParams.getAll("sensor"), { timeout: 5_000 })
    .toContain(sensor);

  const state = page.getByTestId("connection-state");
  await waitForAttribute(state, "data-state", "live", 15_000);
  expect(await state.textContent()).toMatch(/live/i);

  const value = page.locator(`[data-testid="live-value"][data-sensor-id="${sensor}"]`);
  const seen = await distinctTexts(value, 3, 10_000);
  for (const text of seen) expect(firstNumber(text)).not.toBeNaN();

  const chart = page.getByTestId("live-chart");
  await waitForAttribute(chart, "data-painted", "true");
  const before = await numericAttribute(chart, "data-points");
  expect(before).toBeGreaterThan(0);
  await expect
    .poll(() => numericAttribute(chart, "data-points"), { timeout: 8_000 })
    .toBeGreaterThan(before + 2);
  await shot(page, "live");

  // A reload (or a shared link) restores the same view.
  await page.reload();
  await expect.poll(() => option.isChecked()).toBe(true);
  await waitForAttribute(state, "data-state", "live", 15_000);
  await distinctTexts(value, 2, 10_000);

  expect(browser.pageErrors).toEqual([]);
});
